import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ENV, INSTALL_TIMEOUTS_MS, JVM_SEARCH_DIR } from '../components.js';
import { commandExists, exec } from '../proc.js';
import type { InfraContext } from './types.js';

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

let aptUpdated = false;

/** Installs Debian packages when we are root and apt-get exists; otherwise explains what to install. */
export async function ensureAptPackages(ctx: InfraContext, packages: string[], why: string): Promise<void> {
  if (!isRoot() || !commandExists('apt-get')) {
    throw new Error(`${why}: install the Debian package(s) ${packages.join(' ')} (apt-get install -y ${packages.join(' ')}) and retry`);
  }
  const log_file = join(ctx.paths.logs_dir, 'apt.log');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    ctx.log(`apt-get update (for ${packages.join(' ')}) ...`);
    await exec('apt-get', ['update'], { env, log_file, timeout_ms: INSTALL_TIMEOUTS_MS.apt });
    aptUpdated = true;
  }
  ctx.log(`apt-get install -y ${packages.join(' ')} ...`);
  await exec('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { env, log_file, timeout_ms: INSTALL_TIMEOUTS_MS.apt });
}

/** Candidate `java` binaries in order of preference: TIDEMARK_JAVA, JAVA_HOME, PATH, then /usr/lib/jvm/* (newest first). */
export function javaCandidates(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  if (env[ENV.java]) out.push(env[ENV.java]!);
  if (env.JAVA_HOME) out.push(join(env.JAVA_HOME, 'bin', 'java'));
  out.push('java');
  try {
    const dirs = readdirSync(JVM_SEARCH_DIR)
      .map((d) => join(JVM_SEARCH_DIR, d, 'bin', 'java'))
      .filter((j) => existsSync(j));
    out.push(...dirs.sort((a, b) => (javaMajorOf(b) ?? 0) - (javaMajorOf(a) ?? 0)));
  } catch {
    /* no JVM dir */
  }
  return [...new Set(out)];
}

/** Parses the major version out of `java -version` output ("17.0.15", "1.8.0_392" -> 8). */
export function parseJavaMajor(versionOutput: string): number | null {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!m) return null;
  const first = Number(m[1]);
  return first === 1 && m[2] ? Number(m[2]) : first;
}

const majorCache = new Map<string, number | null>();

export function javaMajorOf(java: string): number | null {
  if (!majorCache.has(java)) {
    const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
    majorCache.set(java, r.error ? null : parseJavaMajor(`${r.stderr ?? ''}${r.stdout ?? ''}`));
  }
  return majorCache.get(java) ?? null;
}

/** A Java runtime of at least `minMajor` (installing Debian's default JRE as root when there is none at all). */
export async function ensureJava(ctx: InfraContext, minMajor: number): Promise<string> {
  let candidates = javaCandidates(ctx.env);
  if (!candidates.some((j) => javaMajorOf(j) !== null)) {
    await ensureAptPackages(ctx, ['default-jre-headless'], 'no Java runtime found');
    majorCache.clear();
    candidates = javaCandidates(ctx.env);
  }
  const found = candidates.find((j) => (javaMajorOf(j) ?? 0) >= minMajor);
  if (!found) {
    const seen = candidates.map((j) => `${j} (${javaMajorOf(j) ?? 'n/a'})`).join(', ');
    throw new Error(`Java ${minMajor}+ is required; found only: ${seen}. Install one under ${JVM_SEARCH_DIR} or set ${ENV.java}`);
  }
  return found;
}

export async function ensureMaven(ctx: InfraContext): Promise<string> {
  if (!commandExists('mvn')) await ensureAptPackages(ctx, ['maven'], 'Maven (mvn) is needed to fetch artifacts from Maven Central');
  return 'mvn';
}

/** Runs Maven in batch/quiet mode with its output appended to logs/maven.log. */
export async function mvn(ctx: InfraContext, args: string[], cwd: string): Promise<void> {
  const bin = await ensureMaven(ctx);
  await exec(bin, ['-q', '-B', ...args], {
    cwd,
    log_file: join(ctx.paths.logs_dir, 'maven.log'),
    timeout_ms: INSTALL_TIMEOUTS_MS.maven,
  });
}

/** Fills `finalDir` atomically: `fill(tmpDir)` then rename, so a half-finished install is never mistaken for done. */
export async function installAtomically(finalDir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const tmp = `${finalDir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await fill(tmp);
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(tmp, finalDir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

export function ensureDirs(...dirs: string[]): void {
  for (const d of dirs) mkdirSync(d, { recursive: true });
}
