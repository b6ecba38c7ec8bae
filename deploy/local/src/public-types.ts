/** Public types of @tidemark/local-infra (re-exported by index.ts) and the error thrown when a component fails. */
import { LOG_TAIL_LINES, type ComponentName, type PortName } from './components.js';
import type { JaegerBuildProgress } from './drivers/jaeger.js';

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
