/** Jaeger background-build orchestration: start the detached build from `up`, and the build process itself. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { HOST } from './components.js';
import { context, DRIVERS, lock, ownedPid, unavailableFile } from './context.js';
import { buildJaeger, jaegerDriver, readJaegerBuildRecord, runningJaegerBuild, startJaegerBuild } from './drivers/jaeger.js';
import type { InfraContext } from './drivers/types.js';
import { ensureRunning } from './lifecycle.js';
import { commandExists } from './proc.js';
import { InfraError } from './public-types.js';

/** Jaeger is on by default: when it is not built yet, build it in the background (it starts itself when built). */
export async function buildJaegerInBackground(ctx: InfraContext): Promise<void> {
  if (!commandExists('go')) {
    ctx.log('jaeger: no Go toolchain (Go >= 1.24 builds Jaeger); running without Jaeger');
    return;
  }
  try {
    const running = runningJaegerBuild(ctx);
    const p = running ?? (await startJaegerBuild(ctx));
    rmSync(unavailableFile(ctx, 'jaeger'), { force: true });
    ctx.log(
      `jaeger: not built yet; ${running ? 'the background build is running' : 'building in the background at low CPU priority'} ` +
        `(pid ${p.pid}, log ${p.log_file}); it starts by itself when built (cold: minutes; progress: \`npx tidemark infra status\`)`,
    );
  } catch (err) {
    ctx.log(`jaeger: could not start the background build: ${(err as Error).message}`);
  }
}

/**
 * The background build (`main.ts build-jaeger`): builds Jaeger, then starts it when the rest of the
 * infrastructure is running (a later `infra up` starts it otherwise). Never throws: failures are
 * recorded in the progress file and as Jaeger's unavailable reason.
 */
export async function runJaegerBuild(opts: { log?: (line: string) => void } = {}): Promise<boolean> {
  const ctx = context(opts.log);
  try {
    if (!jaegerDriver.isInstalled(ctx)) await buildJaeger(ctx);
  } catch (err) {
    mkdirSync(ctx.paths.run_dir, { recursive: true });
    writeFileSync(
      unavailableFile(ctx, 'jaeger'),
      `build failed: ${(err as Error).message.split('\n')[0]} (log: ${ctx.paths.jaeger_build_log})\n`,
    );
    ctx.log(`jaeger: build failed: ${(err as Error).message}`);
    return false;
  }
  if (ownedPid(DRIVERS.kafka, ctx, false) === null) {
    ctx.log('jaeger: built; the infrastructure is not running, so it is not started (the next `infra up` starts it)');
    return true;
  }
  try {
    await lock(ctx, () => ensureRunning(jaegerDriver, ctx));
    rmSync(unavailableFile(ctx, 'jaeger'), { force: true });
    ctx.log(`jaeger: running; OTLP http://${HOST}:${ctx.ports.otlp_http}/v1/traces, UI http://${HOST}:${ctx.ports.jaeger_ui}`);
    return true;
  } catch (err) {
    const reason = err instanceof InfraError ? `${err.reason} (log: ${err.log_file})` : (err as Error).message.split('\n')[0];
    writeFileSync(unavailableFile(ctx, 'jaeger'), `${reason}\n`);
    ctx.log(`jaeger: built but did not start: ${(err as Error).message}`);
    return false;
  }
}

/** Jaeger build info (duration of the last source build), if it was built here. */
export function jaegerBuildInfo(): { version: string; build_duration_ms: number; built_at: string } | null {
  return readJaegerBuildRecord(context(() => undefined));
}
