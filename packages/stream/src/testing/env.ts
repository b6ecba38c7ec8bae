/**
 * Integration-test environment on the real Kafka, registry and Postgres: a unique
 * topic prefix and Postgres schema per run, topics + schemas applied from a (trimmed)
 * catalog, helpers to produce and read, and a cleanup that removes it all.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Kafka, Admin, Producer } from 'kafkajs';
import {
  canonicalEvent,
  applyTopics,
  AvroCodec,
  createKafka,
  kafkaConnection,
  type KafkaSecurityConfig,
  baseConfigSchema,
  loadConfig,
  createIdempotentProducer,
  loadCatalog,
  RegistryClient,
  topicName,
  type Catalog,
  type ConsumerSpec,
} from '@tidemark/common';
import { createTransport, kafkaClientFromEnv } from '../kafka/select.js';
import type { FetchedRecord, KafkaTransport } from '../kafka/transport.js';

export const SKIP_INTEGRATION = process.env.TIDEMARK_SKIP_INTEGRATION === '1';

export interface TestEnvOptions {
  /** Base topic names to create (from the catalog). */
  topics: string[];
  /** Consumer specs (their ladders and DLQs are created too). */
  consumers: ConsumerSpec[];
}

/** The Kafka security keys of a loaded config (absent keys left out). */
function kafkaSecurityEnv(c: KafkaSecurityConfig): KafkaSecurityConfig {
  return Object.fromEntries(
    (
      [
        'TIDEMARK_KAFKA_SECURITY_PROTOCOL',
        'TIDEMARK_KAFKA_SASL_MECHANISM',
        'TIDEMARK_KAFKA_SASL_USERNAME',
        'TIDEMARK_KAFKA_SASL_PASSWORD',
        'TIDEMARK_KAFKA_SSL_CA_FILE',
      ] as const
    )
      .filter((k) => c[k] !== undefined)
      .map((k) => [k, c[k]]),
  ) as KafkaSecurityConfig;
}

export interface TestEnv {
  prefix: string;
  schema: string;
  env: {
    TIDEMARK_KAFKA_BROKERS: string;
    TIDEMARK_REGISTRY_URL: string;
    TIDEMARK_DATABASE_URL: string;
    TIDEMARK_TOPIC_PREFIX: string;
    TIDEMARK_KAFKA_CLIENT: 'confluent' | 'kafkajs';
  } & KafkaSecurityConfig;
  kafka: Kafka;
  admin: Admin;
  pool: pg.Pool;
  codec: AvroCodec;
  /** The transport of TIDEMARK_KAFKA_CLIENT (default confluent), as services use it. */
  transport: KafkaTransport;
  topic(base: string): string;
  produce(base: string, records: Array<{ key: string | null; value: Buffer; headers?: Record<string, string> }>): Promise<void>;
  produceEvents(base: string, events: Array<{ key: string; value: unknown; headers?: Record<string, string> }>): Promise<void>;
  readAll(base: string, timeout_ms?: number): Promise<FetchedRecord[]>;
  cleanup(): Promise<void>;
}

export async function createTestEnv(opts: TestEnvOptions): Promise<TestEnv> {
  const id = randomBytes(4).toString('hex');
  const prefix = `t${id}.`;
  const schema = `t_${id}`;
  const brokers = process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092';
  const registryUrl = process.env.TIDEMARK_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
  const baseDb = process.env.TIDEMARK_DATABASE_URL ?? 'postgres://tidemark:tidemark@127.0.0.1:55432/tidemark';
  const admin0 = new pg.Client({ connectionString: baseDb });
  await admin0.connect();
  await admin0.query(`CREATE SCHEMA ${schema}`);
  await admin0.end();
  const dbUrl = `${baseDb}${baseDb.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

  const full = loadCatalog();
  const catalog: Catalog = {
    replication: full.replication,
    services: full.services,
    topics: full.topics.filter((t) => opts.topics.includes(t.name)),
    consumers: opts.consumers,
  };
  const security_env = loadConfig(baseConfigSchema);
  const kafka = createKafka({ ...kafkaConnection({ ...security_env, TIDEMARK_KAFKA_BROKERS: brokers }), client_id: `test-${id}` });
  const admin = kafka.admin();
  await admin.connect();
  const registry = new RegistryClient(registryUrl);
  await applyTopics(admin, registry, { prefix, catalog });

  const pool = new pg.Pool({ connectionString: dbUrl, max: 5 });
  pool.on('error', () => undefined);
  const codec = new AvroCodec(registryUrl, prefix);
  const client = kafkaClientFromEnv();
  const transport = createTransport({ ...security_env, TIDEMARK_KAFKA_BROKERS: brokers, TIDEMARK_KAFKA_CLIENT: client }, `test-${id}`);
  let producer: Producer | null = null;
  let connected: Promise<Producer> | null = null;
  // Concurrent first sends share one connect (a send on a producer still connecting fails).
  const getProducer = (): Promise<Producer> => {
    if (!connected) {
      const p = createIdempotentProducer(kafka);
      producer = p;
      connected = p.connect().then(() => p);
    }
    return connected;
  };

  const env: TestEnv = {
    prefix,
    schema,
    env: {
      TIDEMARK_KAFKA_BROKERS: brokers,
      TIDEMARK_REGISTRY_URL: registryUrl,
      TIDEMARK_DATABASE_URL: dbUrl,
      TIDEMARK_TOPIC_PREFIX: prefix,
      TIDEMARK_KAFKA_CLIENT: client,
      // The broker's client security (the admin principal against the local infra; see test/harness/kafka-env.ts).
      ...kafkaSecurityEnv(security_env),
    },
    kafka,
    admin,
    pool,
    codec,
    transport,
    topic: (base) => topicName(base, prefix),
    async produce(base, records) {
      const p = await getProducer();
      await p.send({
        topic: topicName(base, prefix),
        acks: -1,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? {} })),
      });
    },
    async produceEvents(base, events) {
      const encoded = await Promise.all(
        events.map(async (e) => ({ key: e.key, value: await codec.encode(base, e.value), headers: e.headers })),
      );
      await env.produce(base, encoded);
    },
    async readAll(base, timeout_ms = 20_000) {
      return (await transport.readTopic(topicName(base, prefix), { records_max: 1_000_000, timeout_ms })).records;
    },
    async cleanup() {
      await (producer as Producer | null)?.disconnect().catch(() => undefined);
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
      if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
      for (const subject of (await registry.subjects().catch(() => [] as string[])).filter((s) => s.startsWith(prefix))) {
        await registry.deleteSubject(subject).catch(() => undefined);
      }
      await transport.close().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
      const c = new pg.Client({ connectionString: baseDb });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
  return env;
}

/** A CanonicalEvent for tests. */
export function testEvent(over: { event_id: string; wallet_id: string; provider?: string; seq?: number; event_type?: string }) {
  const now = Date.now();
  return canonicalEvent({
    ingress_id: `ing_${over.event_id}_${randomBytes(3).toString('hex')}`,
    provider: over.provider ?? 'generic',
    event_id: over.event_id,
    event_type: over.event_type ?? 'deposit.detected',
    occurred_at_ms: now,
    received_at_ms: now,
    partition_key: over.wallet_id,
    transaction_id: `tx_${over.event_id}`,
    wallet_id: over.wallet_id,
    asset: 'BTC',
    network: 'bitcoin',
    amount: `0.${String(over.seq ?? 1).padStart(8, '0')}`,
    body_sha256: '0'.repeat(64),
  });
}
