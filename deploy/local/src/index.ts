/**
 * @tidemark/local-infra: installs and runs Tidemark's real infrastructure natively (no Docker) under a
 * git-ignored state folder: PostgreSQL, Apache Kafka (KRaft), Apicurio Registry 3, Prometheus and Jaeger v2.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COMPONENT_NAMES,
  ENV,
  HEALTH_POLL_INTERVAL_MS,
  HOST,
  KAFKA_NODE_COMPONENTS,
  LOG_TAIL_LINES,
  PORT_SPECS,
  POSTGRES,
  REQUIRED_COMPONENTS,
  SCRAPED_SERVICES,
  TIMINGS,
  type ComponentName,
  type PortName,
  type ScrapedService,
} from './components.js';
import {
  activeControllerFromQuorumStates,
  kafkaNodes,
  parseKafkaNodeCount,
  postgresUrl,
  registryUrl,
  resolvePorts,
  type KafkaNode,
} from './config.js';
import { apicurioDriver } from './drivers/apicurio.js';
import {
  buildJaeger,
  describeJaegerBuild,
  jaegerDriver,
  readJaegerBuildRecord,
  runningJaegerBuild,
  startJaegerBuild,
  type JaegerBuildProgress,
} from './drivers/jaeger.js';
import { kafkaDrivers } from './drivers/kafka.js';
import { postgresDriver } from './drivers/postgres.js';
import { prometheusDriver } from './drivers/prometheus.js';
import type { Driver, InfraContext } from './drivers/types.js';
import type { Health } from './health.js';
import { withLock } from './lock.js';
import {
  commandExists,
  findProcesses,
  isAlive,
  memoryOf,
  portInUse,
  portOwner,
  readCmdline,
  readPidFile,
  removeFile,
  sleep,
  tailFile,
  terminate,
  writePidFile,
} from './proc.js';
import { findRepoRoot, resolveStateDir, statePaths } from './paths.js';
import { fileSdTargets, targetsFileName } from './prometheus.js';

export { COMPONENT_NAMES, PORT_SPECS, REQUIRED_COMPONENTS, TIMINGS, VERSIONS } from './components.js';
export type { ComponentName, PortName, Ports } from './components.js';
export { resolvePorts, PortConfigError, kafkaNodes, parseKafkaNodeCount, type KafkaNode } from './config.js';
export { describeJaegerBuild, type JaegerBuildProgress } from './drivers/jaeger.js';
export { SCRAPED_SERVICES, type ScrapedService } from './components.js';
export { DASHBOARD_PANELS, deriveRules, graphUrl } from './prometheus.js';

// ---------------------------------------------------------------- public types

export interface ComponentStatus {
  name: ComponentName;
  /** Binaries/artifacts present in the cache (postgres: server binaries found). */
  installed: boolean;
  /** Our process (per pid file, verified against its command line) is alive. */
  running: boolean;
  healthy: boolean;
  /** 'healthy' | 'stopped' | 'unhealthy: <why>' | 'unavailable: <why>' */
  health: string;
  pid: number | null;
  ports: Partial<Record<PortName, number>>;
  version: string | null;
  log_file: string;
  data_dir: string;
  /** Resident memory of the component (process + descendants), MiB (null when not running). */
  rss_mib: number | null;
  /** Proportional set size of the process and its descendants, MiB: shared memory split between processes (postgres). */
  pss_mib: number | null;
  /** Optional components only: why it cannot run (e.g. Jaeger not built). */
  unavailable_reason: string | null;
}

export interface InfraEndpoints {
  /** host:port list for kafkajs `brokers`. */
  kafka_brokers: string[];
  /** Confluent-compatible API base, e.g. http://127.0.0.1:8081/apis/ccompat/v7 */
  registry_url: string;
  /** Apicurio's management interface (/health/ready, /metrics). */
  registry_management_url: string;
  /** postgres://tidemark:tidemark@127.0.0.1:55432/tidemark */
  postgres_url: string;
  postgres: { host: string; port: number; user: string; password: string; database: string };
  /** OTLP/HTTP base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT style), null when Jaeger is not running. */
  jaeger_otlp_http_endpoint: string | null;
  /** Full OTLP/HTTP traces URL (the `url` option of @opentelemetry/exporter-trace-otlp-http). */
  jaeger_otlp_traces_url: string | null;
  /** OTLP/gRPC endpoint host:port. */
  jaeger_otlp_grpc_endpoint: string | null;
  /** Jaeger query API and UI, e.g. http://127.0.0.1:16686 (API under /api/traces, /api/services). */
  jaeger_query_url: string | null;
  jaeger_unavailable_reason: string | null;
  /** A background Jaeger build in progress (see `describeJaegerBuild`), else null. */
  jaeger_build: JaegerBuildProgress | null;
  /** Where Jaeger's OTLP/HTTP traces endpoint and UI will be once it runs (from the configured ports). */
  jaeger_planned: { otlp_traces_url: string; query_url: string };
  /** Prometheus UI and HTTP API, e.g. http://127.0.0.1:9090 (null when it is not running). */
  prometheus_url: string | null;
}

export interface InfraStatus {
  state_dir: string;
  /** All required components (postgres, every Kafka node, apicurio, prometheus) healthy. Jaeger is optional and not counted. */
  ok: boolean;
  /** The components of this configuration (`kafka-2`, `kafka-3` only in cluster mode). */
  components: Partial<Record<ComponentName, ComponentStatus>>;
  endpoints: InfraEndpoints;
}

export interface InfraUpOptions {
  /** Subset to start (dependencies are added: apicurio needs postgres). Default: postgres, kafka, apicurio, + jaeger when available. */
  components?: string[];
  log?: (line: string) => void;
}

export interface StopOptions {
  /** Default: the component's graceful signal (SIGINT for postgres, SIGTERM otherwise). SIGKILL hits the process and all its descendants at once (a crash). */
  signal?: NodeJS.Signals;
  /** Grace period before escalating to SIGKILL (default: the component's stop_timeout_ms). */
  timeout_ms?: number;
  log?: (line: string) => void;
}

export interface StopResult {
  name: ComponentName;
  pid: number | null;
  outcome: 'exited' | 'killed' | 'not-running';
}

/** A component failed to install/start/become healthy. The message names it and carries its log tail. */
export class InfraError extends Error {
  override name = 'InfraError';
  constructor(
    readonly component: ComponentName,
    readonly reason: string,
    readonly log_file: string,
    readonly log_tail: string,
  ) {
    super(
      `${component} failed: ${reason}\n` +
        (log_tail
          ? `--- last ${LOG_TAIL_LINES} lines of ${log_file} ---\n${log_tail}\n--- end of ${log_file} ---`
          : `(log file ${log_file} is empty or missing)`),
    );
  }
}

// ---------------------------------------------------------------- internals

const DRIVERS: Record<ComponentName, Driver> = {
  postgres: postgresDriver,
  ...kafkaDrivers,
  apicurio: apicurioDriver,
  prometheus: prometheusDriver,
  jaeger: jaegerDriver,
};

const DEPENDENCIES: Record<ComponentName, ComponentName[]> = {
  postgres: [],
  kafka: [],
  'kafka-2': [],
  'kafka-3': [],
  apicurio: ['postgres'],
  prometheus: [],
  jaeger: [],
};

const OPTIONAL: ReadonlySet<ComponentName> = new Set(['jaeger']);
const LOCK_WAIT_MS = 30 * 60_000;

const defaultLog = (line: string) => process.stderr.write(`[infra] ${line}\n`);

function context(log?: (line: string) => void): InfraContext {
  const ports = resolvePorts(process.env);
  return {
    paths: statePaths(resolveStateDir(process.env)),
    ports,
    kafka_nodes: kafkaNodes(ports, parseKafkaNodeCount(process.env[ENV.kafka_nodes])),
    env: process.env,
    log: log ?? defaultLog,
  };
}

const isKafkaNode = (name: ComponentName): boolean => (KAFKA_NODE_COMPONENTS as readonly string[]).includes(name);

/** Components of this configuration: Kafka nodes 2 and 3 exist only in cluster mode. */
function activeComponents(ctx: InfraContext): ComponentName[] {
  return COMPONENT_NAMES.filter((c) => !isKafkaNode(c) || ctx.kafka_nodes.some((n) => n.component === c));
}

/** Required for `ok`: postgres, apicurio and every Kafka node of the configuration. */
function requiredComponents(ctx: InfraContext): ComponentName[] {
  return activeComponents(ctx).filter((c) => REQUIRED_COMPONENTS.includes(c) || isKafkaNode(c));
}

function componentName(name: string): ComponentName {
  if ((COMPONENT_NAMES as readonly string[]).includes(name)) return name as ComponentName;
  throw new Error(`unknown component "${name}" (known: ${COMPONENT_NAMES.join(', ')})`);
}

function lock<T>(ctx: InfraContext, fn: () => Promise<T>): Promise<T> {
  return withLock(ctx.paths.lock_file, { wait_timeout_ms: LOCK_WAIT_MS, log: ctx.log }, fn);
}

/** Our live pid for the component: from the pid file if its command line is ours, else adopted from /proc. */
function ownedPid(driver: Driver, ctx: InfraContext, adopt = true): number | null {
  const file = ctx.paths.pid(driver.name);
  const pid = readPidFile(file);
  if (pid !== null && isAlive(pid) && driver.owns(readCmdline(pid), ctx)) return pid;
  if (!adopt) return null;
  const found = findProcesses((cmd) => driver.owns(cmd, ctx));
  if (found.length > 0) {
    writePidFile(file, found[0]!);
    return found[0]!;
  }
  return null;
}

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
async function ensureRunningGroup(drivers: Driver[], ctx: InfraContext): Promise<void> {
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

async function ensureRunning(driver: Driver, ctx: InfraContext): Promise<void> {
  await ensureRunningGroup([driver], ctx);
}

async function stopDriver(driver: Driver, ctx: InfraContext, opts: StopOptions = {}): Promise<StopResult> {
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

function selectComponents(ctx: InfraContext, requested?: string[]): ComponentName[] {
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

function unavailableFile(ctx: InfraContext, name: ComponentName): string {
  return join(ctx.paths.run_dir, `${name}.unavailable`);
}

/** Why an optional component is not running: the last failure recorded by `up`, else the driver's own reason. */
function unavailableReason(driver: Driver, ctx: InfraContext): string | null {
  try {
    const recorded = readFileSync(unavailableFile(ctx, driver.name), 'utf8').trim();
    if (recorded) return recorded;
  } catch {
    /* none recorded */
  }
  return driver.unavailableReason?.(ctx) ?? (driver.isInstalled(ctx) ? null : 'not installed');
}

async function componentStatus(driver: Driver, ctx: InfraContext): Promise<ComponentStatus> {
  const pid = ownedPid(driver, ctx, false);
  const installed = driver.isInstalled(ctx);
  const unavailable = OPTIONAL.has(driver.name) && pid === null ? unavailableReason(driver, ctx) : null;
  let healthy = false;
  let health: string;
  if (pid !== null) {
    const h = await driver.health(ctx);
    healthy = h.ok;
    health = h.ok ? 'healthy' : `unhealthy: ${h.detail}`;
  } else {
    health = unavailable ? `unavailable: ${unavailable}` : 'stopped';
  }
  const mem = pid !== null ? memoryOf(pid) : null;
  return {
    name: driver.name,
    installed,
    running: pid !== null,
    healthy,
    health,
    pid,
    ports: driver.ports(ctx),
    version: driver.version(ctx),
    log_file: ctx.paths.log(driver.name),
    data_dir: ctx.paths.data(driver.name),
    rss_mib: mem?.rss_mib ?? null,
    pss_mib: mem?.pss_mib ?? null,
    unavailable_reason: unavailable,
  };
}

function endpointsFor(ctx: InfraContext): InfraEndpoints {
  const p = ctx.ports;
  const jaegerPid = ownedPid(jaegerDriver, ctx, false);
  const jaegerUp = jaegerPid !== null;
  let reason: string | null = null;
  if (!jaegerUp) reason = unavailableReason(jaegerDriver, ctx) ?? 'not running (start it with `infra up jaeger`)';
  return {
    kafka_brokers: ctx.kafka_nodes.map((n) => `${HOST}:${n.port}`),
    registry_url: registryUrl(p.registry),
    registry_management_url: `http://${HOST}:${p.registry_management}`,
    postgres_url: postgresUrl(p.postgres),
    postgres: { host: HOST, port: p.postgres, user: POSTGRES.user, password: POSTGRES.password, database: POSTGRES.database },
    jaeger_otlp_http_endpoint: jaegerUp ? `http://${HOST}:${p.otlp_http}` : null,
    jaeger_otlp_traces_url: jaegerUp ? `http://${HOST}:${p.otlp_http}/v1/traces` : null,
    jaeger_otlp_grpc_endpoint: jaegerUp ? `${HOST}:${p.otlp_grpc}` : null,
    jaeger_query_url: jaegerUp ? `http://${HOST}:${p.jaeger_ui}` : null,
    jaeger_unavailable_reason: reason,
    jaeger_build: jaegerUp ? null : runningJaegerBuild(ctx),
    jaeger_planned: { otlp_traces_url: `http://${HOST}:${p.otlp_http}/v1/traces`, query_url: `http://${HOST}:${p.jaeger_ui}` },
    prometheus_url: ownedPid(prometheusDriver, ctx, false) !== null ? `http://${HOST}:${p.prometheus}` : null,
  };
}

// ---------------------------------------------------------------- public API

/**
 * Installs (first time only) and starts the components in dependency order (postgres, kafka, apicurio, jaeger),
 * waiting for each to be healthy. Idempotent: healthy running instances are left alone. Throws an InfraError
 * naming the failed component (with its log tail); Jaeger failures never throw, they show up in the status.
 */
export async function infraUp(opts: InfraUpOptions = {}): Promise<InfraStatus> {
  const ctx = context(opts.log);
  const components = selectComponents(ctx, opts.components);
  const t0 = Date.now();
  await lock(ctx, async () => {
    for (const name of components) {
      const driver = DRIVERS[name];
      if (isKafkaNode(name)) {
        // The quorum starts together: the first node runs the whole group, later nodes are already done.
        if (name === components.find(isKafkaNode)) await ensureRunningGroup(components.filter(isKafkaNode).map((c) => DRIVERS[c]), ctx);
      } else if (OPTIONAL.has(name)) {
        try {
          await ensureRunning(driver, ctx);
          rmSync(unavailableFile(ctx, name), { force: true });
        } catch (err) {
          const message = (err as Error).message;
          ctx.log(`${name} is unavailable (optional, continuing): ${message}`);
          mkdirSync(ctx.paths.run_dir, { recursive: true });
          const reason = err instanceof InfraError ? `${err.reason} (log: ${err.log_file})` : message.split('\n')[0];
          writeFileSync(unavailableFile(ctx, name), `${reason}\n`);
        }
      } else {
        await ensureRunning(driver, ctx);
      }
    }
  });
  ctx.log(`up: ${components.join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s (state: ${ctx.paths.state_dir})`);
  if (!components.includes('jaeger') && !opts.components?.length && ctx.env[ENV.jaeger] !== '0') await buildJaegerInBackground(ctx);
  return statusOf(ctx);
}

/** Jaeger is on by default: when it is not built yet, build it in the background (it starts itself when built). */
async function buildJaegerInBackground(ctx: InfraContext): Promise<void> {
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
    writeFileSync(unavailableFile(ctx, 'jaeger'), `build failed: ${(err as Error).message.split('\n')[0]} (log: ${ctx.paths.jaeger_build_log})\n`);
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

async function statusOf(ctx: InfraContext): Promise<InfraStatus> {
  const list = await Promise.all(activeComponents(ctx).map((c) => componentStatus(DRIVERS[c], ctx)));
  const components = Object.fromEntries(list.map((s) => [s.name, s])) as InfraStatus['components'];
  return {
    state_dir: ctx.paths.state_dir,
    ok: requiredComponents(ctx).every((c) => components[c]?.healthy === true),
    components,
    endpoints: endpointsFor(ctx),
  };
}

/** Per component: installed, running, pid, ports, version, health, log file, memory. Starts nothing. */
export async function infraStatus(): Promise<InfraStatus> {
  return statusOf(context(() => undefined));
}

async function downUnlocked(ctx: InfraContext): Promise<void> {
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

/** Stops every component (reverse start order; SIGTERM/SIGINT, then SIGKILL) and sweeps any stray process of this state dir. */
export async function infraDown(opts: { log?: (line: string) => void } = {}): Promise<void> {
  const ctx = context(opts.log);
  await lock(ctx, () => downUnlocked(ctx));
}

/** `infraDown()` and delete all data, logs, configs and pid files. The download/build cache is kept. */
export async function infraReset(opts: { log?: (line: string) => void } = {}): Promise<void> {
  const ctx = context(opts.log);
  await lock(ctx, async () => {
    await downUnlocked(ctx);
    for (const dir of [ctx.paths.data_dir, ctx.paths.logs_dir, ctx.paths.run_dir, ctx.paths.conf_dir, ctx.paths.tmp_dir]) {
      rmSync(dir, { recursive: true, force: true });
    }
    // Leftover partial installs from an interrupted run are not cache.
    if (existsSync(ctx.paths.cache_dir)) {
      for (const e of readdirSync(ctx.paths.cache_dir)) {
        if (e.includes('.partial-')) rmSync(join(ctx.paths.cache_dir, e), { recursive: true, force: true });
      }
    }
    ctx.log(`reset: removed data, logs and run state under ${ctx.paths.state_dir} (cache kept)`);
  });
}

/** URLs and ports in use (from the environment/defaults); Jaeger fields are null unless Jaeger is running. */
export function infraEndpoints(): InfraEndpoints {
  return endpointsFor(context(() => undefined));
}

/** Stops one component. `{signal: 'SIGKILL'}` is a kill -9 of the process and its descendants (chaos tests). */
export async function stopComponent(name: string, opts: StopOptions = {}): Promise<StopResult> {
  const ctx = context(opts.log ?? (() => undefined));
  return lock(ctx, () => stopDriver(DRIVERS[componentName(name)], ctx, opts));
}

/** Starts one component (and waits for health); no-op when it is already running and healthy. */
export async function startComponent(name: string, opts: { log?: (line: string) => void } = {}): Promise<ComponentStatus> {
  const ctx = context(opts.log ?? (() => undefined));
  const driver = DRIVERS[componentName(name)];
  await lock(ctx, () => ensureRunning(driver, ctx));
  return componentStatus(driver, ctx);
}

/** Stops (gracefully by default, or with `signal`) and starts one component again, waiting for health. */
export async function restartComponent(name: string, opts: StopOptions = {}): Promise<ComponentStatus> {
  const ctx = context(opts.log ?? (() => undefined));
  const driver = DRIVERS[componentName(name)];
  await lock(ctx, async () => {
    await stopDriver(driver, ctx, opts);
    await ensureRunning(driver, ctx);
  });
  return componentStatus(driver, ctx);
}

/** The Kafka nodes of this configuration: one, or three with TIDEMARK_KAFKA_NODES=3 (component, node id, ports). */
export function infraKafkaNodes(): KafkaNode[] {
  return context(() => undefined).kafka_nodes;
}

/**
 * The active KRaft controller, read from the nodes' own quorum state on disk (Kafka's Metadata API names a
 * random broker as "controller" in KRaft mode, so clients cannot tell). Null before the first election.
 */
export function kafkaActiveController(): { node: KafkaNode; leader_epoch: number } | null {
  const ctx = context(() => undefined);
  const texts = ctx.kafka_nodes.map((n) => {
    try {
      return readFileSync(join(ctx.paths.data(n.component), 'data', '__cluster_metadata-0', 'quorum-state'), 'utf8');
    } catch {
      return null;
    }
  });
  const active = activeControllerFromQuorumStates(texts);
  const node = active && ctx.kafka_nodes.find((n) => n.node_id === active.node_id);
  return node && active ? { node, leader_epoch: active.leader_epoch } : null;
}

/** Human-readable status table (for the CLI). */
export function formatStatus(status: InfraStatus): string {
  const rows = [['COMPONENT', 'VERSION', 'INSTALLED', 'PID', 'PORTS', 'RSS MiB', 'HEALTH']];
  for (const c of Object.values(status.components)) {
    rows.push([
      c.name,
      c.version ?? '-',
      c.installed ? 'yes' : 'no',
      c.pid === null ? '-' : String(c.pid),
      Object.values(c.ports).join(','),
      c.rss_mib === null ? '-' : c.pss_mib !== null && c.pss_mib < c.rss_mib * 0.9 ? `${c.rss_mib} (pss ${c.pss_mib})` : String(c.rss_mib),
      c.health,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (i === rows[0]!.length - 1 ? 0 : r[i]!.length))));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  const e = status.endpoints;
  lines.push(
    '',
    `state dir      ${status.state_dir}`,
    `kafka          ${e.kafka_brokers.join(',')}`,
    `registry       ${e.registry_url}`,
    `postgres       ${e.postgres_url}`,
    `jaeger otlp    ${e.jaeger_otlp_http_endpoint ?? `- (${e.jaeger_build ? `building: ${describeJaegerBuild(e.jaeger_build)}` : e.jaeger_unavailable_reason})`}`,
    `jaeger ui      ${e.jaeger_query_url ?? '-'}`,
    `prometheus     ${e.prometheus_url ?? '-'}`,
    `logs           ${Object.values(status.components)[0]?.log_file.replace(/[^/]+$/, '') ?? ''}`,
    `overall        ${status.ok ? 'OK' : 'NOT OK'}`,
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------- Prometheus targets and rules

/**
 * Registers a stack's services with Prometheus (file_sd: picked up within seconds, no reload):
 * `ports` maps each service to its /metrics port(s). Replaces the stack's earlier registration.
 */
export function registerScrapeTargets(stack: string, ports: Partial<Record<ScrapedService, number[]>>): void {
  const ctx = context(() => undefined);
  mkdirSync(ctx.paths.prometheus_targets_dir, { recursive: true });
  unregisterScrapeTargets(stack);
  for (const [service, list] of Object.entries(ports) as [ScrapedService, number[]][]) {
    if (list.length === 0) continue;
    const file = join(ctx.paths.prometheus_targets_dir, targetsFileName(service, stack));
    writeFileSync(`${file}.tmp`, fileSdTargets(list, stack));
    renameSync(`${file}.tmp`, file); // Prometheus watches the directory: never let it read half a file
  }
}

export function unregisterScrapeTargets(stack: string): void {
  const ctx = context(() => undefined);
  for (const service of SCRAPED_SERVICES) rmSync(join(ctx.paths.prometheus_targets_dir, targetsFileName(service, stack)), { force: true });
}

/** Asks the running Prometheus to re-read its config and rule files (POST /-/reload). */
export async function reloadPrometheus(): Promise<void> {
  const url = infraEndpoints().prometheus_url;
  if (!url) throw new Error('prometheus is not running (`npx tidemark infra up`)');
  const res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`POST ${url}/-/reload: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
}

/** Adds (or replaces) an extra rule file `<name>.yml` and reloads Prometheus; the text is validated by Prometheus on reload. */
export async function installRuleFile(name: string, yamlText: string): Promise<void> {
  const ctx = context(() => undefined);
  if (!/^[a-z0-9_-]+$/.test(name)) throw new Error(`rule file name ${JSON.stringify(name)}: use [a-z0-9_-]`);
  mkdirSync(ctx.paths.prometheus_rules_dir, { recursive: true });
  writeFileSync(join(ctx.paths.prometheus_rules_dir, `${name}.yml`), yamlText);
  await reloadPrometheus();
}

export async function removeRuleFile(name: string): Promise<void> {
  const ctx = context(() => undefined);
  rmSync(join(ctx.paths.prometheus_rules_dir, `${name}.yml`), { force: true });
  await reloadPrometheus();
}

/** The repo's alert rules file (what the local Prometheus loads). */
export function alertRulesFile(): string {
  const root = findRepoRoot();
  if (!root) throw new Error('cannot find the Tidemark repository root');
  return join(root, 'deploy', 'prometheus', 'alerts.yml');
}

/** Jaeger build info (duration of the last source build), if it was built here. */
export function jaegerBuildInfo(): { version: string; build_duration_ms: number; built_at: string } | null {
  return readJaegerBuildRecord(context(() => undefined));
}
