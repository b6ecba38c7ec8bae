/**
 * Integration: the reconciler against real Postgres, Kafka and the schema registry, with
 * the provider simulator's statements API (its own server, with its odd pagination and
 * transient failures) and a ledger filled by the ledger projector's real handler with
 * every webhook the simulator did not withhold.
 *
 * The simulator injects discrepancies (webhooks dropped entirely or their last event,
 * amounts and statuses altered in its statements); the reconciler must report exactly
 * the discrepancies the simulator's ground truth expects, exit 1, publish them, and
 * --heal must inject RECONCILIATION events that, once projected, leave a ledger the next
 * run finds clean (exit 0). A second heal run injects the same event ids (idempotent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRecord, CanonicalEvent, Discrepancy } from '@tidemark/common';
import { getBalances } from '@tidemark/ledger-projector';
import { reconcileCommand } from './command.js';
import type { ReportSummary } from './core/report.js';
import {
  createLedgerDatabase,
  createTestTopics,
  canonicalEvent,
  projectIntoLedger,
  readTopic,
  screened,
  withEnv,
  type TestDatabase,
  type TestTopics,
} from './testing/support.js';
// The simulator's library entry point (test/simulator/src/index.ts).
import {
  Simulation,
  loadScenario,
  loadSanctionsSnapshot,
  parseScenario,
  sanctionedBlocks,
  startSimulatorServer,
} from '@tidemark/simulator';

const skip = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
if (skip) console.warn('TIDEMARK_SKIP_INTEGRATION=1: skipping the reconciler integration tests');

type Report = ReportSummary & { discrepancies: Array<Discrepancy & { event_key: string | null }> };

describe.skipIf(skip)('reconciler against the simulator and a real ledger', () => {
  let db: TestDatabase;
  let topics: TestTopics;
  let sim: Simulation;
  let server: { url: string; close: () => Promise<void> };
  let dir: string;
  const since = new Date(Date.now() - 3 * 3600_000).toISOString();

  async function reconcile(
    name: string,
    extra: { heal?: boolean; conservation?: boolean; env?: Record<string, string> } = {},
  ): Promise<{ code: number; report: Report }> {
    const path = join(dir, `${name}.json`);
    const code = await withEnv(
      {
        TIDEMARK_DATABASE_URL: db.url,
        TIDEMARK_TOPIC_PREFIX: topics.prefix,
        TIDEMARK_GENERIC_STATEMENTS_URL: server.url,
        TIDEMARK_RECONCILE_RETRY_DELAY_MS_MIN: '20',
        TIDEMARK_RECONCILE_RETRY_ATTEMPTS_MAX: '10',
        TIDEMARK_LOG_LEVEL: 'warn',
        ...extra.env,
      },
      () => reconcileCommand({ provider: 'generic', since, report: path, json: true, heal: extra.heal, conservation: extra.conservation }),
    );
    return { code, report: JSON.parse(await readFile(path, 'utf8')) as Report };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recon-it-'));
    [db, topics] = await Promise.all([createLedgerDatabase(), createTestTopics('recon')]);
    const base = loadScenario('recon');
    const scenario = parseScenario({
      ...base,
      // No transactions left out of statements here (those are missing_at_provider, which no heal can fix;
      // the dedicated test below covers them).
      discrepancies: {
        drop_all_rate: 0.03,
        drop_last_rate: 0.03,
        alter_amount_rate: 0.03,
        alter_status_rate: 0.03,
        omit_from_statements_rate: 0,
      },
      // An awkward provider API: small pages, empty pages, repeated items, transient 429/500/503.
      statements: { ...base.statements, page_size_cap: 13, empty_page_rate: 0.25, repeat_last_item_rate: 0.3, transient_failure_rate: 0.3 },
      $schema: undefined,
    });
    sim = new Simulation({ scenario, sanctions: loadSanctionsSnapshot(), start_ms: Date.now() - 3600_000 });
    sim.generateAll();
    server = await startSimulatorServer(sim, '127.0.0.1', 0);
    // The ledger gets every webhook the provider sent (withheld ones never arrive).
    const events = sim.truth.transactions().flatMap((record) =>
      record.events
        .filter((e) => !e.withheld)
        .map((e) =>
          screened(
            canonicalEvent({
              event_id: e.id,
              event_type: e.type,
              provider: record.tx.provider,
              transaction_id: record.tx.transaction_id,
              wallet_id: record.tx.wallet_id,
              partition_key: record.tx.wallet_id,
              asset: record.tx.asset,
              amount: record.tx.amount,
              occurred_at_ms: e.occurred_at_ms,
              received_at_ms: e.occurred_at_ms + 5,
            }),
            record.tx.kind === 'deposit' ? sanctionedBlocks(record.tx) : 'ALLOW',
          ),
        ),
    );
    await projectIntoLedger(db.pool, events);
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await Promise.allSettled([db?.drop(), topics?.cleanup()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports exactly the discrepancies the simulator injected, publishes them, exits 1', async () => {
    const expected = sim.truth.expectedDiscrepancies();
    const kinds = new Set(expected.map((e) => e.kind));
    expect(kinds).toEqual(new Set(['missing_in_ledger', 'amount_mismatch', 'status_mismatch']));

    const { code, report } = await reconcile('first');
    expect(code).toBe(1);
    const found = report.discrepancies.map((d) => `${d.kind} ${d.transaction_id}`).sort();
    expect(found).toEqual(expected.map((e) => `${e.kind} ${e.transaction_id}`).sort());
    for (const e of expected) {
      const d = report.discrepancies.find((x) => x.transaction_id === e.transaction_id)!;
      if (e.kind === 'amount_mismatch')
        expect([d.ledger_value, d.provider_value]).toEqual([normalize(e.ledger_amount!), e.provider_amount]);
      if (e.kind === 'status_mismatch') expect([d.ledger_value, d.provider_value]).toEqual([e.ledger_status, e.provider_status]);
      if (e.kind === 'missing_in_ledger') expect(d.ledger_value).toBeNull();
    }
    expect(report.verdict).toBe('NOT OK');
    expect(report.provider_side.in_window).toBe(sim.truth.statementRecords('generic').length);
    // The simulator's awkward API was exercised and survived.
    expect(report.provider_side.empty_pages).toBeGreaterThan(0);
    expect(report.provider_side.duplicates_dropped).toBeGreaterThan(0);
    expect(report.provider_side.retries).toBeGreaterThan(0);
    expect(report.matching.matched).toBe(report.matching.compared - expected.filter((e) => e.kind !== 'missing_in_ledger').length);
    expect(report.balances.mismatched).toBe(0);
    expect(report.conservation).toMatchObject({ checked: true, ok: true });

    const published = await readTopic<Discrepancy>(topics, 'reconciliation.discrepancies.v1');
    const mine = published.filter((p) => p.value.run_id === report.run_id);
    expect(mine.map((p) => `${p.value.kind} ${p.value.transaction_id}`).sort()).toEqual(found);
    for (const p of mine) expect(p.key).toBe(p.value.wallet_id);
    const audit = await readTopic<AuditRecord>(topics, 'audit.v1');
    expect(
      audit.some(
        (a) =>
          a.value.stage === 'reconciler' &&
          a.value.action === 'reconciled' &&
          a.value.details.run_id === report.run_id &&
          a.value.details.verdict === 'NOT OK',
      ),
    ).toBe(true);
  });

  it('heals idempotently through webhooks.received.v1; after projection the next run is clean', async () => {
    const expected = sim.truth.expectedDiscrepancies();
    const heal1 = await reconcile('heal-1', { heal: true });
    expect(heal1.code).toBe(1);
    expect(heal1.report.heal).toMatchObject({ requested: true, injected: expected.length, not_healable: 0 });
    const heal2 = await reconcile('heal-2', { heal: true });
    expect(heal2.report.heal.injected).toBe(expected.length);

    const injected = await readTopic<CanonicalEvent>(topics, 'webhooks.received.v1');
    expect(injected).toHaveLength(2 * expected.length);
    for (const r of injected) {
      expect(r.value.source).toBe('RECONCILIATION');
      expect(r.key).toBe(r.value.wallet_id);
      expect(r.headers.traceparent).toMatch(/^00-/);
    }
    const ids1 = heal1.report.heal.events.map((e) => e.event_id).sort();
    const ids2 = heal2.report.heal.events.map((e) => e.event_id).sort();
    expect(ids2).toEqual(ids1); // same truth, same ids: dedupe drops the second batch
    expect(new Set(injected.map((r) => r.value.event_id))).toEqual(new Set(ids1));
    const healedAudit = (await readTopic<AuditRecord>(topics, 'audit.v1')).filter((a) => a.value.action === 'healed');
    expect(healedAudit).toHaveLength(2 * expected.length);

    // Project the injected events through the ledger projector's handler (every copy: the ledger's
    // own processed-event ids make the duplicates no-ops, as dedupe would upstream). This test does
    // not run the stream runtime, so no 'projected' audit records exist for them: the transaction
    // and balance checks must now be clean, while the conservation check must notice exactly the
    // healed events as never accounted for (the e2e suite runs the whole pipeline).
    await projectIntoLedger(
      db.pool,
      injected.map((r) => screened(r.value)),
    );
    const after = await reconcile('after-heal', { conservation: false });
    expect(after.report.discrepancies).toEqual([]);
    expect(after.code).toBe(0);
    expect(after.report.verdict).toBe('OK');
    const conserved = await reconcile('after-heal-conservation', { env: { TIDEMARK_RECONCILE_SETTLE_MS: '0' } });
    expect(conserved.code).toBe(1);
    expect(conserved.report.discrepancies.every((d) => d.kind === 'not_conserved')).toBe(true);
    expect(conserved.report.discrepancies.map((d) => d.event_key).sort()).toEqual(ids1.map((id) => `generic:${id}`).sort());

    // The healed ledger holds what the provider's books say, wallet by wallet (totals per asset).
    const statements = sim.truth.statementRecords('generic');
    const expectedTotals = new Map<string, bigint>();
    for (const s of statements) {
      const units = toUnits(s.amount);
      const delta =
        s.direction === 'in' ? (s.status === 'pending' || s.status === 'confirmed' ? units : 0n) : s.status === 'confirmed' ? -units : 0n;
      const key = `${s.wallet_id}/${s.asset}`;
      expectedTotals.set(key, (expectedTotals.get(key) ?? 0n) + delta);
    }
    for (const wallet of new Set(statements.map((s) => s.wallet_id))) {
      const balances = await getBalances(db.pool, wallet);
      for (const b of balances.balances) {
        const total = toUnits(b.pending) + toUnits(b.available) + toUnits(b.held);
        expect(`${wallet}/${b.asset} ${total}`).toBe(`${wallet}/${b.asset} ${expectedTotals.get(`${wallet}/${b.asset}`) ?? 0n}`);
      }
    }
  });
});

describe.skipIf(skip)('reconciler: ledger-only transactions, balance drift, unreachable provider', () => {
  let db: TestDatabase;
  let topics: TestTopics;
  let dir: string;
  let sim: Simulation;
  let server: { url: string; close: () => Promise<void> };
  const since = new Date(Date.now() - 3600_000).toISOString();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recon-it2-'));
    [db, topics] = await Promise.all([createLedgerDatabase(), createTestTopics('recon2')]);
    // A provider with no records at all, over the simulator's statements API.
    sim = new Simulation({
      scenario: parseScenario({ name: 'empty', traffic: { transactions: 0 } }),
      sanctions: loadSanctionsSnapshot(),
      start_ms: Date.now() - 600_000,
    });
    sim.generateAll();
    server = await startSimulatorServer(sim, '127.0.0.1', 0);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await Promise.allSettled([db?.drop(), topics?.cleanup()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const env = (url: string) => ({
    TIDEMARK_DATABASE_URL: db.url,
    TIDEMARK_TOPIC_PREFIX: topics.prefix,
    TIDEMARK_LOG_LEVEL: 'silent',
    TIDEMARK_GENERIC_STATEMENTS_URL: url,
  });

  it('reports a ledger transaction the provider does not list, and a tampered balance, but never heals them', async () => {
    const at = Date.now() - 60_000;
    await projectIntoLedger(db.pool, [
      screened(
        canonicalEvent({
          event_id: 'e1',
          event_type: 'deposit.confirmed',
          transaction_id: 'tx_ghost',
          wallet_id: 'wal_9',
          partition_key: 'wal_9',
          amount: '1.000000000000000001',
          occurred_at_ms: at,
        }),
      ),
    ]);
    // Someone edits the balances table behind the ledger's back.
    await db.pool.query(`UPDATE ledger.balances SET available = available + 0.25 WHERE wallet_id = 'wal_9'`);
    const path = join(dir, 'ghost.json');
    const code = await withEnv(env(server.url), () =>
      reconcileCommand({ provider: 'generic', since, report: path, heal: true, json: true, conservation: false }),
    );
    expect(code).toBe(1);
    const report = JSON.parse(await readFile(path, 'utf8')) as Report;
    expect(report.discrepancies.map((d) => d.kind).sort()).toEqual(['balance_mismatch', 'missing_at_provider']);
    const ghost = report.discrepancies.find((d) => d.kind === 'missing_at_provider')!;
    expect(ghost).toMatchObject({
      transaction_id: 'tx_ghost',
      wallet_id: 'wal_9',
      ledger_value: 'in confirmed 1.000000000000000001',
      provider_value: null,
    });
    const drift = report.discrepancies.find((d) => d.kind === 'balance_mismatch')!;
    expect(drift).toMatchObject({ wallet_id: 'wal_9', asset: 'BTC', ledger_value: 'pending=0 available=1.250000000000000001 held=0' });
    expect(drift.detail).toContain('available=0.25');
    expect(report.heal.injected).toBe(0);
    expect(report.conservation).toMatchObject({ checked: false });
  });

  it('exits 2 with a clear message when the provider is unreachable or the arguments are bad', async () => {
    const stderr: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const unreachable = await withEnv(
        { ...env('http://127.0.0.1:9'), TIDEMARK_RECONCILE_RETRY_ATTEMPTS_MAX: '2', TIDEMARK_RECONCILE_RETRY_DELAY_MS_MIN: '10' },
        () => reconcileCommand({ provider: 'generic', since, report: join(dir, 'x.json'), conservation: false }),
      );
      expect(unreachable).toBe(2);
      expect(stderr.join('')).toMatch(/unreachable after 2 attempts/);
      stderr.length = 0;
      expect(await withEnv(env(server.url), () => reconcileCommand({ provider: 'generic', since: 'last tuesday' }))).toBe(2);
      expect(stderr.join('')).toMatch(/--since must be an ISO-8601/);
      stderr.length = 0;
      expect(
        await withEnv({ ...env(server.url), TIDEMARK_GENERIC_STATEMENTS_URL: undefined }, () =>
          reconcileCommand({ provider: 'generic', since }),
        ),
      ).toBe(2);
      expect(stderr.join('')).toMatch(/TIDEMARK_GENERIC_STATEMENTS_URL/);
      stderr.length = 0;
      expect(
        await withEnv({ ...env(server.url), TIDEMARK_DATABASE_URL: 'postgres://tidemark:hunter2secret@127.0.0.1:1/none' }, () =>
          reconcileCommand({ provider: 'generic', since }),
        ),
      ).toBe(2);
      expect(stderr.join('')).toMatch(/ledger database at 127\.0\.0\.1:1\/none is unreachable/);
      expect(stderr.join('')).not.toContain('hunter2secret');
    } finally {
      process.stderr.write = original;
    }
  });

  it('exits 0 on a clean window', async () => {
    await db.pool.query(`UPDATE ledger.balances SET available = available - 0.25 WHERE wallet_id = 'wal_9'`);
    await db.pool.query(`DELETE FROM ledger.postings; DELETE FROM ledger.transactions; DELETE FROM ledger.balances;`);
    const code = await withEnv(env(server.url), () =>
      reconcileCommand({ provider: 'generic', since, report: join(dir, 'clean.json'), json: true }),
    );
    expect(code).toBe(0);
  });
});

function normalize(amount: string): string {
  return amount.includes('.') ? amount.replace(/0+$/, '').replace(/\.$/, '') : amount;
}

function toUnits(amount: string): bigint {
  const negative = amount.startsWith('-');
  const [int = '0', frac = ''] = amount.replace('-', '').split('.');
  const units = BigInt(int) * 10n ** 18n + BigInt(frac.padEnd(18, '0') || '0');
  return negative ? -units : units;
}
