/** What every bench report records about where it ran: the commit and the machine. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { repoRoot } from './paths.js';

/** The checked-out commit of `root` (short hash, `+dirty` with uncommitted changes); `unknown` outside git. */
export function gitCommit(root: string = repoRoot()): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

/** The machine a bench ran on, with its load average at the start (given) and now. */
export function machineFacts(load_average_start: number[]) {
  return {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    load_average_start,
    load_average_end: loadavg(),
  };
}
