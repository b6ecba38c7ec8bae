/**
 * Data file: versions, default ports (and the environment variables that override them),
 * timeouts and sizing of the native local infrastructure. No logic beyond constants.
 */

export const COMPONENT_NAMES = ['postgres', 'kafka', 'kafka-2', 'kafka-3', 'apicurio', 'prometheus', 'jaeger'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

/**
 * The KRaft nodes, in node-id order: `kafka` is node 1 (the only one in the default single-node mode);
 * `kafka-2` and `kafka-3` run only in cluster mode (TIDEMARK_KAFKA_NODES=3).
 */
export const KAFKA_NODE_COMPONENTS = ['kafka', 'kafka-2', 'kafka-3'] as const satisfies readonly ComponentName[];
export type KafkaNodeComponent = (typeof KAFKA_NODE_COMPONENTS)[number];

/** Components `infraUp()` starts when none are named (Jaeger is added when available, see jaeger driver). */
export const REQUIRED_COMPONENTS: readonly ComponentName[] = ['postgres', 'kafka', 'apicurio', 'prometheus'];

/** Everything listens on loopback only. */
export const HOST = '127.0.0.1';

export const VERSIONS = {
  kafka: '4.4.0',
  kafka_scala: '2.13',
  log4j: '2.24.3',
  slf4j: '2.0.17',
  apicurio: '3.3.3',
  /** Go module version of github.com/jaegertracing/jaeger; the v2 binary built from it is `jaeger_v2`. */
  jaeger_module: 'v1.76.0',
  jaeger_v2: 'v2.13.0',
  maven_dependency_plugin: '3.8.1',
} as const;

/** Minimum Java major version per JVM component (Kafka 4 needs 17; Apicurio 3.3 is compiled for 21). */
export const JAVA_MIN_MAJOR = {
  kafka: 17,
  apicurio: 21,
} as const;

/** Where to look for more JVMs when the default `java` is too old (Debian and Temurin packages install here). */
export const JVM_SEARCH_DIR = '/usr/lib/jvm';

export const MAVEN = {
  kafka_artifact: `org.apache.kafka:kafka_${VERSIONS.kafka_scala}:${VERSIONS.kafka}`,
  apicurio_artifact: `io.apicurio:apicurio-registry-app:${VERSIONS.apicurio}:tar.gz:all`,
  dependency_plugin: `org.apache.maven.plugins:maven-dependency-plugin:${VERSIONS.maven_dependency_plugin}`,
} as const;

export const JAEGER_MODULE = 'github.com/jaegertracing/jaeger';

export interface PortSpec {
  env: string;
  default_port: number;
  component: ComponentName;
  description: string;
}

export const PORT_SPECS = {
  kafka: {
    env: 'TIDEMARK_KAFKA_PORT',
    default_port: 9092,
    component: 'kafka',
    description: 'Kafka client listener (SASL_SSL with SCRAM-SHA-512; PLAINTEXT with TIDEMARK_KAFKA_SECURITY=plaintext)',
  },
  kafka_controller: {
    env: 'TIDEMARK_KAFKA_CONTROLLER_PORT',
    default_port: 9093,
    component: 'kafka',
    description: 'Kafka KRaft controller listener (TLS with broker certificates only; PLAINTEXT in plaintext mode)',
  },
  registry: {
    env: 'TIDEMARK_REGISTRY_PORT',
    default_port: 8081,
    component: 'apicurio',
    description: 'Apicurio Registry HTTP (ccompat API at /apis/ccompat/v7)',
  },
  registry_management: {
    env: 'TIDEMARK_REGISTRY_MANAGEMENT_PORT',
    default_port: 9081,
    component: 'apicurio',
    description: 'Apicurio Registry management interface (/health, /metrics)',
  },
  postgres: { env: 'TIDEMARK_PG_PORT', default_port: 55432, component: 'postgres', description: 'PostgreSQL' },
  otlp_grpc: { env: 'TIDEMARK_OTLP_GRPC_PORT', default_port: 4317, component: 'jaeger', description: 'Jaeger OTLP gRPC receiver' },
  otlp_http: { env: 'TIDEMARK_OTLP_HTTP_PORT', default_port: 4318, component: 'jaeger', description: 'Jaeger OTLP HTTP receiver' },
  jaeger_ui: { env: 'TIDEMARK_JAEGER_UI_PORT', default_port: 16686, component: 'jaeger', description: 'Jaeger query HTTP API and UI' },
  jaeger_query_grpc: {
    env: 'TIDEMARK_JAEGER_QUERY_GRPC_PORT',
    default_port: 16685,
    component: 'jaeger',
    description: 'Jaeger query gRPC API',
  },
  jaeger_health: {
    env: 'TIDEMARK_JAEGER_HEALTH_PORT',
    default_port: 13133,
    component: 'jaeger',
    description: 'Jaeger healthcheckv2 extension',
  },
  prometheus: {
    env: 'TIDEMARK_PROMETHEUS_PORT',
    default_port: 9090,
    component: 'prometheus',
    description: 'Prometheus UI and HTTP API',
  },
} as const satisfies Record<string, PortSpec>;

export type PortName = keyof typeof PORT_SPECS;
export type Ports = Record<PortName, number>;

export interface ComponentTiming {
  /** How long `up` waits for the component to become healthy. */
  health_timeout_ms: number;
  /** How long a graceful stop may take before SIGKILL. */
  stop_timeout_ms: number;
}

export const TIMINGS: Record<ComponentName, ComponentTiming> = {
  postgres: { health_timeout_ms: 30_000, stop_timeout_ms: 30_000 },
  // A node restarted after kill -9 recovers every partition's log first: 71 s seen on the loaded 2-core machine.
  kafka: { health_timeout_ms: 120_000, stop_timeout_ms: 30_000 },
  'kafka-2': { health_timeout_ms: 120_000, stop_timeout_ms: 30_000 },
  'kafka-3': { health_timeout_ms: 120_000, stop_timeout_ms: 30_000 },
  apicurio: { health_timeout_ms: 120_000, stop_timeout_ms: 20_000 },
  jaeger: { health_timeout_ms: 30_000, stop_timeout_ms: 10_000 },
  prometheus: { health_timeout_ms: 60_000, stop_timeout_ms: 20_000 },
};

export const INSTALL_TIMEOUTS_MS = {
  maven: 10 * 60_000,
  extract: 5 * 60_000,
  apt: 15 * 60_000,
  // Cold, on a busy 2-core machine with a slow module proxy, one build took longer than 30 min.
  jaeger_build: 90 * 60_000,
  initdb: 2 * 60_000,
  kafka_format: 60_000,
} as const;

export const HEALTH_POLL_INTERVAL_MS = 500;
export const LOG_TAIL_LINES = 30;

export const JVM = {
  kafka_heap_mib: 768,
  /** Per node in cluster mode: three brokers share the 2-core dev machine with everything else. */
  kafka_cluster_heap_mib: 512,
  apicurio_heap_mib: 384,
} as const;

export const POSTGRES = {
  superuser: 'postgres',
  user: 'tidemark',
  password: 'tidemark',
  database: 'tidemark',
  registry_user: 'apicurio',
  registry_password: 'apicurio',
  registry_database: 'apicurio',
  /** OS user that runs postgres when we are root: the Debian `postgres` user if present, else this one is created. */
  fallback_os_user: 'tidemark-pg',
  shared_buffers: '256MB',
  max_connections: 200,
  apt_package: 'postgresql',
} as const;

export const KAFKA = {
  num_partitions: 6,
  internal_topic_partitions: 10,
  /** Allowed values of TIDEMARK_KAFKA_NODES: one node, or a three-voter KRaft quorum (every node broker + controller). */
  node_counts: [1, 3],
  /** Node n (1-based) listens on TIDEMARK_KAFKA_PORT + (n-1)*step and TIDEMARK_KAFKA_CONTROLLER_PORT + (n-1)*step. */
  node_port_step: 10,
  /** Security modes of TIDEMARK_KAFKA_SECURITY: sasl_ssl (default) or plaintext (the escape hatch, for comparisons). */
  security_modes: ['sasl_ssl', 'plaintext'],
  /** The platform's super-user (topics, ACLs, credentials; also the inter-broker principal). */
  admin_principal: 'tidemark-admin',
  /**
   * Principals created with their SCRAM credentials when the storage is formatted: the admin and one per service.
   * Must equal the catalog's services (schemas/topics.json; checked by apps/cli/src/access.test.ts).
   */
  service_principals: [
    'tidemark-ingress',
    'tidemark-dedupe',
    'tidemark-compliance-screening',
    'tidemark-ledger-projector',
    'tidemark-reconciler',
    'tidemark-console',
  ],
  scram_mechanism: 'SCRAM-SHA-512',
  /** Subject of the broker certificate; its principal `User:CN=…` is a super-user (controller listener, mutual TLS). */
  broker_cert_cn: 'tidemark-broker',
  ca_cn: 'Tidemark local CA',
  cert_validity_days: 3650,
  /** Internal topics (offsets, transactions, share state) and broker defaults per mode. */
  single: { replication_factor: 1, min_insync_replicas: 1 },
  cluster: { replication_factor: 3, min_insync_replicas: 2 },
} as const;

export const APICURIO = {
  jdbc_pool_initial_size: 2,
  jdbc_pool_min_size: 2,
  jdbc_pool_max_size: 20,
} as const;

export const PROMETHEUS = {
  apt_package: 'prometheus',
  /** The Debian package's systemd unit (started on install on systemd machines; we run our own instance instead). */
  systemd_unit: 'prometheus',
  /** Local stacks are small: scrape and evaluate often so alerts and dashboards react within seconds. */
  scrape_interval_s: 5,
  scrape_timeout_s: 4,
  evaluation_interval_s: 5,
  retention_time: '7d',
  retention_size: '2GB',
  /** Exemplars kept in memory (trace ids on the latency histograms; needs --enable-feature=exemplar-storage). */
  max_exemplars: 100_000,
  /** Job name prefix per service; TidemarkServiceDown matches `tidemark-.*`. */
  job_prefix: 'tidemark-',
} as const;

/**
 * Services Prometheus scrapes (their `/metrics`): one job each, targets from file_sd files under
 * conf/prometheus-targets/ that whoever starts the services writes (`npm start`, the test harness).
 */
export const SCRAPED_SERVICES = ['ingress', 'dedupe', 'compliance-screening', 'ledger-projector', 'reconciler'] as const;
export type ScrapedService = (typeof SCRAPED_SERVICES)[number];

export const ENV = {
  state_dir: 'TIDEMARK_STATE_DIR',
  /** `1` adds Jaeger to the default component set (building it if needed); `0` leaves it out even when cached. */
  jaeger: 'TIDEMARK_JAEGER',
  pg_bin_dir: 'TIDEMARK_PG_BIN_DIR',
  pg_os_user: 'TIDEMARK_PG_OS_USER',
  java: 'TIDEMARK_JAVA',
  /** `1` (default): single KRaft node; `3`: three-node cluster (replication 3, min ISR 2). */
  kafka_nodes: 'TIDEMARK_KAFKA_NODES',
  /** `sasl_ssl` (default): SCRAM over TLS with ACLs; `plaintext`: no authentication (set before the first `infra up`). */
  kafka_security: 'TIDEMARK_KAFKA_SECURITY',
} as const;
