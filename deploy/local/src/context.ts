/** Shared internals: the drivers, the per-call context, component selection helpers, the state lock and pid ownership. */
import { join } from 'node:path';
import { COMPONENT_NAMES, ENV, KAFKA_NODE_COMPONENTS, REQUIRED_COMPONENTS, type ComponentName } from './components.js';
import { kafkaNodes, parseKafkaNodeCount, parseKafkaSecurity, resolvePorts } from './config.js';
import { apicurioDriver } from './drivers/apicurio.js';
import { jaegerDriver } from './drivers/jaeger.js';
import { kafkaDrivers } from './drivers/kafka.js';
import { postgresDriver } from './drivers/postgres.js';
import { prometheusDriver } from './drivers/prometheus.js';
import type { Driver, InfraContext } from './drivers/types.js';
import { withLock } from './lock.js';
import { findProcesses, isAlive, readCmdline, readPidFile, writePidFile } from './proc.js';
import { resolveStateDir, statePaths } from './paths.js';

export const DRIVERS: Record<ComponentName, Driver> = {
  postgres: postgresDriver,
  ...kafkaDrivers,
  apicurio: apicurioDriver,
  prometheus: prometheusDriver,
  jaeger: jaegerDriver,
};

export const DEPENDENCIES: Record<ComponentName, ComponentName[]> = {
  postgres: [],
  kafka: [],
  'kafka-2': [],
  'kafka-3': [],
  apicurio: ['postgres'],
  prometheus: [],
  jaeger: [],
};

export const OPTIONAL: ReadonlySet<ComponentName> = new Set(['jaeger']);
const LOCK_WAIT_MS = 30 * 60_000;

const defaultLog = (line: string) => process.stderr.write(`[infra] ${line}\n`);

export function context(log?: (line: string) => void): InfraContext {
  const ports = resolvePorts(process.env);
  return {
    paths: statePaths(resolveStateDir(process.env)),
    ports,
    kafka_nodes: kafkaNodes(ports, parseKafkaNodeCount(process.env[ENV.kafka_nodes])),
    kafka_security: parseKafkaSecurity(process.env[ENV.kafka_security]),
    env: process.env,
    log: log ?? defaultLog,
  };
}

export const isKafkaNode = (name: ComponentName): boolean => (KAFKA_NODE_COMPONENTS as readonly string[]).includes(name);

/** Components of this configuration: Kafka nodes 2 and 3 exist only in cluster mode. */
export function activeComponents(ctx: InfraContext): ComponentName[] {
  return COMPONENT_NAMES.filter((c) => !isKafkaNode(c) || ctx.kafka_nodes.some((n) => n.component === c));
}

/** Required for `ok`: postgres, apicurio and every Kafka node of the configuration. */
export function requiredComponents(ctx: InfraContext): ComponentName[] {
  return activeComponents(ctx).filter((c) => REQUIRED_COMPONENTS.includes(c) || isKafkaNode(c));
}

export function componentName(name: string): ComponentName {
  if ((COMPONENT_NAMES as readonly string[]).includes(name)) return name as ComponentName;
  throw new Error(`unknown component "${name}" (known: ${COMPONENT_NAMES.join(', ')})`);
}

export function lock<T>(ctx: InfraContext, fn: () => Promise<T>): Promise<T> {
  return withLock(ctx.paths.lock_file, { wait_timeout_ms: LOCK_WAIT_MS, log: ctx.log }, fn);
}

/** Our live pid for the component: from the pid file if its command line is ours, else adopted from /proc. */
export function ownedPid(driver: Driver, ctx: InfraContext, adopt = true): number | null {
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

export function unavailableFile(ctx: InfraContext, name: ComponentName): string {
  return join(ctx.paths.run_dir, `${name}.unavailable`);
}
