import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScreeningDecision } from '@tidemark/common';
import { DecisionStore, migrate } from './decision-store.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const DATABASE_URL = process.env.TIDEMARK_DATABASE_URL ?? 'postgres://tidemark:tidemark@127.0.0.1:55432/tidemark';
const SCHEMA = `cs_test_${randomBytes(6).toString('hex')}`;

function decision(d: ScreeningDecision['decision'], screened_at_ms: number): ScreeningDecision {
  return { decision: d, reasons: [], sanctions_list_version: 'sha256:x@t', rules_version: 'r@1', screened_at_ms };
}

describe.skipIf(SKIP)('DecisionStore on real Postgres (set TIDEMARK_SKIP_INTEGRATION=1 to skip)', () => {
  let pool: pg.Pool;
  let store: DecisionStore;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
    expect(await migrate(DATABASE_URL, SCHEMA)).toEqual(['1763891000000_screening-decisions']);
    // Idempotent: a second start applies nothing.
    expect(await migrate(DATABASE_URL, SCHEMA)).toEqual([]);
    store = new DecisionStore(pool, SCHEMA);
  });

  afterAll(async () => {
    await pool?.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(SCHEMA)} CASCADE`);
    await pool?.end();
  });

  const row = (event_id: string, occurred_at_ms: number, overrides: Partial<Parameters<DecisionStore['save']>[0]> = {}) => ({
    provider: 'generic',
    event_id,
    window_key: 'wal_1',
    transaction_id: `tx_${event_id}`,
    event_type: 'deposit.confirmed',
    occurred_at_ms,
    amount_ref: '9000.5',
    counts_in_windows: true,
    screening: decision('ALLOW', 1),
    ...overrides,
  });

  it('stores a decision once: the first writer wins and a replay gets the stored one back', async () => {
    const first = await store.save(row('e1', 1_000, { screening: decision('REVIEW', 111) }));
    expect(first).toEqual({ decision: decision('REVIEW', 111), inserted: true });
    const again = await store.save(row('e1', 1_000, { screening: decision('ALLOW', 222) }));
    expect(again).toEqual({ decision: decision('REVIEW', 111), inserted: false });
    expect(await store.find('generic', 'e1')).toEqual(decision('REVIEW', 111));
    expect(await store.find('generic', 'missing')).toBeNull();
  });

  it('reads the window (from, to], newest first, bounded, only counting rows of the wallet', async () => {
    await store.save(row('w1', 10_000));
    await store.save(row('w2', 20_000));
    await store.save(row('w3', 30_000, { amount_ref: null }));
    await store.save(row('w4', 40_000, { window_key: 'wal_other' }));
    await store.save(
      row('w5', 25_000, { counts_in_windows: false, transaction_id: null, event_type: 'kyc.status_changed', amount_ref: null }),
    );
    const h = await store.history('wal_1', 10_000, 30_000, 10);
    expect(h.truncated).toBe(false);
    expect(h.entries.map((e) => e.event_id)).toEqual(['w3', 'w2']);
    expect(h.entries[1]).toEqual({
      provider: 'generic',
      event_id: 'w2',
      transaction_id: 'tx_w2',
      occurred_at_ms: 20_000,
      amount_ref: '9000.5',
    });
    expect(h.entries[0]?.amount_ref).toBeNull();
    const bounded = await store.history('wal_1', 0, 50_000, 2);
    expect(bounded.truncated).toBe(true);
    expect(bounded.entries).toHaveLength(2);
  });

  it('reads many windows in one statement, each bounded on its own', async () => {
    for (let i = 0; i < 5; i++) await store.save(row(`m${i}`, 100_000 + i * 1_000, { window_key: 'wal_many' }));
    await store.save(row('m_other', 101_500, { window_key: 'wal_many_2' }));
    await store.save(row('m_tie', 102_000, { window_key: 'wal_many', provider: 'alpha' }));
    const windows = [
      { window_key: 'wal_many', from_ms_exclusive: 100_000, to_ms_inclusive: 103_000 },
      { window_key: 'wal_many_2', from_ms_exclusive: 0, to_ms_inclusive: 200_000 },
      { window_key: 'wal_none', from_ms_exclusive: 0, to_ms_inclusive: 200_000 },
      { window_key: 'wal_1', from_ms_exclusive: 10_000, to_ms_inclusive: 30_000 },
    ];
    const ids = (h: { truncated: boolean; entries: Array<{ event_id: string }> } | undefined) =>
      h && { truncated: h.truncated, ids: h.entries.map((e) => e.event_id) };
    const bounded = await store.histories(windows, 3);
    expect([...bounded.keys()]).toEqual(windows.map((w) => w.window_key));
    // newest first; equal times by provider then event id; (from, to] excludes m0 at 100,000
    expect(ids(bounded.get('wal_many'))).toEqual({ truncated: true, ids: ['m3', 'm_tie', 'm2'] });
    expect(ids(bounded.get('wal_many_2'))).toEqual({ truncated: false, ids: ['m_other'] });
    expect(ids(bounded.get('wal_none'))).toEqual({ truncated: false, ids: [] });
    expect(ids(bounded.get('wal_1'))).toEqual({ truncated: false, ids: ['w3', 'w2'] });
    const all = await store.histories(windows, 10);
    expect(ids(all.get('wal_many'))).toEqual({ truncated: false, ids: ['m3', 'm_tie', 'm2', 'm1'] });
    expect(await store.histories([], 3)).toEqual(new Map());
  });

  it('keeps 78-digit values exact', async () => {
    const big = '123456789012345678901234567890123456789012345678901234567890.123456789012345678';
    await store.save(row('big', 60_000, { window_key: 'wal_big', amount_ref: big }));
    expect((await store.history('wal_big', 0, 60_000, 5)).entries[0]?.amount_ref).toBe(big);
  });
});
