import type { ComponentName, PortName, Ports } from '../components.js';
import type { KafkaNode, KafkaSecurityMode } from '../config.js';
import type { Health } from '../health.js';
import type { StatePaths } from '../paths.js';

export interface InfraContext {
  paths: StatePaths;
  ports: Ports;
  /** The KRaft nodes to run: one by default, three in cluster mode (TIDEMARK_KAFKA_NODES=3). */
  kafka_nodes: KafkaNode[];
  /** TIDEMARK_KAFKA_SECURITY: sasl_ssl (default) or plaintext. */
  kafka_security: KafkaSecurityMode;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface Driver {
  readonly name: ComponentName;
  /** Signal for a graceful stop (postgres: SIGINT = fast shutdown; SIGTERM would wait for clients). */
  readonly stop_signal: NodeJS.Signals;
  /** Ports this component listens on. */
  ports(ctx: InfraContext): Partial<Record<PortName, number>>;
  /** Is `cmdline` our process for this state dir (guards against pid reuse and foreign instances)? */
  owns(cmdline: string, ctx: InfraContext): boolean;
  isInstalled(ctx: InfraContext): boolean;
  /** Why the component cannot be installed/started, if known up front (e.g. Jaeger not built). */
  unavailableReason?(ctx: InfraContext): string | null;
  /** Download/build into the cache. Idempotent; called only when !isInstalled. */
  install(ctx: InfraContext): Promise<void>;
  /** Write configs, initialise data if needed and spawn the detached process. Returns its pid. */
  start(ctx: InfraContext): Promise<number>;
  health(ctx: InfraContext): Promise<Health>;
  /** Idempotent work after the component is healthy (postgres: roles and databases). */
  afterHealthy?(ctx: InfraContext): Promise<void>;
  version(ctx: InfraContext): string | null;
  /** Extra files the log tail should include on failure (e.g. the Jaeger build log). */
  extraLogs?(ctx: InfraContext): string[];
}
