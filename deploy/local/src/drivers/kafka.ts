import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALL_TIMEOUTS_MS, JAVA_MIN_MAJOR, KAFKA_NODE_COMPONENTS, MAVEN, VERSIONS, type KafkaNodeComponent } from '../components.js';
import { brokerSecurity, ensureKafkaCredentials, platformPrincipals, probeClientSecurity, upsertScramUsers } from '../kafka-security.js';
import {
  generateKafkaClusterId,
  type KafkaNode,
  isForbiddenKafkaJar,
  kafkaFormatArgs,
  kafkaJavaArgs,
  kafkaLog4j2Yaml,
  kafkaPom,
  kafkaServerProperties,
  type KafkaCommandInput,
} from '../config.js';
import { kafkaHealth, kafkaWarmUp } from '../health.js';
import { exec, spawnDetached } from '../proc.js';
import { ensureDirs, ensureJava, installAtomically, javaMajorOf, mvn } from './common.js';
import type { Driver, InfraContext } from './types.js';

const KAFKA_JAR = `kafka_${VERSIONS.kafka_scala}-${VERSIONS.kafka}.jar`;
const INSTALLED_MARKER = '.installed';

interface FormatRecord {
  cluster_id: string;
  controller_port: number;
  /** Nodes in the cluster the storage was formatted for (absent in records written before cluster mode: 1). */
  node_count?: number;
  /** Principals whose SCRAM credentials the metadata holds (absent: formatted before SASL, or in plaintext mode). */
  scram_users?: string[];
  formatted_at: string;
}

function nodeOf(ctx: InfraContext, component: KafkaNodeComponent): KafkaNode {
  const node = ctx.kafka_nodes.find((n) => n.component === component);
  if (!node) throw new Error(`${component} runs only in cluster mode (TIDEMARK_KAFKA_NODES=3)`);
  return node;
}

function logDir(ctx: InfraContext, component: KafkaNodeComponent): string {
  return join(ctx.paths.data(component), 'data');
}

function formatRecordPath(ctx: InfraContext, component: KafkaNodeComponent): string {
  return join(ctx.paths.data(component), 'tidemark-format.json');
}

function readFormatRecord(ctx: InfraContext, component: KafkaNodeComponent): FormatRecord | null {
  const path = formatRecordPath(ctx, component);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as FormatRecord) : null;
}

/** Node 1 keeps the single-node file name, so existing state dirs stay valid. */
function propertiesPath(ctx: InfraContext, component: KafkaNodeComponent): string {
  return component === 'kafka' ? ctx.paths.kafka_properties : join(ctx.paths.conf_dir, `${component}-server.properties`);
}

function commandInput(ctx: InfraContext, component: KafkaNodeComponent): KafkaCommandInput {
  return {
    libs_dir: ctx.paths.kafka_libs,
    log4j_config: ctx.paths.kafka_log4j,
    server_properties: propertiesPath(ctx, component),
    marker: ctx.paths.state_dir,
    node_count: ctx.kafka_nodes.length,
  };
}

async function formatIfNeeded(ctx: InfraContext, java: string, component: KafkaNodeComponent): Promise<void> {
  const node = nodeOf(ctx, component);
  const node_count = ctx.kafka_nodes.length;
  const dir = logDir(ctx, component);
  if (existsSync(join(dir, 'meta.properties'))) {
    const record = readFormatRecord(ctx, component);
    if (record) {
      const formatted_nodes = record.node_count ?? 1;
      if (formatted_nodes !== node_count) {
        throw new Error(
          `Kafka storage of ${component} was formatted for ${formatted_nodes} node(s), not ${node_count}; ` +
            `set TIDEMARK_KAFKA_NODES=${formatted_nodes}, or run \`infra reset\` (deletes the data) to switch`,
        );
      }
      if (ctx.kafka_security === 'sasl_ssl' && record.scram_users === undefined) {
        throw new Error(
          `Kafka storage of ${component} was formatted without SCRAM credentials (plaintext mode, or before SASL became the default); ` +
            'run `infra reset` (deletes the data) to switch to SASL_SSL, or set TIDEMARK_KAFKA_SECURITY=plaintext',
        );
      }
      if (node_count === 1 && record.controller_port !== node.controller_port) {
        throw new Error(
          `Kafka storage was formatted with controller port ${record.controller_port} (a standalone KRaft quorum remembers its voter endpoint); ` +
            `set TIDEMARK_KAFKA_CONTROLLER_PORT=${record.controller_port} or run \`infra reset\``,
        );
      }
    }
    return;
  }
  rmSync(dir, { recursive: true, force: true });
  ensureDirs(dir);
  // Every node of a cluster is formatted with the same cluster id: reuse the one a sibling was formatted with.
  const sibling = ctx.kafka_nodes
    .map((n) => readFormatRecord(ctx, n.component))
    .find((r) => r !== null && (r.node_count ?? 1) === node_count);
  const cluster_id = sibling?.cluster_id ?? generateKafkaClusterId();
  ctx.log(`${component}: formatting KRaft storage (cluster id ${cluster_id}, node ${node.node_id} of ${node_count})`);
  // sasl_ssl: every platform principal's SCRAM credential goes into the bootstrap metadata (KIP-900), so the
  // inter-broker login (the admin) works from the first start; later principals are added over the Admin API.
  const scram = ctx.kafka_security === 'sasl_ssl' ? ensureKafkaCredentials(ctx.paths.state_dir).users : undefined;
  await exec(java, kafkaFormatArgs({ ...commandInput(ctx, component), cluster_id, ...(scram ? { scram } : {}) }), {
    cwd: ctx.paths.data(component),
    log_file: ctx.paths.log(component),
    timeout_ms: INSTALL_TIMEOUTS_MS.kafka_format,
  });
  const record: FormatRecord = {
    cluster_id,
    controller_port: node.controller_port,
    node_count,
    ...(scram ? { scram_users: Object.keys(scram).sort() } : {}),
    formatted_at: new Date().toISOString(),
  };
  writeFileSync(formatRecordPath(ctx, component), JSON.stringify(record, null, 2) + '\n');
}

function isInstalled(ctx: InfraContext): boolean {
  return existsSync(join(ctx.paths.kafka_home, INSTALLED_MARKER)) && existsSync(join(ctx.paths.kafka_libs, KAFKA_JAR));
}

async function install(ctx: InfraContext): Promise<void> {
  ctx.log(`kafka: resolving ${MAVEN.kafka_artifact} and its runtime classpath from Maven Central ...`);
  ensureDirs(ctx.paths.cache_dir, ctx.paths.logs_dir);
  await installAtomically(ctx.paths.kafka_home, async (tmp) => {
    writeFileSync(join(tmp, 'pom.xml'), kafkaPom());
    const libs = join(tmp, 'libs');
    await mvn(
      ctx,
      ['-f', join(tmp, 'pom.xml'), `${MAVEN.dependency_plugin}:copy-dependencies`, `-DoutputDirectory=${libs}`, '-DincludeScope=runtime'],
      tmp,
    );
    const jars = readdirSync(libs);
    for (const jar of jars.filter(isForbiddenKafkaJar)) rmSync(join(libs, jar));
    const left = readdirSync(libs);
    if (!left.includes(KAFKA_JAR)) throw new Error(`Maven did not produce ${KAFKA_JAR}`);
    if (!left.includes(`slf4j-api-${VERSIONS.slf4j}.jar`)) throw new Error(`Maven did not produce slf4j-api-${VERSIONS.slf4j}.jar`);
    writeFileSync(join(tmp, INSTALLED_MARKER), left.sort().join('\n') + '\n');
  });
}

/** Principals added after the storage was formatted (a new service) get their SCRAM credentials over the Admin API. */
async function addMissingPrincipals(ctx: InfraContext): Promise<void> {
  const record = readFormatRecord(ctx, 'kafka');
  if (ctx.kafka_security !== 'sasl_ssl' || !record?.scram_users) return;
  const users = ensureKafkaCredentials(ctx.paths.state_dir).users;
  const missing = platformPrincipals().filter((p) => !record.scram_users!.includes(p));
  if (missing.length === 0) return;
  ctx.log(`kafka: adding SCRAM credentials for ${missing.join(', ')}`);
  await upsertScramUsers(ctx, Object.fromEntries(missing.map((p) => [p, users[p]!])));
  for (const n of ctx.kafka_nodes) {
    const r = readFormatRecord(ctx, n.component);
    if (r)
      writeFileSync(
        formatRecordPath(ctx, n.component),
        JSON.stringify({ ...r, scram_users: [...(r.scram_users ?? []), ...missing].sort() }, null, 2) + '\n',
      );
  }
}

/** The driver of one KRaft node (broker + controller); all nodes share the installed jars. */
function kafkaNodeDriver(component: KafkaNodeComponent): Driver {
  const driver: Driver = {
    name: component,
    stop_signal: 'SIGTERM',
    ports: (ctx) => {
      const node = ctx.kafka_nodes.find((n) => n.component === component);
      return node ? { kafka: node.port, kafka_controller: node.controller_port } : {};
    },
    owns: (cmdline, ctx) => cmdline.includes('kafka.Kafka') && cmdline.includes(propertiesPath(ctx, component)),
    isInstalled,
    unavailableReason: (ctx) =>
      ctx.kafka_nodes.some((n) => n.component === component) ? null : 'runs only in cluster mode (TIDEMARK_KAFKA_NODES=3)',
    install,
    async start(ctx) {
      const node = nodeOf(ctx, component);
      const java = await ensureJava(ctx, JAVA_MIN_MAJOR.kafka);
      ctx.log(`${component}: using ${java} (Java ${javaMajorOf(java)})`);
      ensureDirs(ctx.paths.conf_dir, ctx.paths.data(component), ctx.paths.logs_dir);
      const security = await brokerSecurity(ctx, java);
      writeFileSync(
        propertiesPath(ctx, component),
        kafkaServerProperties({ node, nodes: ctx.kafka_nodes, log_dir: logDir(ctx, component), security }),
        { mode: 0o600 },
      );
      writeFileSync(ctx.paths.kafka_log4j, kafkaLog4j2Yaml());
      await formatIfNeeded(ctx, java, component);
      return spawnDetached(java, kafkaJavaArgs(commandInput(ctx, component)), {
        cwd: ctx.paths.data(component),
        log_file: ctx.paths.log(component),
      });
    },
    health: (ctx) => kafkaHealth(nodeOf(ctx, component).port, probeClientSecurity(ctx)),
    async afterHealthy(ctx) {
      await kafkaWarmUp(nodeOf(ctx, component).port, probeClientSecurity(ctx)).catch((err: Error) => {
        throw new Error(`broker is up but its group/transaction coordinators did not load: ${err.message}`);
      });
      if (component === 'kafka') await addMissingPrincipals(ctx);
    },
    extraLogs: (ctx) => [join(ctx.paths.logs_dir, 'maven.log')],
    version: (ctx) => (isInstalled(ctx) ? VERSIONS.kafka : null),
  };
  return driver;
}

export const kafkaDrivers: Record<KafkaNodeComponent, Driver> = Object.fromEntries(
  KAFKA_NODE_COMPONENTS.map((c) => [c, kafkaNodeDriver(c)]),
) as Record<KafkaNodeComponent, Driver>;
