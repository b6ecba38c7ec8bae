/**
 * The handler against real Postgres (own database per run): batch projection, idempotent
 * replay, races between instances, error classification, invariants, reconciler reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { InfrastructureError, PermanentError } from '@tidemark/stream';
import { createLedgerHandler } from './handler.js';
import { createLedgerPool } from './db/pool.js';
import { getBalances, getTransaction, listTransactions } from './db/read.js';
import { ledgerCheck } from './db/check.js';
import { createTestDatabase, type TestDatabase } from './testing/pg.js';
import { inputRecord, screenedEvent } from './testing/events.js';

const skip = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const logger = pino({ level: 'silent' });
const BIG = '123456789012345678901234567890123456789012345678901234567890.123456789012345678';

describe.skipIf(skip)('ledger handler on Postgres', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('projects a mixed, out-of-order batch with duplicates in one transaction', async () => {
    const handler = createLedgerHandler({ pool: db.pool, logger, now_ms: () => 1_764_000_100_000 });
    const records = [
      // tx_a: confirmed before detected (ALLOW)
      screenedEvent({ event_id: 'a2', event_type: 'deposit.confirmed', transaction_id: 'tx_a', amount: '0.50000000' }),
      screenedEvent({ event_id: 'a1', event_type: 'deposit.detected', transaction_id: 'tx_a', amount: '0.5' }),
      // tx_b: REVIEW deposit → held
      screenedEvent({ event_id: 'b1', event_type: 'deposit.detected', transaction_id: 'tx_b', amount: BIG }, 'REVIEW'),
      screenedEvent({ event_id: 'b2', event_type: 'deposit.confirmed', transaction_id: 'tx_b', amount: BIG }, 'REVIEW'),
      // tx_c: withdrawal requested, broadcast
      screenedEvent({ event_id: 'c1', event_type: 'withdrawal.requested', transaction_id: 'tx_c', amount: '0.2' }),
      screenedEvent({ event_id: 'c2', event_type: 'withdrawal.broadcast', transaction_id: 'tx_c', amount: '0.2' }),
      // duplicate inside the batch
      screenedEvent({ event_id: 'a1', event_type: 'deposit.detected', transaction_id: 'tx_a', amount: '0.5' }),
      // another wallet, another asset, 18 decimals
      screenedEvent({
        event_id: 'd1',
        event_type: 'deposit.detected',
        transaction_id: 'tx_d',
        wallet_id: 'wal_7',
        asset: 'ETH',
        amount: '1.000000000000000001',
      }),
      // status-only events
      screenedEvent({
        event_id: 'k1',
        event_type: 'kyc.status_changed',
        transaction_id: null,
        wallet_id: null,
        asset: null,
        amount: null,
        partition_key: 'cus_1',
        customer_id: 'cus_1',
        kyc_status: 'approved',
      }),
      screenedEvent({ event_id: 'u1', event_type: 'deposit.teleported', transaction_id: 'tx_u', amount: '9' }),
    ].map(inputRecord);

    const results = await handler.handleBatch(records);
    expect(results).toHaveLength(records.length);
    expect(results[0]!.outputs).toEqual([
      {
        topic: 'ledger.balances.v1',
        key: 'wal_42',
        value: {
          wallet_id: 'wal_42',
          asset: 'BTC',
          pending: '0',
          available: '0.5',
          held: '0',
          version: 1,
          provider: 'generic',
          event_id: 'a2',
          transaction_id: 'tx_a',
          changed_at_ms: 1_764_000_100_000,
        },
      },
    ]);
    expect(results[1]!.outputs).toEqual([]); // late detected adds nothing
    expect(results[6]).toEqual(results[1]); // in-batch duplicate answers like the first
    expect(results[8]!.audit?.[0]).toMatchObject({ action: 'projected', details: { outcome: 'kyc_recorded' } });
    expect(results[9]!.audit?.[0]).toMatchObject({ action: 'rejected', reason: 'unknown_event_type' });
    expect(results[3]!.audit?.[0]).toMatchObject({
      action: 'projected',
      provider: 'generic',
      event_id: 'b2',
      key: 'wal_42',
      details: { status: 'confirmed', decision: 'REVIEW' },
    });

    expect(await getBalances(db.pool, 'wal_42')).toEqual({
      wallet_id: 'wal_42',
      balances: [
        {
          asset: 'BTC',
          pending: '0',
          available: '0.3',
          held: '123456789012345678901234567890123456789012345678901234567890.323456789012345678',
        },
      ],
    });
    expect(await getBalances(db.pool, 'wal_7')).toEqual({
      wallet_id: 'wal_7',
      balances: [{ asset: 'ETH', pending: '1.000000000000000001', available: '0', held: '0' }],
    });
    expect(await getBalances(db.pool, 'nobody')).toEqual({ wallet_id: 'nobody', balances: [] });

    const tx = await getTransaction(db.pool, 'generic', 'tx_b');
    expect(tx).toMatchObject({
      status: 'confirmed',
      statement_status: 'confirmed',
      amount: BIG,
      asset: 'BTC',
      wallet_id: 'wal_42',
      decision: 'REVIEW',
    });
    expect(tx!.reasons[0]).toMatchObject({ code: 'AMOUNT_THRESHOLD' });
    expect(tx!.history.map((h) => h.event_type)).toEqual(expect.arrayContaining(['deposit.detected', 'deposit.confirmed']));
    expect(tx!.history[0]).toMatchObject({
      occurred_at: '2025-11-24T16:00:00.000Z',
      received_at: '2025-11-24T16:00:00.500Z',
      projected_at: '2025-11-24T16:01:40.000Z',
    });
    expect(await getTransaction(db.pool, 'generic', 'tx_u')).toBeNull();

    const report = await ledgerCheck(db.pool);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('replays a batch idempotently, returning exactly the stored results', async () => {
    const handler = createLedgerHandler({ pool: db.pool, logger, now_ms: () => 1_764_000_200_000 });
    const batch = [
      screenedEvent({ event_id: 'r1', event_type: 'deposit.detected', transaction_id: 'tx_r', wallet_id: 'wal_r', amount: '5' }),
      screenedEvent({ event_id: 'r2', event_type: 'deposit.confirmed', transaction_id: 'tx_r', wallet_id: 'wal_r', amount: '5' }),
    ].map(inputRecord);
    const first = await handler.handleBatch(batch);
    const postings = await db.pool.query('SELECT count(*)::int AS n FROM ledger.postings');
    const later = createLedgerHandler({ pool: db.pool, logger, now_ms: () => 1_764_000_999_000 });
    const again = await later.handleBatch(batch);
    expect(again).toEqual(first);
    const one = await later.handle(batch[1]!);
    expect(one).toEqual(first[1]);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM ledger.postings')).rows[0].n).toBe(postings.rows[0].n);
    expect(await getBalances(db.pool, 'wal_r')).toEqual({
      wallet_id: 'wal_r',
      balances: [{ asset: 'BTC', pending: '0', available: '5', held: '0' }],
    });
  });

  it('two instances projecting the same events concurrently apply them once', async () => {
    const events = Array.from({ length: 40 }, (_, i) =>
      inputRecord(
        screenedEvent({
          event_id: `z${i}`,
          event_type: i % 2 === 0 ? 'deposit.detected' : 'deposit.confirmed',
          transaction_id: `tx_z${Math.floor(i / 2)}`,
          wallet_id: 'wal_z',
          amount: '1.5',
        }),
      ),
    );
    const h1 = createLedgerHandler({ pool: db.pool, logger });
    const h2 = createLedgerHandler({ pool: db.pool, logger });
    const [r1, r2] = await Promise.all([h1.handleBatch(events), h2.handleBatch(events)]);
    expect(r1).toEqual(r2);
    expect(await getBalances(db.pool, 'wal_z')).toEqual({
      wallet_id: 'wal_z',
      balances: [{ asset: 'BTC', pending: '0', available: '30', held: '0' }],
    });
    expect((await ledgerCheck(db.pool)).ok).toBe(true);
  });

  it('refuses invalid and contradictory events as permanent failures', async () => {
    const handler = createLedgerHandler({ pool: db.pool, logger });
    await expect(
      handler.handle(inputRecord(screenedEvent({ event_id: 'bad1', event_type: 'deposit.detected', amount: '1e5' }))),
    ).rejects.toBeInstanceOf(PermanentError);
    await expect(
      handler.handle(inputRecord(screenedEvent({ event_id: 'bad2', event_type: 'deposit.detected', amount: '1.0000000000000000001' }))),
    ).rejects.toBeInstanceOf(PermanentError);
    await expect(
      handler.handle(inputRecord(screenedEvent({ event_id: 'bad3', event_type: 'deposit.detected', wallet_id: null }))),
    ).rejects.toBeInstanceOf(PermanentError);
    // tx_a is a deposit of wal_42
    await expect(
      handler.handle(inputRecord(screenedEvent({ event_id: 'bad4', event_type: 'withdrawal.requested', transaction_id: 'tx_a' }))),
    ).rejects.toBeInstanceOf(PermanentError);
    await expect(
      handler.handle(
        inputRecord(screenedEvent({ event_id: 'bad5', event_type: 'deposit.failed', transaction_id: 'tx_a', wallet_id: 'wal_other' })),
      ),
    ).rejects.toBeInstanceOf(PermanentError);
    const n = await db.pool.query(`SELECT count(*)::int AS n FROM ledger.processed_events WHERE event_id LIKE 'bad%'`);
    expect(n.rows[0].n).toBe(0);
  });

  it('throws InfrastructureError when Postgres is unreachable', async () => {
    const dead = createLedgerPool({ database_url: 'postgres://tidemark:tidemark@127.0.0.1:1/none', connect_timeout_ms: 500 });
    const handler = createLedgerHandler({ pool: dead, logger });
    await expect(handler.handle(inputRecord(screenedEvent({ event_id: 'x1', event_type: 'deposit.detected' })))).rejects.toBeInstanceOf(
      InfrastructureError,
    );
    await dead.end();
  });

  it('lists transactions for the reconciler with the statement status mapping, paged', async () => {
    const handler = createLedgerHandler({ pool: db.pool, logger });
    const base = Date.parse('2026-01-01T00:00:00Z');
    await handler.handleBatch(
      Array.from({ length: 7 }, (_, i) =>
        inputRecord(
          screenedEvent({
            provider: 'recon',
            event_id: `l${i}`,
            event_type: i < 4 ? 'deposit.confirmed' : 'withdrawal.broadcast',
            transaction_id: `tx_l${i}`,
            wallet_id: 'wal_l',
            amount: '1',
            occurred_at_ms: base + i * 1000,
          }),
        ),
      ),
    );
    const lines = [];
    for await (const line of listTransactions(db.pool, {
      provider: 'recon',
      since: new Date(base + 1000),
      until: new Date(base + 6000),
      page_size: 2,
    }))
      lines.push(line);
    expect(lines.map((l) => [l.transaction_id, l.direction, l.status, l.ledger_status])).toEqual([
      ['tx_l1', 'in', 'confirmed', 'confirmed'],
      ['tx_l2', 'in', 'confirmed', 'confirmed'],
      ['tx_l3', 'in', 'confirmed', 'confirmed'],
      ['tx_l4', 'out', 'pending', 'broadcast'],
      ['tx_l5', 'out', 'pending', 'broadcast'],
    ]);
    expect(lines[0]).toMatchObject({ amount: '1', wallet_id: 'wal_l', asset: 'BTC', updated_at: '2026-01-01T00:00:01.000Z' });
  });

  it('ledgerCheck reports a tampered balance and a negative bucket', async () => {
    await db.pool.query(`UPDATE ledger.balances SET available = available + 1 WHERE wallet_id = 'wal_r'`);
    const report = await ledgerCheck(db.pool);
    expect(report.ok).toBe(false);
    expect(report.violations.map((v) => v.kind)).toEqual(expect.arrayContaining(['balance_mismatch', 'positions_mismatch']));
    expect(report.violations.find((v) => v.kind === 'balance_mismatch')).toMatchObject({
      wallet_id: 'wal_r',
      asset: 'BTC',
      expected: '5',
      actual: '6',
    });
    await db.pool.query(`UPDATE ledger.balances SET available = available - 1 WHERE wallet_id = 'wal_r'`);
    expect((await ledgerCheck(db.pool)).ok).toBe(true);
  });
});
