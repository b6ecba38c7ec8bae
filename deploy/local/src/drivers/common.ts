import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ENV, INSTALL_TIMEOUTS_MS, VERSIONS } from '../components.js';
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

export function javaBinary(env: NodeJS.ProcessEnv): string {
  if (env[ENV.java]) return env[ENV.java]!;
  if (env.JAVA_HOME && existsSync(join(env.JAVA_HOME, 'bin', 'java'))) return join(env.JAVA_HOME, 'bin', 'java');
  return 'java';
}

/** Parses the major version out of `java -version` output ("17.0.15", "1.8.0_392" → 8). */
export function parseJavaMajor(versionOutput: string): number | null {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!m) return null;
  const first = Number(m[1]);
  return first === 1 && m[2] ? Number(m[2]) : first;
}

const javaChecked = new Map<string, number>();

/** Makes sure a Java >= 17 runtime exists (installing the Debian default JRE as root if none). Returns the binary. */
export async function ensureJava(ctx: InfraContext): Promise<string> {
  let java = javaBinary(ctx.env);
  if (javaChecked.has(java)) return java;
  if (!commandExists(java)) {
    await ensureAptPackages(ctx, ['default-jre-headless'], `no Java runtime found (${java})`);
    java = javaBinary(ctx.env);
  }
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const major = parseJavaMajor(`${r.stderr}${r.stdout}`);
  if (major === null || major < VERSIONS.java_min_major) {
    throw new Error(
      `Java ${VERSIONS.java_min_major}+ is required, ${java} reports ${major ?? 'unknown'}; set ${ENV.java} or JAVA_HOME`,
    );
  }
  javaChecked.set(java, major);
  return java;
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
