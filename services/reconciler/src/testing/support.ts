/**
 * Integration-test support: a fresh Postgres database with the ledger projector's
 * migrations, a topic prefix of its own with the catalog applied, the ledger filled
 * through the ledger projector's real handler, and reading a topic back. Everything a
 * test creates it removes again.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import {
  AvroCodec,
  baseConfigSchema,
  canonicalEvent as buildCanonicalEvent,
  createLogger,
  loadConfig,
  topicName,
  type CanonicalEvent,
  type Decision,
  type ScreenedEvent,
} from '@tidemark/common';
import { testNamespace } from '@tidemark/common/testing';
import { createLedgerHandler } from '@tidemark/ledger-projector';
import { createTestDatabase, type TestDatabase } from '@tidemark/ledger-projector/testing';

export const config = loadConfig(baseConfigSchema);

export type { TestDatabase };

/** A fresh, migrated ledger database (the ledger's own test helper), dropped by `drop()`. */
export function createLedgerDatabase(): Promise<TestDatabase> {
  return createTestDatabase({ pool_max: 4 });
}

export interface TestTopics {
  prefix: string;
  kafka: Kafka;
  admin: Admin;
  codec: AvroCodec;
  cleanup(): Promise<void>;
}

export async function createTestTopics(label: string): Promise<TestTopics> {
  const ns = testNamespace(`it${label}`, { client_id: `reconciler-test-${label}` });
  await ns.applyTopics();
  return {
    prefix: ns.prefix,
    kafka: ns.kafka,
    admin: ns.admin,
    codec: new AvroCodec(config.TIDEMARK_REGISTRY_URL, ns.prefix),
    cleanup: () => ns.cleanup(),
  };
}

export function canonicalEvent(over: Partial<CanonicalEvent> & Pick<CanonicalEvent, 'event_id' | 'event_type'>): CanonicalEvent {
  const wallet = over.wallet_id ?? 'wal_1';
  return buildCanonicalEvent({
    ingress_id: `ing_${over.event_id}`,
    provider: 'generic',
    occurred_at_ms: Date.now(),
    received_at_ms: Date.now(),
    partition_key: wallet,
    transaction_id: 'tx_1',
    wallet_id: wallet,
    asset: 'BTC',
    amount: '0.5',
    body_sha256: '0'.repeat(64),
    ...over,
  });
}

export function screened(event: CanonicalEvent, decision: Decision = 'ALLOW'): ScreenedEvent {
  return {
    event,
    screening: {
      decision,
      reasons:
        decision === 'ALLOW'
          ? []
          : [
              {
                code: 'SANCTIONED_ADDRESS',
                rule_id: 'ofac-sdn',
                outcome: decision,
                message: 'test',
                matched_value: null,
                score: null,
                list_version: null,
              },
            ],
      sanctions_list_version: 'test',
      rules_version: 'test',
      screened_at_ms: Date.now(),
    },
  };
}

/** Projects screened events into the ledger through the ledger projector's own handler (its batch path). */
export async function projectIntoLedger(pool: pg.Pool, events: ScreenedEvent[], batch_size = 2_000): Promise<void> {
  const handler = createLedgerHandler({ pool, logger: createLogger('reconciler-test', 'warn') });
  let offset = 0;
  for (let i = 0; i < events.length; i += batch_size) {
    const slice = events.slice(i, i + batch_size).map((value) => ({
      key: value.event.partition_key,
      value,
      headers: {},
      source: { topic: 'events.screened.v1', partition: 0, offset: String(offset++) },
      attempt: 1,
      timestamp_ms: value.event.received_at_ms,
    }));
    await handler.handleBatch(slice);
  }
}

/** Reads every record of a topic (as of now) and decodes it. */
export async function readTopic<T>(
  t: TestTopics,
  base: string,
  timeout_ms = 30_000,
): Promise<Array<{ key: string | null; value: T; headers: Record<string, string> }>> {
  const topic = topicName(base, t.prefix);
  const offsets = await t.admin.fetchTopicOffsets(topic);
  const end = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const next = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
  const out: Array<{ key: string | null; value: T; headers: Record<string, string> }> = [];
  if ([...end.entries()].every(([p, e]) => (next.get(p) ?? 0n) >= e)) return out;
  const consumer = t.kafka.consumer({ groupId: `${t.prefix}reader-${randomBytes(4).toString('hex')}`, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (BigInt(message.offset) >= (end.get(partition) ?? 0n)) return;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
        out.push({ key: message.key?.toString('utf8') ?? null, value: await t.codec.decode<T>(message.value!), headers });
        next.set(partition, BigInt(message.offset) + 1n);
      },
    });
    const deadline = Date.now() + timeout_ms;
    while ([...end.entries()].some(([p, e]) => (next.get(p) ?? 0n) < e)) {
      if (Date.now() > deadline) throw new Error(`could not read ${topic} to its end within ${timeout_ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Runs `fn` with environment variables set, restoring them afterwards. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
