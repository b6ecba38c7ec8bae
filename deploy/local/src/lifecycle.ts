/** Component start/stop orchestration: launch, wait for health, stop, select what `up` starts, stop everything. */
import {
  COMPONENT_NAMES,
  ENV,
  HEALTH_POLL_INTERVAL_MS,
  LOG_TAIL_LINES,
  PORT_SPECS,
  REQUIRED_COMPONENTS,
  TIMINGS,
  type ComponentName,
  type PortName,
} from './components.js';
import { activeComponents, componentName, DEPENDENCIES, DRIVERS, ownedPid } from './context.js';
import { jaegerDriver, runningJaegerBuild } from './drivers/jaeger.js';
import type { Driver, InfraContext } from './drivers/types.js';
import type { Health } from './health.js';
import { findProcesses, isAlive, portInUse, portOwner, readCmdline, removeFile, sleep, tailFile, terminate, writePidFile } from './proc.js';
import { InfraError, type StopOptions, type StopResult } from './public-types.js';

function failure(driver: Driver, ctx: InfraContext, reason: string): InfraError {
  // Install failures show the install log (e.g. the Jaeger build log) when the component has one.
  const installLog = reason.startsWith('install failed') ? driver.extraLogs?.(ctx).find((f) => tailFile(f, 1) !== '') : undefined;
  const file = installLog ?? ctx.paths.log(driver.name);
  return new InfraError(driver.name, reason, file, tailFile(file, LOG_TAIL_LINES));
}

async function waitHealthy(driver: Driver, ctx: InfraContext, pid: number): Promise<Health> {
  const timeout = TIMINGS[driver.name].health_timeout_ms;
  const started = Date.now();
  let lastReport = started;
  let last: Health = { ok: false, detail: 'not checked yet' };
  for (;;) {
    if (!isAlive(pid)) {
      throw failure(driver, ctx, `process ${pid} exited during startup (last health check: ${last.detail})`);
    }
    last = await driver.health(ctx);
    if (last.ok) return last;
    const elapsed = Date.now() - started;
    if (elapsed >= timeout) {
      throw failure(
        driver,
        ctx,
        `not healthy after ${timeout} ms (health_timeout_ms); last check: ${last.detail}. ` +
          `It is still running as pid ${pid}: \`infra down\` stops it, a later \`infra up\` keeps waiting for it`,
      );
    }
    if (Date.now() - lastReport >= 10_000) {
      ctx.log(`${driver.name}: waiting for health (${Math.round(elapsed / 1000)} s): ${last.detail}`);
      lastReport = Date.now();
    }
    await sleep(HEALTH_POLL_INTERVAL_MS);
  }
}

/**
 * Adopts or spawns the component's process. Returns the pid to wait for, or null when it is already healthy.
 * Separate from waiting so that the nodes of a KRaft quorum all start before any of them is waited for
 * (one voter alone never elects a leader).
 */
async function launch(driver: Driver, ctx: InfraContext): Promise<{ pid: number; fresh: boolean } | null> {
  let pid = ownedPid(driver, ctx);
  if (pid !== null) {
    const h = await driver.health(ctx);
    if (h.ok) {
      ctx.log(`${driver.name}: already running (pid ${pid}) and healthy`);
      return null;
    }
    ctx.log(`${driver.name}: running (pid ${pid}) but not healthy yet (${h.detail}); waiting`);
    return { pid, fresh: false };
  }
  removeFile(ctx.paths.pid(driver.name));
  for (const [portName, port] of Object.entries(driver.ports(ctx)) as [PortName, number][]) {
    if (await portInUse(port)) {
      const owner = portOwner(port);
      throw failure(
        driver,
        ctx,
        `port ${port} (${PORT_SPECS[portName].env}) is already in use by ${owner ?? 'another process'}; ` +
          `stop it or choose another port with ${PORT_SPECS[portName].env}`,
      );
    }
  }
  if (!driver.isInstalled(ctx)) {
    const ti = Date.now();
    ctx.log(`${driver.name}: installing ...`);
    try {
      await driver.install(ctx);
    } catch (err) {
      if (err instanceof InfraError) throw err;
      throw failure(driver, ctx, `install failed: ${(err as Error).message}`);
    }
    ctx.log(`${driver.name}: installed in ${((Date.now() - ti) / 1000).toFixed(1)} s`);
  }
  try {
    pid = await driver.start(ctx);
  } catch (err) {
    if (err instanceof InfraError) throw err;
    throw failure(driver, ctx, `start failed: ${(err as Error).message}`);
  }
  writePidFile(ctx.paths.pid(driver.name), pid);
  ctx.log(`${driver.name}: started (pid ${pid}), waiting up to ${TIMINGS[driver.name].health_timeout_ms / 1000} s for health ...`);
  return { pid, fresh: true };
}

/** Starts every driver of the group (if needed), then waits for each to be healthy and runs its afterHealthy. */
export async function ensureRunningGroup(drivers: Driver[], ctx: InfraContext): Promise<void> {
  const t0 = Date.now();
  const launched: Array<{ driver: Driver; pid: number; fresh: boolean } | { driver: Driver; pid: null; fresh: false }> = [];
  for (const driver of drivers) {
    const l = await launch(driver, ctx);
    launched.push(l ? { driver, ...l } : { driver, pid: null, fresh: false });
  }
  for (const { driver, pid, fresh } of launched) {
    if (pid !== null) {
      await waitHealthy(driver, ctx, pid);
      if (fresh) ctx.log(`${driver.name}: healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    if (driver.afterHealthy) {
      try {
        await driver.afterHealthy(ctx);
      } catch (err) {
        throw failure(driver, ctx, (err as Error).message);
      }
    }
  }
}

export async function ensureRunning(driver: Driver, ctx: InfraContext): Promise<void> {
  await ensureRunningGroup([driver], ctx);
}

export async function stopDriver(driver: Driver, ctx: InfraContext, opts: StopOptions = {}): Promise<StopResult> {
  const pid = ownedPid(driver, ctx);
  if (pid === null) {
    removeFile(ctx.paths.pid(driver.name));
    return { name: driver.name, pid: null, outcome: 'not-running' };
  }
  const signal = opts.signal ?? driver.stop_signal;
  ctx.log(`${driver.name}: stopping pid ${pid} (${signal})`);
  const outcome = await terminate(pid, { signal, timeout_ms: opts.timeout_ms ?? TIMINGS[driver.name].stop_timeout_ms });
  if (outcome === 'killed' && signal !== 'SIGKILL') ctx.log(`${driver.name}: did not stop in time, killed`);
  removeFile(ctx.paths.pid(driver.name));
  return { name: driver.name, pid, outcome };
}

export function selectComponents(ctx: InfraContext, requested?: string[]): ComponentName[] {
  const wanted = new Set<ComponentName>();
  if (requested && requested.length > 0) {
    for (const r of requested) wanted.add(componentName(r));
  } else {
    for (const c of REQUIRED_COMPONENTS) wanted.add(c);
    const flag = ctx.env[ENV.jaeger];
    if (flag === '1' || (flag !== '0' && jaegerDriver.isInstalled(ctx))) wanted.add('jaeger');
  }
  // `kafka` names the whole Kafka cluster here: every node of the configuration.
  if (wanted.has('kafka')) for (const n of ctx.kafka_nodes) wanted.add(n.component);
  for (const c of [...wanted]) for (const dep of DEPENDENCIES[c]) wanted.add(dep);
  return activeComponents(ctx).filter((c) => wanted.has(c));
}

export async function downUnlocked(ctx: InfraContext): Promise<void> {
  const build = runningJaegerBuild(ctx);
  if (build) {
    ctx.log(`jaeger: stopping the background build (pid ${build.pid}); the next \`infra up\` starts it again`);
    await terminate(build.pid, { signal: 'SIGTERM', timeout_ms: 10_000 });
  }
  for (const name of [...COMPONENT_NAMES].reverse()) await stopDriver(DRIVERS[name], ctx);
  const marker = `-Dtidemark.state=${ctx.paths.state_dir}`;
  const strays = findProcesses((cmd) => cmd.includes(marker) || COMPONENT_NAMES.some((c) => DRIVERS[c].owns(cmd, ctx)));
  for (const pid of strays) {
    ctx.log(`killing stray process ${pid}: ${readCmdline(pid).slice(0, 160)}`);
    await terminate(pid, { signal: 'SIGTERM', timeout_ms: 10_000 });
  }
}
