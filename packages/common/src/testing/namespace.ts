/**
 * Integration-test support (`@tidemark/common/testing`): a namespace of its own on the shared Kafka,
 * registry and Postgres, so that runs never see each other's data. A namespace is a random topic prefix
 * (its topics and registry subjects carry it), the clients to reach it as the environment says (the test
 * setup gives tests the platform admin's credentials, test/harness/kafka-env.ts), fresh databases on
 * demand, and a cleanup that removes what the namespace created.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import { baseConfigSchema, kafkaConnection, loadConfig, type BaseConfig } from '../config.js';
import { createKafka } from '../kafka.js';
import { RegistryClient } from '../registry.js';
import type { Catalog } from '../schemas/catalog.js';
import { applyTopics, topicName, type ApplyReport } from '../topics.js';

export const SKIP_INTEGRATION = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
/** A backend of another role (e.g. an autovacuum worker) can briefly refuse termination: DROP DATABASE is retried. */
export const DROP_ATTEMPTS_MAX = 5;
const DB_CONNECT_TIMEOUT_MS = 5_000;

/** `base` (a Postgres URL) pointing at `database` instead. */
export function databaseUrlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export interface FreshDatabase {
  name: string;
  url: string;
  /** Drops the database (open connections are terminated). */
  drop(): Promise<void>;
}

async function withAdminClient<T>(admin_url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: admin_url, connectionTimeoutMillis: DB_CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (err) {
      if (attempt >= DROP_ATTEMPTS_MAX) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** CREATE DATABASE `<label>_<random>` on the server of `admin_url` (the environment's database URL by default). */
export async function freshDatabase(label: string, admin_url = loadConfig(baseConfigSchema).TIDEMARK_DATABASE_URL): Promise<FreshDatabase> {
  const name = `${label}_${randomBytes(6).toString('hex')}`;
  await withAdminClient(admin_url, (c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: databaseUrlFor(admin_url, name),
    drop: () => withAdminClient(admin_url, (c) => dropDatabase(c, name)),
  };
}

/** Deletes the topics and registry subjects whose names start with `prefix`. */
export async function removeNamespace(admin: Admin, registry: RegistryClient, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  for (const subject of (await registry.subjects()).filter((s) => s.startsWith(prefix))) await registry.deleteSubject(subject);
}

export interface TestNamespace {
  /** The environment's configuration (broker, registry, database, client security). */
  readonly config: BaseConfig;
  /** `<label><random>.`: every topic, subject and consumer group of the test starts with it. */
  readonly prefix: string;
  readonly kafka: Kafka;
  /** Connected by `applyTopics` and `cleanup` (connecting again is a no-op); `cleanup` disconnects it. */
  readonly admin: Admin;
  readonly registry: RegistryClient;
  /** The namespaced name of a catalog topic. */
  topic: (base: string) => string;
  /** `config` for a process that runs in this namespace (its topic prefix; a database URL when given). */
  serviceConfig: (database_url?: string) => BaseConfig;
  /** Connects the admin and applies the catalog's topics and schemas (or those of `opts.catalog`) under the prefix. */
  applyTopics(opts?: { replication_factor?: number; catalog?: Catalog }): Promise<ApplyReport>;
  /** Deletes the namespace's topics and subjects and disconnects the admin. */
  cleanup(): Promise<void>;
}

/** A new namespace; nothing is created on the broker until `applyTopics`. */
export function testNamespace(label: string, opts: { client_id?: string } = {}): TestNamespace {
  const config = loadConfig(baseConfigSchema);
  const prefix = `${label}${randomBytes(4).toString('hex')}.`;
  const kafka = createKafka({ ...kafkaConnection(config), client_id: opts.client_id ?? `${label}-test` });
  const admin = kafka.admin();
  const registry = new RegistryClient(config.TIDEMARK_REGISTRY_URL);
  return {
    config,
    prefix,
    kafka,
    admin,
    registry,
    topic: (base) => topicName(base, prefix),
    serviceConfig: (database_url) => ({
      ...config,
      TIDEMARK_TOPIC_PREFIX: prefix,
      ...(database_url === undefined ? {} : { TIDEMARK_DATABASE_URL: database_url }),
    }),
    async applyTopics(apply_opts = {}) {
      await admin.connect(); // a no-op when connected
      return applyTopics(admin, registry, { prefix, ...apply_opts });
    },
    async cleanup() {
      await admin.connect();
      try {
        await removeNamespace(admin, registry, prefix);
      } finally {
        await admin.disconnect();
      }
    },
  };
}
