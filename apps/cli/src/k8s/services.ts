/**
 * The deployable services, as data: what the Kubernetes generator needs beyond the topic catalog (which
 * already says which topic each consumer reads). Secrets are named here by key, never by value.
 */

export interface SecretEnv {
  /** Environment variable the service reads. */
  env: string;
  /** Secret object and key that hold the value. */
  secret: string;
  key: string;
  /** The service starts without it. */
  optional?: boolean;
}

export interface Resources {
  cpu_request: string;
  memory_request_mib: number;
  cpu_limit: string;
  memory_limit_mib: number;
}

export interface ServiceSpec {
  name: 'ingress' | 'dedupe' | 'compliance-screening' | 'ledger-projector' | 'reconciler' | 'console';
  /** `http`: serves requests behind a Service; `consumer`: reads its catalog input (scaled on lag); `scheduled`: one instance on a timer. */
  role: 'http' | 'consumer' | 'scheduled';
  /** Port of the HTTP API and/or the ops endpoints (/healthz, /readyz, /metrics), and the variables that set it. */
  port: number;
  port_env: string;
  host_env: string;
  /** Expose a Service object (ingress: providers' webhooks; ledger-projector: the read API). */
  expose: boolean;
  /** Fixed replicas (consumers: the floor of the autoscaler). */
  replicas_min: number;
  resources: Resources;
  secrets: SecretEnv[];
  /** Container command (default: the image's, which runs services/<name>/src/main.ts). */
  command?: string[];
  /** Extra non-secret environment of this service. */
  env?: Record<string, string>;
}

/**
 * Each stateful service connects as its own least-privilege Postgres role (deploy/local/src/db-roles.ts:
 * owner of its schema only; the reconciler read-only on the ledger), so each has its own URL.
 */
const databaseUrl = (service: string): SecretEnv => ({ env: 'TIDEMARK_DATABASE_URL', secret: 'tidemark-database', key: `${service}-url` });

export const SERVICES: readonly ServiceSpec[] = [
  {
    name: 'ingress',
    role: 'http',
    port: 8080,
    port_env: 'TIDEMARK_INGRESS_PORT',
    host_env: 'TIDEMARK_INGRESS_HOST',
    expose: true,
    replicas_min: 2,
    resources: { cpu_request: '500m', memory_request_mib: 256, cpu_limit: '1', memory_limit_mib: 512 },
    secrets: [
      { env: 'TIDEMARK_GENERIC_SECRETS', secret: 'tidemark-provider-secrets', key: 'generic' },
      { env: 'TIDEMARK_LEDGERPAY_SECRETS', secret: 'tidemark-provider-secrets', key: 'ledgerpay', optional: true },
      { env: 'TIDEMARK_CUSTODIAN_X_SECRETS', secret: 'tidemark-provider-secrets', key: 'custodian-x', optional: true },
    ],
  },
  {
    name: 'dedupe',
    role: 'consumer',
    port: 8082,
    port_env: 'TIDEMARK_DEDUPE_PORT',
    host_env: 'TIDEMARK_DEDUPE_HOST',
    expose: false,
    replicas_min: 1,
    resources: { cpu_request: '250m', memory_request_mib: 256, cpu_limit: '1', memory_limit_mib: 512 },
    secrets: [databaseUrl('dedupe')],
  },
  {
    name: 'compliance-screening',
    role: 'consumer',
    port: 8083,
    port_env: 'TIDEMARK_SCREENING_PORT',
    host_env: 'TIDEMARK_SCREENING_HOST',
    expose: false,
    replicas_min: 1,
    resources: { cpu_request: '250m', memory_request_mib: 256, cpu_limit: '1', memory_limit_mib: 512 },
    secrets: [
      databaseUrl('compliance-screening'),
      { env: 'TIDEMARK_RISK_API_KEY', secret: 'tidemark-risk-api', key: 'api-key', optional: true },
      { env: 'TIDEMARK_SCREENING_ADMIN_TOKEN', secret: 'tidemark-screening', key: 'admin-token', optional: true },
    ],
  },
  {
    name: 'ledger-projector',
    role: 'consumer',
    port: 8090,
    port_env: 'TIDEMARK_LEDGER_API_PORT',
    host_env: 'TIDEMARK_LEDGER_API_HOST',
    expose: true,
    replicas_min: 1,
    resources: { cpu_request: '500m', memory_request_mib: 384, cpu_limit: '1', memory_limit_mib: 768 },
    secrets: [databaseUrl('ledger-projector'), { env: 'TIDEMARK_API_TOKENS', secret: 'tidemark-api-tokens', key: 'tokens' }],
  },
  {
    name: 'reconciler',
    role: 'scheduled',
    port: 8084,
    port_env: 'TIDEMARK_RECONCILER_OPS_PORT',
    host_env: 'TIDEMARK_RECONCILER_OPS_HOST',
    expose: false,
    replicas_min: 1,
    resources: { cpu_request: '250m', memory_request_mib: 512, cpu_limit: '1', memory_limit_mib: 1024 },
    secrets: [databaseUrl('reconciler')],
    // Scheduled mode: one run per interval over the window since the configured start (a ConfigMap key).
    command: [
      'node',
      'bin/tidemark.mjs',
      'reconcile',
      '--provider',
      'generic',
      '--since',
      '$(TIDEMARK_RECONCILE_SINCE)',
      '--schedule',
      '$(TIDEMARK_RECONCILE_INTERVAL_S)',
    ],
  },
  {
    // The ops console: sessions live in its memory, so one instance. Its own Kafka principal works dead letters
    // only; the reconciliations it starts run as the reconciler (its database role and its Kafka principal).
    name: 'console',
    role: 'http',
    port: 8095,
    port_env: 'TIDEMARK_CONSOLE_PORT',
    host_env: 'TIDEMARK_CONSOLE_HOST',
    expose: true,
    replicas_min: 1,
    resources: { cpu_request: '100m', memory_request_mib: 192, cpu_limit: '500m', memory_limit_mib: 512 },
    secrets: [
      // The dead-letter operator state (stream_dlq_state).
      databaseUrl('console'),
      { env: 'TIDEMARK_API_TOKENS', secret: 'tidemark-api-tokens', key: 'tokens' },
      { env: 'TIDEMARK_CONSOLE_RECONCILER_DATABASE_URL', secret: 'tidemark-database', key: 'reconciler-url' },
      // Strimzi's User Operator keeps the reconciler's password in the Secret named after its KafkaUser.
      { env: 'TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD', secret: 'tidemark-reconciler', key: 'password' },
    ],
    env: {
      TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME: 'tidemark-reconciler',
      TIDEMARK_CONSOLE_LEDGER_URL: 'http://ledger-projector:8090',
      // The services with a Service object (the consumers have none to scrape through).
      TIDEMARK_CONSOLE_TARGETS: 'ingress=http://ingress:8080,ledger-projector=http://ledger-projector:8090',
      TIDEMARK_CONSOLE_SECURE_COOKIE: 'true',
    },
  },
];
