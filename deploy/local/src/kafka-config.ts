/**
 * Pure configuration generation for the local Kafka (KRaft): its nodes and ports, listener and
 * server properties (with SASL_SSL + SCRAM when secured), logging, the Maven pom of its jars, and
 * the command lines that format and run it. No I/O, unit tested through config.ts.
 */
import { randomBytes } from 'node:crypto';
import {
  ENV,
  HOST,
  JVM,
  KAFKA,
  KAFKA_NODE_COMPONENTS,
  MAVEN,
  PORT_SPECS,
  VERSIONS,
  type KafkaNodeComponent,
  type PortName,
  type Ports,
} from './components.js';
import { commonJvmArgs } from './jvm.js';
import { PortConfigError } from './ports.js';

/** A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars), like `kafka-storage random-uuid`. */
export function generateKafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** One KRaft node (broker + controller) of the local Kafka: node 1 is the `kafka` component. */
export interface KafkaNode {
  component: KafkaNodeComponent;
  node_id: number;
  port: number;
  controller_port: number;
}

/** TIDEMARK_KAFKA_NODES: 1 (default) or 3. */
export function parseKafkaNodeCount(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 1;
  const count = Number(raw.trim());
  if (!(KAFKA.node_counts as readonly number[]).includes(count)) {
    throw new PortConfigError(
      `${ENV.kafka_nodes}=${JSON.stringify(raw)} is not supported (expected one of ${KAFKA.node_counts.join(', ')})`,
    );
  }
  return count;
}

/**
 * The Kafka nodes for `count` (1 or 3): node n listens on the configured Kafka ports + (n-1) * node_port_step.
 * Throws when a derived port collides with another configured port or leaves the port range.
 */
export function kafkaNodes(ports: Ports, count: number): KafkaNode[] {
  const nodes: KafkaNode[] = KAFKA_NODE_COMPONENTS.slice(0, count).map((component, i) => ({
    component,
    node_id: i + 1,
    port: ports.kafka + i * KAFKA.node_port_step,
    controller_port: ports.kafka_controller + i * KAFKA.node_port_step,
  }));
  const taken = new Map<number, string>();
  for (const [name, port] of Object.entries(ports) as [PortName, number][]) {
    if (name !== 'kafka' && name !== 'kafka_controller') taken.set(port, PORT_SPECS[name].env);
  }
  for (const node of nodes) {
    for (const [what, port] of [
      ['listener', node.port],
      ['controller listener', node.controller_port],
    ] as const) {
      const label = `Kafka node ${node.node_id} ${what} (port ${port})`;
      if (port > 65535) throw new PortConfigError(`${label} is out of range: lower TIDEMARK_KAFKA_PORT / TIDEMARK_KAFKA_CONTROLLER_PORT`);
      const other = taken.get(port);
      if (other !== undefined) {
        throw new PortConfigError(`${label} collides with ${other}; Kafka node n uses the Kafka ports + ${KAFKA.node_port_step}*(n-1)`);
      }
      taken.set(port, label);
    }
  }
  return nodes;
}

/**
 * The active KRaft controller from the nodes' `__cluster_metadata-0/quorum-state` files (JSON with leaderId and
 * leaderEpoch, rewritten on every election): the leader of the highest epoch. Null when no node knows a leader.
 * Unreadable or partial files (a node writing its state) are skipped.
 */
export function activeControllerFromQuorumStates(texts: ReadonlyArray<string | null>): { node_id: number; leader_epoch: number } | null {
  let best: { node_id: number; leader_epoch: number } | null = null;
  for (const text of texts) {
    if (!text) continue;
    let state: { leaderId?: unknown; leaderEpoch?: unknown };
    try {
      state = JSON.parse(text) as typeof state;
    } catch {
      continue;
    }
    if (typeof state.leaderId !== 'number' || typeof state.leaderEpoch !== 'number' || state.leaderId < 0) continue;
    if (best === null || state.leaderEpoch > best.leader_epoch) best = { node_id: state.leaderId, leader_epoch: state.leaderEpoch };
  }
  return best;
}

export type KafkaSecurityMode = (typeof KAFKA.security_modes)[number];

/** TIDEMARK_KAFKA_SECURITY: sasl_ssl (default) or plaintext. */
export function parseKafkaSecurity(raw: string | undefined): KafkaSecurityMode {
  if (raw === undefined || raw.trim() === '') return 'sasl_ssl';
  const v = raw.trim().toLowerCase();
  if (!(KAFKA.security_modes as readonly string[]).includes(v)) {
    throw new PortConfigError(
      `${ENV.kafka_security}=${JSON.stringify(raw)} is not supported (expected one of ${KAFKA.security_modes.join(', ')})`,
    );
  }
  return v as KafkaSecurityMode;
}

/** The broker's TLS material and the admin's secret (sasl_ssl mode). */
export interface KafkaBrokerSecurity {
  /** PKCS12 keystore: the broker's key and certificate (signed by the local CA). */
  keystore: string;
  keystore_password: string;
  /** PEM file of the local CA: trusted for the controller listener's mutual TLS. */
  ca_file: string;
  /** The admin principal's SCRAM password (the inter-broker login). */
  admin_password: string;
}

export interface KafkaPropsInput {
  /** The node this file is for. */
  node: KafkaNode;
  /** Every node of the cluster (one in single-node mode). */
  nodes: readonly KafkaNode[];
  log_dir: string;
  /** sasl_ssl mode: SASL_SSL clients and inter-broker, mutual TLS between brokers and controllers, ACLs. Null: PLAINTEXT. */
  security?: KafkaBrokerSecurity | null;
  /** Where the listeners bind ('' = every interface) and the host clients and controllers are told; default 127.0.0.1. */
  hosts?: KafkaHosts;
}

export type KafkaHosts = { listen: string; advertised: string };
const LOCAL_HOSTS: KafkaHosts = { listen: HOST, advertised: HOST };

/**
 * Listener and authorizer settings. sasl_ssl: clients and brokers (inter-broker, as the admin super-user) speak SCRAM-SHA-512
 * over TLS on the client port; the controller listener takes TLS with a certificate signed by the local CA only (the brokers'
 * own, whose principal is a super-user), so nothing without the CA's key reaches the controllers. Every request is authorized
 * by KRaft's StandardAuthorizer with no ACL meaning no access.
 */
export function kafkaListenerProperties(
  node: KafkaNode,
  security: KafkaBrokerSecurity | null | undefined,
  hosts: KafkaHosts = LOCAL_HOSTS,
): [string, string | number][] {
  if (!security) {
    return [
      ['listeners', `PLAINTEXT://${hosts.listen}:${node.port},CONTROLLER://${hosts.listen}:${node.controller_port}`],
      ['advertised.listeners', `PLAINTEXT://${hosts.advertised}:${node.port}`],
      ['controller.listener.names', 'CONTROLLER'],
      ['inter.broker.listener.name', 'PLAINTEXT'],
      ['listener.security.protocol.map', 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT'],
    ];
  }
  const mech = KAFKA.scram_mechanism;
  return [
    ['listeners', `SASL_SSL://${hosts.listen}:${node.port},CONTROLLER://${hosts.listen}:${node.controller_port}`],
    ['advertised.listeners', `SASL_SSL://${hosts.advertised}:${node.port}`],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'SASL_SSL'],
    ['listener.security.protocol.map', 'CONTROLLER:SSL,SASL_SSL:SASL_SSL'],
    ['sasl.enabled.mechanisms', mech],
    ['sasl.mechanism.inter.broker.protocol', mech],
    [
      `listener.name.sasl_ssl.${mech.toLowerCase()}.sasl.jaas.config`,
      `org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA.admin_principal}" password="${security.admin_password}";`,
    ],
    ['ssl.keystore.type', 'PKCS12'],
    ['ssl.keystore.location', security.keystore],
    ['ssl.keystore.password', security.keystore_password],
    ['ssl.key.password', security.keystore_password],
    ['ssl.truststore.type', 'PEM'],
    ['ssl.truststore.location', security.ca_file],
    ['listener.name.controller.ssl.client.auth', 'required'],
    ['authorizer.class.name', 'org.apache.kafka.metadata.authorizer.StandardAuthorizer'],
    ['allow.everyone.if.no.acl.found', 'false'],
    ['super.users', `User:${KAFKA.admin_principal};User:CN=${KAFKA.broker_cert_cn}`],
  ];
}

/** Replication of internal topics and broker defaults: 1/1 for one node, 3/2 for the cluster. */
export function kafkaReplication(nodeCount: number): { replication_factor: number; min_insync_replicas: number } {
  return nodeCount > 1 ? KAFKA.cluster : KAFKA.single;
}

export function kafkaServerProperties(input: KafkaPropsInput): string {
  const lines = kafkaServerPropertyList(input).map(([k, v]) => `${k}=${v}`);
  return `# Generated by @tidemark/local-infra; rewritten on every start. Edit deploy/local/src/kafka-config.ts instead.\n${lines.join('\n')}\n`;
}

/** The broker's properties (kafkaServerProperties; also the docker-compose broker's, deploy/local/src/compose.ts). */
export function kafkaServerPropertyList(input: KafkaPropsInput): [string, string | number][] {
  const { node, nodes, log_dir, security } = input;
  const hosts = input.hosts ?? LOCAL_HOSTS;
  const r = kafkaReplication(nodes.length);
  const quorum: [string, string | number][] =
    nodes.length === 1
      ? // --standalone formatting records a dynamic quorum: bootstrap servers, not static voters.
        [['controller.quorum.bootstrap.servers', `${hosts.advertised}:${node.controller_port}`]]
      : // A static three-voter quorum: the voter set lives in the config, so every node is formatted the same way.
        [['controller.quorum.voters', nodes.map((n) => `${n.node_id}@${hosts.advertised}:${n.controller_port}`).join(',')]];
  const p: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', node.node_id],
    ...quorum,
    ...kafkaListenerProperties(node, security, hosts),
    ['log.dirs', log_dir],
    // Internal topics and defaults must fit the node count (one node: 1/1, else groups and transactions hang).
    ['num.partitions', KAFKA.num_partitions],
    ['default.replication.factor', r.replication_factor],
    ['min.insync.replicas', r.min_insync_replicas],
    ['offsets.topic.replication.factor', r.replication_factor],
    ['offsets.topic.num.partitions', KAFKA.internal_topic_partitions],
    ['transaction.state.log.replication.factor', r.replication_factor],
    ['transaction.state.log.min.isr', r.min_insync_replicas],
    ['transaction.state.log.num.partitions', KAFKA.internal_topic_partitions],
    ['share.coordinator.state.topic.replication.factor', r.replication_factor],
    ['share.coordinator.state.topic.min.isr', r.min_insync_replicas],
    // A replica that is not in sync never becomes leader: acknowledged writes are never lost to a failover.
    ['unclean.leader.election.enable', 'false'],
    ['group.initial.rebalance.delay.ms', 0],
    // Topics are created explicitly (`tidemark topics apply`), never by a typo in a producer.
    ['auto.create.topics.enable', 'false'],
    ['delete.topic.enable', 'true'],
    // Sized for a 2-core dev machine.
    ['num.network.threads', 3],
    ['num.io.threads', 4],
    ['num.recovery.threads.per.data.dir', 2],
    ['log.cleaner.dedupe.buffer.size', 32 * 1024 * 1024],
    ['log.cleaner.threads', 1],
  ];
  return p;
}

/** log4j2 YAML (Kafka's jars include jackson-dataformat-yaml): console output goes to the component log file. */
export function kafkaLog4j2Yaml(): string {
  return `# Generated by @tidemark/local-infra
Configuration:
  name: tidemark-kafka
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d{ISO8601}] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: INFO
      - name: state.change.logger
        level: WARN
      - name: kafka.log.LogCleaner
        level: WARN
      - name: org.apache.kafka.storage.internals.log
        level: WARN
      - name: kafka.authorizer.logger
        level: WARN
`;
}

/**
 * A throwaway pom whose runtime dependencies are exactly the broker's classpath: Kafka plus the log4j2
 * backend bound through slf4j 2. Kafka's own pom brings slf4j-api 1.7.x, which must not sit on the
 * classpath next to the slf4j2 binding, so it is excluded and slf4j-api 2 is declared directly.
 */
export function kafkaPom(): string {
  const [kGroup, kArtifact, kVersion] = MAVEN.kafka_artifact.split(':');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by @tidemark/local-infra: resolves the Kafka broker runtime classpath from Maven Central. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.tidemark.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>${VERSIONS.kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>${kGroup}</groupId>
      <artifactId>${kArtifact}</artifactId>
      <version>${kVersion}</version>
      <exclusions>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId></exclusion>
        <exclusion><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>${VERSIONS.slf4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>${VERSIONS.log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>${VERSIONS.log4j}</version>
    </dependency>
  </dependencies>
</project>
`;
}

/** Jars that must never be on the broker classpath (slf4j 1.x API next to the slf4j2 binding). */
export function isForbiddenKafkaJar(fileName: string): boolean {
  return /^slf4j-api-1\./.test(fileName) || /^slf4j-reload4j-/.test(fileName) || /^reload4j-/.test(fileName);
}

export interface KafkaCommandInput {
  libs_dir: string;
  log4j_config: string;
  server_properties: string;
  marker: string;
  /** Nodes in the cluster: sets the heap (smaller per node in cluster mode) and the format mode. */
  node_count: number;
}

export function kafkaJavaArgs(input: KafkaCommandInput): string[] {
  const heap_mib = input.node_count > 1 ? JVM.kafka_cluster_heap_mib : JVM.kafka_heap_mib;
  return [
    ...commonJvmArgs({ heap_mib, marker: input.marker }),
    `-Dlog4j2.configurationFile=${input.log4j_config}`,
    '-cp',
    `${input.libs_dir}/*`,
    'kafka.Kafka',
    input.server_properties,
  ];
}

/** `--add-scram` value: a SCRAM-SHA-512 credential written into the metadata at format time (KIP-900). */
export function scramFormatValue(user: string, password: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(user) || !/^[A-Za-z0-9_-]+$/.test(password)) {
    throw new Error(`SCRAM credential for ${user}: user and password must be URL-safe (letters, digits, "-", "_")`);
  }
  return `${KAFKA.scram_mechanism}=[name=${user},password=${password}]`;
}

export function kafkaFormatArgs(input: KafkaCommandInput & { cluster_id: string; scram?: Readonly<Record<string, string>> }): string[] {
  return [
    '-Xmx256m',
    `-Dlog4j2.configurationFile=${input.log4j_config}`,
    '-cp',
    `${input.libs_dir}/*`,
    'kafka.tools.StorageTool',
    'format',
    // One node: a standalone dynamic quorum. Cluster: the static voters in the config (no flag).
    ...(input.node_count > 1 ? [] : ['--standalone']),
    '-t',
    input.cluster_id,
    '-c',
    input.server_properties,
    ...Object.entries(input.scram ?? {}).flatMap(([user, password]) => ['--add-scram', scramFormatValue(user, password)]),
  ];
}
