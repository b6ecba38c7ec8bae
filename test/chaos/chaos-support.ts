/**
 * Building blocks of the chaos suite: sizing a simulator run to an event count, the
 * deliberately poisoned records, consumer-group lag, ledger progress, bounded waits.
 * No assertions here; pipeline.chaos.test.ts decides what is a failure.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import { AvroCodec, canonicalEvent, topicName, type CanonicalEvent } from '@tidemark/common';
import { Simulation, loadSanctionsSnapshot, type Scenario } from '@tidemark/simulator';

export const SIZING_ATTEMPTS_MAX = 4;

/**
 * The scenario with its transaction count raised until generation yields at least
 * `events_min` distinct events (generation is deterministic per seed, so this is exact).
 */
export function sizeScenario(base: Scenario, events_min: number): { scenario: Scenario; events: number } {
  const sanctions = loadSanctionsSnapshot();
  const generatedWith = (transactions: number): number => {
    const scenario = { ...base, traffic: { ...base.traffic, transactions } };
    return new Simulation({ scenario, sanctions, start_ms: Date.now(), namespace: 'sizing' }).generateAll();
  };
  const sample_tx = 1_000;
  const per_tx = generatedWith(sample_tx) / sample_tx;
  let transactions = Math.ceil((events_min / per_tx) * 1.02);
  for (let attempt = 0; attempt < SIZING_ATTEMPTS_MAX; attempt++) {
    const events = generatedWith(transactions);
    if (events >= events_min) return { scenario: { ...base, traffic: { ...base.traffic, transactions } }, events };
    transactions = Math.ceil(transactions * (events_min / events) * 1.01) + 1;
  }
  throw new Error(`could not size the scenario to ${events_min} events within ${SIZING_ATTEMPTS_MAX} attempts`);
}

// ------------------------------------------------------------------ poisoned records

export const POISON_KEY_PREFIX = 'chaos-poison-';

export interface PoisonRecord {
  key: string;
  kind: string;
  value: Buffer | null;
}

function validEvent(n: number): CanonicalEvent {
  const now = Date.now();
  return canonicalEvent({
    ingress_id: `chaos-poison-ingress-${n}`,
    provider: 'generic',
    event_id: `evt_chaos_poison_${n}`,
    event_type: 'deposit.detected',
    occurred_at_ms: now,
    received_at_ms: now,
    partition_key: `${POISON_KEY_PREFIX}${n}`,
    transaction_id: `tx_chaos_poison_${n}`,
    wallet_id: `${POISON_KEY_PREFIX}${n}`,
    asset: 'BTC',
    network: 'bitcoin',
    amount: '1.5',
    body_sha256: '0'.repeat(64),
  });
}

/**
 * Records that must end in dedupe's DLQ: bytes that are not Avro at all, a truncated
 * Avro frame, a tombstone, and schema-valid events without a usable dedupe key.
 */
export async function buildPoisonRecords(codec: AvroCodec): Promise<PoisonRecord[]> {
  const key = (n: number) => `${POISON_KEY_PREFIX}${n}`;
  const framed = await codec.encode('webhooks.received.v1', validEvent(3));
  return [
    { key: key(1), kind: 'not avro (text bytes)', value: Buffer.from('{"this":"is json, not an avro frame"}') },
    { key: key(2), kind: 'not avro (random bytes)', value: randomBytes(64) },
    { key: key(3), kind: 'truncated avro frame', value: framed.subarray(0, 9) },
    { key: key(4), kind: 'tombstone (no value)', value: null },
    {
      key: key(5),
      kind: 'schema-valid, empty event_id',
      value: await codec.encode('webhooks.received.v1', { ...validEvent(5), event_id: '' }),
    },
    {
      key: key(6),
      kind: 'schema-valid, empty provider',
      value: await codec.encode('webhooks.received.v1', { ...validEvent(6), provider: '' }),
    },
  ];
}

/** Writes the poisoned records straight into webhooks.received.v1, retrying through broker outages. */
export async function injectPoison(kafka: Kafka, prefix: string, records: PoisonRecord[], timeout_ms: number): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  let last = '';
  while (Date.now() < deadline) {
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    try {
      await producer.connect();
      await producer.send({
        topic: topicName('webhooks.received.v1', prefix),
        acks: -1,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: { 'tidemark-chaos': 'poison' } })),
      });
      return;
    } catch (err) {
      last = (err as Error).message;
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }
  throw new Error(`could not inject the poisoned records within ${timeout_ms} ms (last: ${last})`);
}

// ------------------------------------------------------------------ lag and progress

/** Topics written inside Kafka transactions end with a commit marker the consumer never commits past. */
const NON_TRANSACTIONAL_INPUTS = new Set(['webhooks.received.v1']);

export interface GroupLag {
  group: string;
  /** Records after the committed offset (commit markers of transactional topics excluded). */
  outstanding: number;
  /** high watermark − committed offset, summed, as Kafka reports it (includes markers). */
  raw: number;
  partitions: number;
}

/**
 * Lag of a consumer group over every topic it has committed offsets for plus its input.
 * A partition of a transactionally written topic one record behind is the commit
 * marker (the runtime commits `last record + 1`), so it counts as caught up.
 */
export async function groupLag(admin: Admin, prefix: string, service: string, input_base: string): Promise<GroupLag> {
  const group = topicName(service, prefix);
  const input = topicName(input_base, prefix);
  const committed = await admin.fetchOffsets({ groupId: group });
  const topics = new Set([input, ...committed.map((t) => t.topic)]);
  let outstanding = 0;
  let raw = 0;
  let partitions = 0;
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const mine = committed.find((t) => t.topic === topic)?.partitions ?? [];
    const transactional = !NON_TRANSACTIONAL_INPUTS.has(topic.slice(prefix.length));
    for (const end of ends) {
      partitions++;
      const c = BigInt(mine.find((p) => p.partition === end.partition)?.offset ?? '-1');
      const from = c < 0n ? BigInt(end.low) : c;
      const behind = Number(BigInt(end.high) - from);
      raw += Math.max(0, behind);
      outstanding += Math.max(0, transactional && behind === 1 ? 0 : behind);
    }
  }
  return { group, outstanding, raw, partitions };
}

/** A fingerprint of the ledger's contents that changes with every projected event or posting. */
export async function ledgerFingerprint(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ events: string; postings: string | null }>(
    'SELECT (SELECT count(*) FROM ledger.processed_events)::text AS events, (SELECT max(posting_id) FROM ledger.postings)::text AS postings',
  );
  return `${rows[0]!.events}/${rows[0]!.postings ?? 0}`;
}

// ------------------------------------------------------------------ small utilities

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Polls `probe` until it returns a value, or throws `what` after `timeout_ms`. */
export async function waitFor<T>(what: string, timeout_ms: number, interval_ms: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeout_ms;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== null) return v;
    } catch (err) {
      last = ` (last error: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}${last}`);
    await sleep(interval_ms);
  }
}
