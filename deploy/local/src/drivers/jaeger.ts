import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, INSTALL_TIMEOUTS_MS, JAEGER_MODULE, VERSIONS } from '../components.js';
import { jaegerConfigYaml, jaegerLdflags } from '../config.js';
import { httpOk } from '../health.js';
import { commandExists, exec, spawnDetached } from '../proc.js';
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

/**
 * Jaeger v2 is built from source: `go install` refuses the module (it has replace directives), but
 * building inside the downloaded module directory works. Slow (minutes on 2 cores), so only on demand.
 */
async function buildJaeger(ctx: InfraContext): Promise<void> {
  if (!commandExists('go')) throw new Error('no Go toolchain on PATH (Jaeger v2 is built from source with `go build`)');
  const log_file = ctx.paths.jaeger_build_log;
  const env = { ...process.env, GOFLAGS: process.env.GOFLAGS ?? '', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'auto' };
  ctx.log(`jaeger: downloading Go module ${JAEGER_MODULE}@${VERSIONS.jaeger_module} ...`);
  const dl = await exec('go', ['mod', 'download', '-json', `${JAEGER_MODULE}@${VERSIONS.jaeger_module}`], {
    env,
    log_file,
    timeout_ms: INSTALL_TIMEOUTS_MS.jaeger_build,
  });
  const moduleDir = (JSON.parse(dl.stdout) as { Dir?: string; Error?: string }).Dir;
  if (!moduleDir || !existsSync(join(moduleDir, 'cmd', 'jaeger'))) throw new Error(`go mod download gave no module dir: ${dl.stdout.slice(0, 300)}`);
  ctx.log(`jaeger: building ${VERSIONS.jaeger_v2} from ${moduleDir} (takes minutes on a cold Go build cache; log ${log_file}) ...`);
  const started = Date.now();
  await installAtomically(ctx.paths.jaeger_home, async (tmp) => {
    await exec('go', ['build', '-trimpath', '-ldflags', jaegerLdflags(VERSIONS.jaeger_v2), '-o', join(tmp, 'jaeger'), './cmd/jaeger'], {
      cwd: moduleDir,
      env,
      log_file,
      timeout_ms: INSTALL_TIMEOUTS_MS.jaeger_build,
    });
    chmodSync(join(tmp, 'jaeger'), 0o755);
    const record: JaegerBuildRecord = {
      version: VERSIONS.jaeger_v2,
      module_version: VERSIONS.jaeger_module,
      build_duration_ms: Date.now() - started,
      built_at: new Date().toISOString(),
    };
    writeFileSync(join(tmp, 'build.json'), JSON.stringify(record, null, 2) + '\n');
  });
  ctx.log(`jaeger: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

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
    return commandExists('go')
      ? 'not built yet (set TIDEMARK_JAEGER=1 or run `infra up jaeger`; the build takes a few minutes)'
      : 'no Go toolchain to build it with';
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
