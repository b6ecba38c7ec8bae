/**
 * The hole exactly-once publication must not have, made deterministic: the projection of a
 * chunk commits to Postgres, then the chunk's Kafka transaction (its ledger.balances.v1
 * records and its input position) aborts. The events come again; the projection finds them
 * in ledger.processed_events and applies nothing, and must still re-emit the balance records
 * the aborted transaction lost. Real runtime, real Kafka (the transaction is really sent and
 * really aborted on the broker), real Postgres; the fault is the commit call failing after the
 * records were sent, as a broker error, a fencing or a timeout would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroCodec, createIdempotentProducer, createLogger, createMetrics } from '@tidemark/common';
import { SKIP_INTEGRATION, testNamespace } from '@tidemark/common/testing';
import { createTransport, runConsumer, type KafkaTransport, type RunningConsumer } from '@tidemark/stream';
import { createLedgerHandler } from './handler.js';
import { listBalances } from './db/read.js';
import { createTestDatabase, type TestDatabase } from './testing/pg.js';
import { screenedEvent } from './testing/events.js';
import { committedBalanceVersions, waitForBalanceRecords } from './testing/balance-records.js';

const WALLETS = 4;
const TRANSACTIONS_PER_WALLET = 15;
/** Kafka transactions that abort after their chunk's Postgres commit (every other one from the first). */
const ABORTS = 5;

/**
 * `inner` whose transactions 1, 3, 5, … (`aborts` of them) fail at commit after their records
 * were sent: the runtime aborts them (on the broker) as it does any failed commit, and the
 * retry of a chunk commits, so each abort hits another chunk. `onAbort` gets the number of
 * records the transaction carried.
 */
function abortingCommits(inner: KafkaTransport, aborts: number, onAbort: (records: number) => Promise<void>): KafkaTransport {
  let left = aborts;
  let commits = 0;
  async function transactionalProducer(transactional_id: string) {
    const producer = await inner.transactionalProducer(transactional_id);
    return {
      transactional_id,
      close: () => producer.close(),
      async begin() {
        const txn = await producer.begin();
        let sent = 0;
        return {
          send: (records: Parameters<typeof txn.send>[0]) => {
            sent += records.length;
            return txn.send(records);
          },
          commit: () => txn.commit(),
          abort: () => txn.abort(),
          async commitWithOffsets(...args: Parameters<typeof txn.commitWithOffsets>) {
            commits += 1;
            if (left > 0 && commits % 2 === 1) {
              left -= 1;
              await onAbort(sent);
              throw new Error('injected: Kafka transaction lost after the Postgres commit');
            }
            return txn.commitWithOffsets(...args);
          },
        };
      },
    };
  }
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'transactionalProducer') return transactionalProducer;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe.skipIf(SKIP_INTEGRATION)('ledger publication when the Kafka transaction aborts after the Postgres commit', () => {
  const ns = testNamespace('itledgereos', { client_id: 'ledger-eos-test' });
  const { kafka, prefix } = ns;
  const transport = createTransport(ns.config, 'ledger-eos-test');
  const codec = new AvroCodec(ns.config.TIDEMARK_REGISTRY_URL, prefix);
  const logger = createLogger('ledger-eos-test', process.env.TEST_LOG_LEVEL ?? 'warn');
  let db: TestDatabase;
  let running: RunningConsumer | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
    await ns.applyTopics();
  }, 90_000);

  afterAll(async () => {
    await running?.stop();
    await db?.drop();
    await ns.cleanup();
    await transport.close();
  }, 60_000);

  it('re-emits the stored balance records of events whose Kafka transaction aborted', { timeout: 180_000 }, async () => {
    const events = [];
    for (let t = 0; t < TRANSACTIONS_PER_WALLET; t += 1) {
      for (let w = 0; w < WALLETS; w += 1) {
        const tx = { transaction_id: `tx_${w}_${t}`, wallet_id: `wal_${w}`, amount: `${t + 1}.25` };
        events.push(screenedEvent({ ...tx, event_id: `d_${w}_${t}`, event_type: 'deposit.detected' }));
        events.push(screenedEvent({ ...tx, event_id: `c_${w}_${t}`, event_type: 'deposit.confirmed' }));
      }
    }
    const processedCount = async () =>
      (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger.processed_events')).rows[0]!.n;
    /** Events projected in Postgres at each injected abort, and the records the aborted transactions carried. */
    const projectedAtAbort: number[] = [];
    let abortedRecords = 0;
    const faulty = abortingCommits(transport, ABORTS, async (records) => {
      projectedAtAbort.push(await processedCount());
      abortedRecords += records;
    });
    // Everything is in the topic before the runtime starts: its first chunks are full ones.
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    const messages = await Promise.all(
      events.map(async (e) => ({ key: e.event.partition_key, value: await codec.encode('events.screened.v1', e) })),
    );
    await producer.send({ topic: ns.topic('events.screened.v1'), acks: -1, messages });
    await producer.disconnect();
    const handler = createLedgerHandler({ pool: db.pool, logger });
    running = await runConsumer({
      handler,
      logger,
      metrics: createMetrics('ledger-eos-test'),
      config: ns.serviceConfig(),
      transport: faulty,
      pool: db.pool,
      codec,
      // Small chunks: the aborted transactions carry some of the events, later ones the rest.
      batch_size_max: 10,
      session_timeout_ms: 10_000,
    });

    const until = Date.now() + 90_000;
    while ((await processedCount()) < events.length && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(await processedCount()).toBe(events.length);

    // Each injected abort came after its chunk's Postgres commit: the state the hole needs.
    expect(projectedAtAbort).toHaveLength(ABORTS);
    expect(projectedAtAbort[0]).toBeGreaterThan(0);
    expect(abortedRecords).toBeGreaterThanOrEqual(ABORTS);

    const versions = await committedBalanceVersions(db.pool);
    const balances = await listBalances(db.pool);
    expect(balances).toHaveLength(WALLETS);
    // Two events per transaction, each one balance change: versions 1..2·TRANSACTIONS_PER_WALLET.
    expect(versions.size).toBe(WALLETS * TRANSACTIONS_PER_WALLET * 2);
    expect(balances.map((b) => b.version)).toEqual(balances.map(() => TRANSACTIONS_PER_WALLET * 2));

    const check = await waitForBalanceRecords(transport, codec, versions, 60_000);
    expect(check.missing, 'balance versions committed in Postgres but absent from the topic').toEqual([]);
    expect(check.conflicting).toEqual([]);
    expect(check.unknown).toEqual([]);
    expect(check.complete).toBe(true);
  });
});
