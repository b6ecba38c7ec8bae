import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOST, INSTALL_TIMEOUTS_MS, JAEGER_MODULE, VERSIONS } from '../components.js';
import { jaegerConfigYaml, jaegerLdflags } from '../config.js';
import { httpOk } from '../health.js';
import { commandExists, exec, isAlive, readCmdline, spawnDetached } from '../proc.js';
import { ensureDirs, installAtomically } from './common.js';
import type { Driver, InfraContext } from './types.js';

export interface JaegerBuildRecord {
  version: string;
  module_version: string;
  build_duration_ms: number;
  built_at: string;
}

export function readJaegerBuildRecord(ctx: InfraContext): JaegerBuildRecord | null {
  try {
    return JSON.parse(readFileSync(join(ctx.paths.jaeger_home, 'build.json'), 'utf8')) as JaegerBuildRecord;
  } catch {
    return null;
  }
}

/** What a Jaeger build is doing, kept in run/jaeger-build.json (read by `infra status` and `npm start`). */
export interface JaegerBuildProgress {
  pid: number;
  phase: 'downloading' | 'resolving' | 'compiling' | 'done' | 'failed';
  /** Packages compiled so far / packages the binary needs (Go's standard library included); 0 until known. */
  packages_done: number;
  packages_total: number;
  started_at: string;
  updated_at: string;
  log_file: string;
  error?: string;
}

const PROGRESS_WRITE_INTERVAL_MS = 1_000;

export function jaegerProgressFile(ctx: InfraContext): string {
  return join(ctx.paths.run_dir, 'jaeger-build.json');
}

export function readJaegerBuildProgress(ctx: InfraContext): JaegerBuildProgress | null {
  try {
    return JSON.parse(readFileSync(jaegerProgressFile(ctx), 'utf8')) as JaegerBuildProgress;
  } catch {
    return null;
  }
}

/** One line: "compiling 412/1630 packages (25 %), 1 min 40 s so far; log <file>". */
export function describeJaegerBuild(p: JaegerBuildProgress, now_ms = Date.now()): string {
  const elapsed_s = Math.max(0, Math.round((now_ms - Date.parse(p.started_at)) / 1000));
  const elapsed = elapsed_s >= 60 ? `${Math.floor(elapsed_s / 60)} min ${elapsed_s % 60} s` : `${elapsed_s} s`;
  let what: string;
  switch (p.phase) {
    case 'downloading':
      what = `downloading the Go module ${JAEGER_MODULE}@${VERSIONS.jaeger_module}`;
      break;
    case 'resolving':
      what = 'downloading the dependencies and resolving the package graph (go list -deps)';
      break;
    case 'compiling': {
      const pct = p.packages_total > 0 ? ` (${Math.min(100, Math.round((100 * p.packages_done) / p.packages_total))} %)` : '';
      what = `compiling ${p.packages_done}/${p.packages_total || '?'} packages${pct}`;
      break;
    }
    case 'done':
      return `built in ${elapsed}`;
    case 'failed':
      return `build failed after ${elapsed}: ${p.error ?? 'see the log'}; log ${p.log_file}`;
  }
  return `${what}, ${elapsed} so far; log ${p.log_file}`;
}

/**
 * Jaeger v2 is built from source: `go install` refuses the module (it has replace directives), but
 * building inside the downloaded module directory works. Slow (minutes on 2 cores on a cold Go
 * cache), so `infra up` runs it in the background (see startJaegerBuild) and progress goes to
 * run/jaeger-build.json: phase, packages compiled of the total (`go build -v` prints each one).
 */
export async function buildJaeger(ctx: InfraContext): Promise<void> {
  if (!commandExists('go')) throw new Error('no Go toolchain on PATH (Jaeger v2 is built from source with `go build`)');
  ensureDirs(ctx.paths.cache_dir, ctx.paths.logs_dir, ctx.paths.run_dir);
  const log_file = ctx.paths.jaeger_build_log;
  const env = { ...process.env, GOFLAGS: process.env.GOFLAGS ?? '', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'auto' };
  const started = Date.now();
  const progress: JaegerBuildProgress = {
    pid: process.pid,
    phase: 'downloading',
    packages_done: 0,
    packages_total: 0,
    started_at: new Date(started).toISOString(),
    updated_at: new Date(started).toISOString(),
    log_file,
  };
  let lastWrite = 0;
  const save = (force = false) => {
    if (!force && Date.now() - lastWrite < PROGRESS_WRITE_INTERVAL_MS) return;
    lastWrite = Date.now();
    progress.updated_at = new Date().toISOString();
    writeFileSync(`${jaegerProgressFile(ctx)}.tmp`, JSON.stringify(progress, null, 2) + '\n');
    renameSync(`${jaegerProgressFile(ctx)}.tmp`, jaegerProgressFile(ctx));
  };
  save(true);
  try {
    ctx.log(`jaeger: downloading Go module ${JAEGER_MODULE}@${VERSIONS.jaeger_module} ...`);
    const dl = await exec('go', ['mod', 'download', '-json', `${JAEGER_MODULE}@${VERSIONS.jaeger_module}`], {
      env,
      log_file,
      timeout_ms: INSTALL_TIMEOUTS_MS.jaeger_build,
    });
    const moduleDir = (JSON.parse(dl.stdout) as { Dir?: string; Error?: string }).Dir;
    if (!moduleDir || !existsSync(join(moduleDir, 'cmd', 'jaeger')))
      throw new Error(`go mod download gave no module dir: ${dl.stdout.slice(0, 300)}`);
    progress.phase = 'resolving';
    save(true);
    // Downloads the dependencies too; its line count is the number of packages `go build -v` can print.
    const deps = await exec('go', ['list', '-deps', './cmd/jaeger'], { cwd: moduleDir, env, timeout_ms: INSTALL_TIMEOUTS_MS.jaeger_build });
    progress.packages_total = deps.stdout.split('\n').filter((l) => l.trim() !== '').length;
    progress.phase = 'compiling';
    save(true);
    ctx.log(
      `jaeger: building ${VERSIONS.jaeger_v2} from ${moduleDir} (${progress.packages_total} packages; minutes on a cold Go build cache; log ${log_file}) ...`,
    );
    await installAtomically(ctx.paths.jaeger_home, async (tmp) => {
      await exec(
        'go',
        ['build', '-v', '-trimpath', '-ldflags', jaegerLdflags(VERSIONS.jaeger_v2), '-o', join(tmp, 'jaeger'), './cmd/jaeger'],
        {
          cwd: moduleDir,
          env,
          log_file,
          timeout_ms: INSTALL_TIMEOUTS_MS.jaeger_build,
          on_output: (chunk) => {
            // `go build -v` prints one import path per compiled package (cached ones are not printed).
            progress.packages_done += chunk.split('\n').filter((l) => /^[\w.~/-]+$/.test(l.trim())).length;
            save();
          },
        },
      );
      chmodSync(join(tmp, 'jaeger'), 0o755);
      const record: JaegerBuildRecord = {
        version: VERSIONS.jaeger_v2,
        module_version: VERSIONS.jaeger_module,
        build_duration_ms: Date.now() - started,
        built_at: new Date().toISOString(),
      };
      writeFileSync(join(tmp, 'build.json'), JSON.stringify(record, null, 2) + '\n');
    });
    progress.phase = 'done';
    progress.packages_done = progress.packages_total;
    save(true);
    ctx.log(`jaeger: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    progress.phase = 'failed';
    progress.error = (err as Error).message.split('\n')[0];
    save(true);
    throw err;
  }
}

/** The pid of a background build that is still running (null when none). */
export function runningJaegerBuild(ctx: InfraContext): JaegerBuildProgress | null {
  const p = readJaegerBuildProgress(ctx);
  if (!p || p.phase === 'done' || p.phase === 'failed') return null;
  return isAlive(p.pid) && readCmdline(p.pid).includes(JAEGER_BUILD_COMMAND) ? p : null;
}

/** Argument of deploy/local/src/main.ts that runs the build (and then starts Jaeger); marks the process. */
export const JAEGER_BUILD_COMMAND = 'build-jaeger';

/**
 * Starts the build as a detached process at the lowest CPU priority (it must not slow the services
 * or tests it runs beside); when built it starts Jaeger itself if the rest of the infrastructure is up.
 * Returns the running build's progress (an already running build is reused).
 */
export async function startJaegerBuild(ctx: InfraContext): Promise<JaegerBuildProgress> {
  const running = runningJaegerBuild(ctx);
  if (running) return running;
  ensureDirs(ctx.paths.logs_dir, ctx.paths.run_dir);
  const mainTs = fileURLToPath(new URL('../main.ts', import.meta.url));
  const pid = await spawnDetached(process.execPath, ['--import', 'tsx', mainTs, JAEGER_BUILD_COMMAND, `--state=${ctx.paths.state_dir}`], {
    cwd: dirname(dirname(mainTs)),
    env: { ...ctx.env },
    log_file: ctx.paths.jaeger_build_log,
  });
  try {
    setPriority(pid, BUILD_NICENESS);
  } catch {
    /* not permitted: builds at normal priority */
  }
  const now = new Date().toISOString();
  const progress: JaegerBuildProgress = {
    pid,
    phase: 'downloading',
    packages_done: 0,
    packages_total: 0,
    started_at: now,
    updated_at: now,
    log_file: ctx.paths.jaeger_build_log,
  };
  writeFileSync(jaegerProgressFile(ctx), JSON.stringify(progress, null, 2) + '\n');
  return progress;
}

/** Lowest priority: the build (and every compiler process it forks) yields the CPU to services and tests. */
const BUILD_NICENESS = 19;

export const jaegerDriver: Driver = {
  name: 'jaeger',
  stop_signal: 'SIGTERM',
  ports: (ctx) => ({
    otlp_grpc: ctx.ports.otlp_grpc,
    otlp_http: ctx.ports.otlp_http,
    jaeger_ui: ctx.ports.jaeger_ui,
    jaeger_query_grpc: ctx.ports.jaeger_query_grpc,
    jaeger_health: ctx.ports.jaeger_health,
  }),
  owns: (cmdline, ctx) => cmdline.includes(ctx.paths.jaeger_binary) && cmdline.includes(ctx.paths.jaeger_config),
  isInstalled: (ctx) => existsSync(ctx.paths.jaeger_binary),
  unavailableReason(ctx) {
    if (existsSync(ctx.paths.jaeger_binary)) return null;
    const building = runningJaegerBuild(ctx);
    if (building) return `building in the background: ${describeJaegerBuild(building)}`;
    return commandExists('go')
      ? 'not built yet (`infra up` builds it in the background; `infra up jaeger` builds it in the foreground)'
      : 'no Go toolchain to build it with (install Go >= 1.24 and run `infra up`)';
  },
  async install(ctx) {
    ensureDirs(ctx.paths.cache_dir, ctx.paths.logs_dir);
    await buildJaeger(ctx);
  },
  async start(ctx) {
    ensureDirs(ctx.paths.conf_dir, ctx.paths.data('jaeger'), ctx.paths.logs_dir);
    writeFileSync(
      ctx.paths.jaeger_config,
      jaegerConfigYaml({
        otlp_grpc: ctx.ports.otlp_grpc,
        otlp_http: ctx.ports.otlp_http,
        query_http: ctx.ports.jaeger_ui,
        query_grpc: ctx.ports.jaeger_query_grpc,
        health: ctx.ports.jaeger_health,
        max_traces: 100_000,
      }),
    );
    return spawnDetached(ctx.paths.jaeger_binary, [`--config=${ctx.paths.jaeger_config}`], {
      cwd: ctx.paths.data('jaeger'),
      log_file: ctx.paths.log('jaeger'),
    });
  },
  async health(ctx) {
    const status = await httpOk(`http://${HOST}:${ctx.ports.jaeger_health}/status`);
    if (!status.ok) return status;
    const query = await httpOk(`http://${HOST}:${ctx.ports.jaeger_ui}/api/services`);
    return query.ok ? { ok: true, detail: `${status.detail}; ${query.detail}` } : query;
  },
  version: (ctx) => (existsSync(ctx.paths.jaeger_binary) ? (readJaegerBuildRecord(ctx)?.version ?? VERSIONS.jaeger_v2) : null),
  extraLogs: (ctx) => [ctx.paths.jaeger_build_log],
};
