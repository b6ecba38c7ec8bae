/**
 * @tidemark/local-infra: installs and runs Tidemark's real infrastructure natively (no Docker) under a
 * git-ignored state folder: PostgreSQL, Apache Kafka (KRaft), Apicurio Registry 3, Prometheus and Jaeger v2.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV } from './components.js';
import { activeControllerFromQuorumStates, type KafkaNode } from './config.js';
import { componentName, context, DRIVERS, isKafkaNode, lock, OPTIONAL, unavailableFile } from './context.js';
import { buildJaegerInBackground } from './jaeger-build.js';
import { downUnlocked, ensureRunning, ensureRunningGroup, selectComponents, stopDriver } from './lifecycle.js';
import {
  InfraError,
  type ComponentStatus,
  type InfraEndpoints,
  type InfraStatus,
  type InfraUpOptions,
  type StopOptions,
  type StopResult,
} from './public-types.js';
import { componentStatus, endpointsFor, statusOf } from './status.js';

export { COMPONENT_NAMES, PORT_SPECS, POSTGRES, REQUIRED_COMPONENTS, TIMINGS, VERSIONS } from './components.js';
export type { ComponentName, PortName, Ports } from './components.js';
export { resolvePorts, PortConfigError, kafkaNodes, parseKafkaNodeCount, type KafkaNode } from './config.js';
export { describeJaegerBuild, type JaegerBuildProgress } from './drivers/jaeger.js';
export { SCRAPED_SERVICES, type ScrapedService } from './components.js';
export { DASHBOARD_PANELS, deriveRules, graphUrl } from './prometheus.js';
export type { ComponentStatus, InfraEndpoints, InfraStatus, InfraUpOptions, StopOptions, StopResult } from './public-types.js';
export { InfraError } from './public-types.js';
export {
  clusterRoleStatements,
  databaseStatements,
  provisionDatabase,
  provisionDatabaseAt,
  serviceDatabaseUrl,
  localServiceDatabaseUrl,
  DB_SERVICES,
  DLQ_STATE_SCHEMA,
  LEDGER_READER_ROLE,
  SERVICE_DB_ROLES,
  type DbService,
} from './db-roles.js';
export { localKafkaClientEnv, localKafkaEndpoint, platformPrincipals, stateDirPaths } from './kafka-security.js';
export { COMPOSE_KAFKA, composeKafkaFiles, composePasswordVar } from './compose.js';
export { formatStatus } from './status.js';
export { jaegerBuildInfo, runJaegerBuild } from './jaeger-build.js';
export {
  alertRulesFile,
  installRuleFile,
  registerScrapeTargets,
  reloadPrometheus,
  removeRuleFile,
  unregisterScrapeTargets,
} from './prometheus-targets.js';

// ---------------------------------------------------------------- public API

/** Creates or replaces SCRAM-SHA-512 credentials on the local broker (as the admin principal). */
export async function upsertKafkaUsers(users: Readonly<Record<string, string>>): Promise<void> {
  const { upsertScramUsers } = await import('./kafka-security.js');
  await upsertScramUsers(context(), users);
}

/** Deletes SCRAM credentials on the local broker; returns the users that had none. */
export async function deleteKafkaUsers(users: readonly string[]): Promise<string[]> {
  const { deleteScramUsers } = await import('./kafka-security.js');
  return deleteScramUsers(context(), users);
}

/** Users with SCRAM credentials on the local broker. */
export async function listKafkaUsers(): Promise<string[]> {
  const { listScramUsers } = await import('./kafka-security.js');
  return listScramUsers(context());
}

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
        if (name === components.find(isKafkaNode))
          await ensureRunningGroup(
            components.filter(isKafkaNode).map((c) => DRIVERS[c]),
            ctx,
          );
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

/** Per component: installed, running, pid, ports, version, health, log file, memory. Starts nothing. */
export async function infraStatus(): Promise<InfraStatus> {
  return statusOf(context(() => undefined));
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
