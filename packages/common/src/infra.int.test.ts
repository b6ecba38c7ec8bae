/**
 * Integration: an Avro record through the real broker and registry, and a round
 * trip through the real Postgres.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { AvroCodec, canonicalEvent, createIdempotentProducer, type CanonicalEvent } from './index.js';
import { SKIP_INTEGRATION, testNamespace } from './testing/namespace.js';

const ns = testNamespace('it', { client_id: 'common-int-test' });
const { config, kafka, prefix } = ns;

describe.skipIf(SKIP_INTEGRATION)('real infrastructure', () => {
  afterAll(async () => {
    await ns.cleanup();
  });

  it('applies the catalog idempotently', async () => {
    const first = await ns.applyTopics();
    expect(first.created).toContain(`${prefix}webhooks.received.v1`);
    expect(first.created).toContain(`${prefix}dedupe.dlq`);
    const second = await ns.applyTopics();
    expect(second.created).toEqual([]);
    expect(second.updated).toEqual([]);
    expect(second.schemas.map((s) => s.id)).toEqual(first.schemas.map((s) => s.id));
  });

  it('produces and consumes an Avro record through the broker and registry', async () => {
    const codec = new AvroCodec(config.TIDEMARK_REGISTRY_URL, prefix);
    const event: CanonicalEvent = canonicalEvent({
      ingress_id: randomUUID(),
      provider: 'generic',
      event_id: `evt_${randomUUID()}`,
      event_type: 'deposit.confirmed',
      occurred_at_ms: Date.now() - 1000,
      received_at_ms: Date.now(),
      partition_key: 'wal_42',
      transaction_id: 'tx_1',
      wallet_id: 'wal_42',
      asset: 'ETH',
      network: 'ethereum',
      amount: '98765432109876543210987654321098765432109876543210.123456789012345678',
      confirmations: 12,
      counterparty_name: 'ACME GmbH',
      counterparty_country: 'DE',
      body_sha256: 'x'.repeat(64),
    });
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    const topic = ns.topic('webhooks.received.v1');
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: event.partition_key, value: await codec.encode('webhooks.received.v1', event) }],
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${prefix}reader`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<CanonicalEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no record within 30 s')), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve(await codec.decode<CanonicalEvent>(message.value!));
        },
      });
    });
    await consumer.disconnect();
    expect(received).toEqual(event);
  });

  it('round-trips exact amounts through Postgres NUMERIC', async () => {
    const client = new pg.Client({ connectionString: config.TIDEMARK_DATABASE_URL });
    await client.connect();
    try {
      const big = '98765432109876543210987654321098765432109876543210987654321.123456789012345678';
      const res = await client.query<{ sum: string }>('SELECT ($1::numeric + $2::numeric)::text AS sum', [big, '0.000000000000000001']);
      expect(res.rows[0]!.sum).toBe('98765432109876543210987654321098765432109876543210987654321.123456789012345679');
    } finally {
      await client.end();
    }
  });
});
