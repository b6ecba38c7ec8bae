/** Process, file and port helpers (Linux: uses /proc). */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { HOST } from './components.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeout_ms?: number;
  uid?: number;
  gid?: number;
  /** Append stdout/stderr to this file as well. */
  log_file?: string;
  input?: string;
  /** Called with every chunk of stdout/stderr (e.g. to count `go build -v` lines for progress). */
  on_output?: (chunk: string) => void;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  override name = 'ExecError';
  constructor(
    message: string,
    readonly result: ExecResult,
  ) {
    super(message);
  }
}

const MAX_CAPTURE = 256 * 1024;

/** Runs a command to completion (no shell). Rejects on a non-zero exit, a signal or the timeout. */
export function exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const logFd = opts.log_file ? openLog(opts.log_file) : null;
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      uid: opts.uid,
      gid: opts.gid,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const onData = (which: 'out' | 'err') => (buf: Buffer) => {
      if (logFd !== null) writeSync(logFd, buf);
      const s = buf.toString('utf8');
      opts.on_output?.(s);
      if (which === 'out') stdout = (stdout + s).slice(-MAX_CAPTURE);
      else stderr = (stderr + s).slice(-MAX_CAPTURE);
    };
    child.stdout?.on('data', onData('out'));
    child.stderr?.on('data', onData('err'));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    let timedOut = false;
    const timer =
      opts.timeout_ms !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeout_ms)
        : null;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      if (logFd !== null) closeSync(logFd);
      reject(new ExecError(`${cmd}: ${err.message}`, { code: null, signal: null, stdout, stderr }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (logFd !== null) closeSync(logFd);
      const result = { code, signal, stdout, stderr };
      if (timedOut) reject(new ExecError(`${cmd} ${args.join(' ')} timed out after ${opts.timeout_ms} ms`, result));
      else if (code !== 0) {
        const tail = (stderr || stdout).trim().split('\n').slice(-30).join('\n');
        reject(new ExecError(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})${tail ? `:\n${tail}` : ''}`, result));
      } else resolvePromise(result);
    });
  });
}

/** Is `cmd` runnable (found on PATH or as a path)? */
export function commandExists(cmd: string): boolean {
  if (cmd.includes('/')) return existsSync(cmd);
  return spawnSync('sh', ['-c', 'command -v -- "$1" >/dev/null', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

function openLog(file: string): number {
  mkdirSync(dirname(file), { recursive: true });
  return openSync(file, 'a');
}

export interface DetachedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  log_file: string;
}

/**
 * Starts a long-running process in its own session/process group, stdout+stderr appended to the log file,
 * not tied to this Node process (it survives the CLI exiting). Returns its pid.
 */
export function spawnDetached(cmd: string, args: string[], opts: DetachedOptions): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const fd = openLog(opts.log_file);
    writeSync(fd, `\n===== ${new Date().toISOString()} tidemark: starting ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      uid: opts.uid,
      gid: opts.gid,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    child.once('error', (err) => reject(new Error(`cannot start ${cmd}: ${err.message}`)));
    child.once('spawn', () => {
      child.unref();
      if (child.pid === undefined) reject(new Error(`cannot start ${cmd}: no pid`));
      else resolvePromise(child.pid);
    });
  });
}

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const fields = text.slice(close + 2).split(' ');
    return { pid, state: fields[0] ?? '?', ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return null;
  }
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readStat(pid);
  if (stat === null) return existsSync(`/proc/${pid}`);
  return stat.state !== 'Z' && stat.state !== 'X';
}

export function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

export function readPidFile(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim().split('\n')[0]);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function writePidFile(file: string, pid: number): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${pid}\n`);
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

/** All live pids (excluding zombies) whose process group is `pgid`. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readStat(Number(entry));
    if (st && st.pgrp === pgid && st.state !== 'Z') out.push(st.pid);
  }
  return out;
}

/** Live descendants of `pid` (children, grandchildren, ...), by parent pid. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readStat(Number(entry));
    if (!st || st.state === 'Z') continue;
    const list = children.get(st.ppid) ?? [];
    list.push(st.pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/**
 * The process, its process group and all its descendants. (Postgres children call setsid(), so
 * its backends are not in the postmaster's process group: the tree is what counts.)
 */
export function processFamily(pid: number): number[] {
  const all = new Set<number>([...groupMembers(pid), ...descendants(pid)]);
  if (isAlive(pid)) all.add(pid);
  return [...all];
}

/** Live pids whose command line satisfies `match`. */
export function findProcesses(match: (cmdline: string, pid: number) => boolean): number[] {
  const out: number[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmd = readCmdline(pid);
    if (cmd && match(cmd, pid) && isAlive(pid)) out.push(pid);
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

function killAll(pids: Iterable<number>, sig: NodeJS.Signals): void {
  for (const p of pids) signal(p, sig);
}

async function waitAllExit(pids: number[], timeout_ms: number): Promise<boolean> {
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    if (!pids.some(isAlive)) break;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  // Dead; give the parent (often init) a moment to reap the zombies, since some programs (postgres
  // checking its lock file) treat a zombie pid as still running.
  const reapDeadline = Date.now() + 3_000;
  while (pids.some((p) => existsSync(`/proc/${p}`)) && Date.now() < reapDeadline) await sleep(50);
  return true;
}

export interface TerminateOptions {
  signal: NodeJS.Signals;
  /** After this long, SIGKILL the process and its whole family. */
  timeout_ms: number;
}

/**
 * Sends `signal` to the process (SIGKILL goes to its whole family at once, like a crash), waits for it and its
 * family (process group + descendants) to exit, escalating to SIGKILL after `timeout_ms`.
 */
export async function terminate(pid: number, opts: TerminateOptions): Promise<'exited' | 'killed' | 'not-running'> {
  const family = processFamily(pid);
  if (family.length === 0) return 'not-running';
  if (!isAlive(pid)) {
    // The leader is gone while children linger (e.g. postgres backends after a kill -9 of the postmaster).
    killAll(family, 'SIGKILL');
    await waitAllExit(family, 5_000);
    return 'killed';
  }
  if (opts.signal === 'SIGKILL') {
    killAll(family, 'SIGKILL');
    await waitAllExit(family, 10_000);
    return 'killed';
  }
  signal(pid, opts.signal);
  if (await waitAllExit(family, opts.timeout_ms)) return 'exited';
  killAll(processFamily(pid).concat(family), 'SIGKILL');
  await waitAllExit(family, 10_000);
  return 'killed';
}

export interface MemoryUsage {
  /** Sum of VmRSS over the process family (shared pages counted once per process). */
  rss_mib: number;
  /** Sum of proportional set size over the process family (shared pages split): the honest total. */
  pss_mib: number | null;
}

function kibFrom(text: string, key: string): number | null {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

export function memoryOf(pid: number): MemoryUsage | null {
  const members = processFamily(pid);
  if (members.length === 0) return null;
  let rss = 0;
  let pss = 0;
  let pssKnown = true;
  for (const p of members) {
    let status: string;
    try {
      status = readFileSync(`/proc/${p}/status`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    rss += kibFrom(status, 'VmRSS') ?? 0;
    try {
      const v = kibFrom(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'), 'Pss');
      if (v === null) pssKnown = false;
      else pss += v;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH') pssKnown = false;
    }
  }
  const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
  return { rss_mib: mib(rss), pss_mib: pssKnown ? mib(pss) : null };
}

/** Last `lines` lines of a text file ('' if missing); reads at most the last 256 KiB. */
export function tailFile(file: string, lines: number): string {
  try {
    const buf = readFileSync(file);
    const text = buf.subarray(Math.max(0, buf.length - 256 * 1024)).toString('utf8');
    return text.replace(/\s+$/, '').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Is something accepting TCP connections on HOST:port? */
export function portInUse(port: number, host: string = HOST, timeout_ms = 1_000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const sock = createConnection({ host, port });
    const done = (v: boolean) => {
      sock.destroy();
      resolvePromise(v);
    };
    sock.setTimeout(timeout_ms, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Best effort: who listens on the port ("users:(("java",pid=123,fd=1))"), via `ss`. */
export function portOwner(port: number): string | null {
  const r = spawnSync('ss', ['-H', '-ltnp', `sport = :${port}`], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) return null;
  const m = /users:\(\((.*?)\)\)/.exec(r.stdout);
  return m ? m[1]! : (r.stdout.trim().split('\n')[0] ?? null);
}
