/**
 * Crash test on real Kafka and Postgres: the real projector process (src/main.ts) is
 * killed with SIGKILL repeatedly while a stream of screened events flows (out-of-order
 * transactions, redelivered events), and the shared Postgres server is restarted once.
 * Afterwards the ledger equals the one the pure core computes from the distinct events
 * exactly (balances, postings count, processed events), the invariants hold, and, once a
 * projector runs again after the final kill, every balance version committed to Postgres is
 * in ledger.balances.v1 (read_committed) with the committed content, and no other version is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroCodec, createIdempotentProducer, type ScreenedEvent } from '@tidemark/common';
import { SKIP_INTEGRATION, testNamespace } from '@tidemark/common/testing';
import { restartComponent } from '@tidemark/local-infra';
import { createTransport } from '@tidemark/stream';
import { BATCH_INPUTS_MAX, projectBatch, type WalletBalance } from './core/batch.js';
import type { TxState, TxEventType } from './core/transaction.js';
import { formatUnits } from './core/amount.js';
import { toLedgerInput } from './core/validate.js';
import { ledgerCheck } from './db/check.js';
import { listBalances } from './db/read.js';
import { createTestDatabase, type TestDatabase } from './testing/pg.js';
import { screenedEvent } from './testing/events.js';
import { checkBalanceRecords, committedBalanceVersions, waitForBalanceRecords } from './testing/balance-records.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const WALLETS = 150;
const TRANSACTIONS = 1_500;
const PRODUCE_CHUNK = 30;
const PRODUCE_INTERVAL_MS = 600;
const KILLS_MAX = 6;
const KILLS_MIN = 3;
const CATCH_UP_TIMEOUT_MS = 240_000;
/** From the restart of the projector until every committed balance version is readable in Kafka. */
const BALANCE_RECORDS_TIMEOUT_MS = 60_000;

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LIFECYCLES: TxEventType[][] = [
  ['deposit.detected', 'deposit.confirmed'],
  ['deposit.detected', 'deposit.confirmed', 'deposit.reversed'],
  ['deposit.detected', 'deposit.failed'],
  ['withdrawal.requested', 'withdrawal.broadcast', 'withdrawal.confirmed'],
  ['withdrawal.requested', 'withdrawal.failed'],
];

/** A stream of screened events: interleaved transactions, some out of order, ~5 % redelivered. */
function makeStream(seed: number): ScreenedEvent[] {
  const rnd = mulberry32(seed);
  const perTx: ScreenedEvent[][] = [];
  for (let tx = 0; tx < TRANSACTIONS; tx += 1) {
    const wallet_id = `wal_${Math.floor(rnd() * WALLETS)}`;
    const lifecycle = LIFECYCLES[Math.floor(rnd() * LIFECYCLES.length)]!;
    const decision = rnd() < 0.15 ? 'REVIEW' : rnd() < 0.05 ? 'BLOCK' : 'ALLOW';
    const amount =
      rnd() < 0.1
        ? `${Math.floor(rnd() * 1e9)}${'9'.repeat(50)}.${'1'.repeat(18)}`
        : `${Math.floor(rnd() * 1000)}.${String(Math.floor(rnd() * 1e9)).padStart(9, '0')}`;
    const events = lifecycle.map((event_type, i) =>
      screenedEvent(
        {
          event_id: `evt_${seed}_${tx}_${i}`,
          event_type,
          transaction_id: `tx_${seed}_${tx}`,
          wallet_id,
          partition_key: wallet_id,
          amount,
          occurred_at_ms: 1_764_000_000_000 + tx * 10 + i,
        },
        decision,
      ),
    );
    if (rnd() < 0.3) events.reverse();
    perTx.push(events);
  }
  // Interleave: repeatedly take the next event of a random unfinished transaction.
  const out: ScreenedEvent[] = [];
  const cursors = perTx.map(() => 0);
  let open = perTx.map((_, i) => i);
  while (open.length > 0) {
    const pick = Math.floor(rnd() * Math.min(open.length, 40));
    const i = open[pick]!;
    out.push(perTx[i]![cursors[i]!]!);
    cursors[i]! += 1;
    if (cursors[i] === perTx[i]!.length) open = open.filter((x) => x !== i);
    if (rnd() < 0.05 && out.length > 10) out.push(out[Math.floor(rnd() * out.length)]!); // redelivery
  }
  return out;
}

function expectedLedger(stream: ScreenedEvent[]) {
  const states = new Map<string, TxState>();
  const balances = new Map<string, WalletBalance>();
  let postings = 0;
  const seen = new Set<string>();
  for (let i = 0; i < stream.length; i += BATCH_INPUTS_MAX) {
    const inputs = stream
      .slice(i, i + BATCH_INPUTS_MAX)
      .map((e) => toLedgerInput(e))
      .filter((input) => {
        const k = `${input.meta.provider}\u0000${input.meta.event_id}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    const part = projectBatch(inputs, { states, balances, now_ms: 0 });
    for (const [k, v] of part.states) states.set(k, v);
    for (const [k, v] of part.balances) balances.set(k, v);
    postings += part.postings.length;
  }
  return { balances, postings, distinct: seen.size };
}

describe.skipIf(SKIP_INTEGRATION)('projector under kill -9 and a Postgres restart', () => {
  const ns = testNamespace('itledgercrash', { client_id: 'ledger-crash-test' });
  const { config, kafka, prefix } = ns;
  const transport = createTransport(config, 'ledger-crash-test');
  const logPath = `/tmp/ledger-crash-${prefix.slice(0, -1)}.log`;
  const log = createWriteStream(logPath);
  let db: TestDatabase;
  let child: ChildProcess | null = null;

  function startProjector(): ChildProcess {
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      cwd: REPO,
      env: {
        ...process.env,
        TIDEMARK_TOPIC_PREFIX: prefix,
        TIDEMARK_DATABASE_URL: db.url,
        TIDEMARK_LEDGER_API_PORT: '0',
        TIDEMARK_API_TOKENS: 'r:reader-token-crash-test-0001:reader',
        TIDEMARK_LOG_LEVEL: 'info',
        TIDEMARK_LEDGER_SESSION_TIMEOUT_MS: '6000',
        // One instance restarted again and again, with a stable name (as a StatefulSet pod keeps
        // its own): the restarted instance re-registers its transactional id, which ends its
        // killed predecessor's open transaction at once instead of after transaction.timeout.ms.
        TIDEMARK_INSTANCE_ID: 'ledger-projector-crash-1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.pipe(log, { end: false });
    proc.stderr?.pipe(log, { end: false });
    return proc;
  }

  async function killProjector(): Promise<void> {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    await ns.applyTopics();
  });

  afterAll(async () => {
    await killProjector();
    await db?.drop();
    await ns.cleanup();
    await transport.close();
    log.end();
  });

  // No retry: a second attempt would run on the first one's topics, consumer group and database,
  // where every event is already projected, so its progress() waits never see progress and it
  // cannot reach KILLS_MIN (under load that retry used to report "no progress for 90 s" and fail on
  // the kill count, hiding the first attempt's failure). The no-progress diagnostics stay so that a
  // projector stuck after the Postgres restart (suspected 2026-11-23; every pool now has connect,
  // statement and query timeouts) leaves evidence.
  it('ends with exactly the ledger of the distinct events', { timeout: 300_000 }, async () => {
    const stream = makeStream(7);
    const expected = expectedLedger(stream);
    const codec = new AvroCodec(config.TIDEMARK_REGISTRY_URL, prefix);
    const producer = createIdempotentProducer(kafka);
    await producer.connect();

    child = startProjector();
    let producing = true;
    const produced = (async () => {
      for (let i = 0; i < stream.length; i += PRODUCE_CHUNK) {
        const chunk = stream.slice(i, i + PRODUCE_CHUNK);
        const messages = await Promise.all(
          chunk.map(async (e) => ({ key: e.event.partition_key, value: await codec.encode('events.screened.v1', e) })),
        );
        await producer.send({ topic: ns.topic('events.screened.v1'), acks: -1, messages });
        await new Promise((r) => setTimeout(r, PRODUCE_INTERVAL_MS));
      }
      producing = false;
    })();

    const rnd = mulberry32(99);
    const processedCount = async () => {
      try {
        return (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger.processed_events')).rows[0]!.n;
      } catch {
        return -1; // Postgres restarting
      }
    };
    /** Waits until the running projector has made progress (so the next kill lands mid-stream). */
    const progress = async () => {
      const before = await processedCount();
      const until = Date.now() + 90_000;
      while (Date.now() < until && (await processedCount()) <= before) await new Promise((r) => setTimeout(r, 100));
      if (Date.now() >= until)
        console.log(`[crash] no progress for 90 s (processed ${before} → ${await processedCount()}); see ${logPath}`);
    };
    let kills = 0;
    let pg_restarted_mid_stream = false;
    while (producing && kills < KILLS_MAX) {
      await progress();
      await new Promise((r) => setTimeout(r, 200 + rnd() * 1_500));
      if (kills === 1) {
        // Restart the whole Postgres server under the running projector, then keep going.
        await restartComponent('postgres');
        pg_restarted_mid_stream = producing;
        await progress();
      }
      await killProjector();
      kills += 1;
      child = startProjector();
    }
    expect(kills).toBeGreaterThanOrEqual(KILLS_MIN);
    expect(pg_restarted_mid_stream).toBe(true);
    await produced;
    expect(producing).toBe(false);
    await producer.disconnect();

    const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
    let processed = 0;
    for (;;) {
      processed = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger.processed_events')).rows[0]!.n;
      if (processed >= expected.distinct || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(processed, `see ${logPath}`).toBe(expected.distinct);
    await killProjector();

    const actual = await listBalances(db.pool);
    const want = [...expected.balances.values()]
      .map((b) => ({
        wallet_id: b.wallet_id,
        asset: b.asset,
        pending: formatUnits(b.pending),
        available: formatUnits(b.available),
        held: formatUnits(b.held),
      }))
      .sort((a, b) => (a.wallet_id < b.wallet_id ? -1 : a.wallet_id > b.wallet_id ? 1 : a.asset < b.asset ? -1 : 1));
    expect(actual.map(({ version: _v, ...rest }) => rest)).toEqual(want);
    const postings = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger.postings')).rows[0]!.n;
    expect(postings).toBe(expected.postings);
    const report = await ledgerCheck(db.pool);
    expect(report.violations).toEqual([]);

    // Every balance version committed to Postgres must reach ledger.balances.v1. Each chunk commits
    // to Postgres before its Kafka transaction (records + input position), so the kill above can
    // land between the two; the busier the machine, the wider that window (under load the last
    // instance often projects most of the stream in its catch-up and is killed before any of it
    // is in Kafka). Those records are not lost: the input position was not committed either, so the
    // next projector re-reads the events, finds them in ledger.processed_events and re-emits the
    // stored records. A projector runs again (as a deployment restarts it); the whole history must arrive.
    const versions = await committedBalanceVersions(db.pool);
    expect(versions.size, 'one balance version per balance change').toBe(actual.reduce((n, b) => n + b.version, 0));
    for (const b of actual) {
      const final = versions.get(`${b.wallet_id}|${b.asset}|${b.version}`);
      expect(final, `final version of ${b.wallet_id}|${b.asset}`).toEqual({ pending: b.pending, available: b.available, held: b.held });
    }
    const atKill = await checkBalanceRecords(transport, codec, versions, 5_000);
    console.log(
      `[crash] after the final kill: ${atKill.missing.length}/${versions.size} committed balance versions not readable in Kafka` +
        ` (read ${atKill.records} records, reached the end: ${atKill.complete})`,
    );
    child = startProjector();
    const check = await waitForBalanceRecords(transport, codec, versions, BALANCE_RECORDS_TIMEOUT_MS);
    console.log(`[crash] after the restart: ${check.missing.length} missing after ${check.waited_ms} ms (read ${check.records} records)`);
    await killProjector();
    expect(check.missing, `committed balance versions missing from the topic; see ${logPath}`).toEqual([]);
    expect(check.conflicting, 'records differing from the committed balance').toEqual([]);
    expect(check.unknown, 'records of a version Postgres never committed').toEqual([]);
  });
});
