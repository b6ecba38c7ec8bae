import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';
import { statementKnobsSchema, type StatementKnobs } from './scenario.js';
import { decodeCursor, encodeCursor, statementsPage, type StatementRecord } from './statements.js';

function records(n: number, same_time_every = 3): StatementRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const ms = 1_764_000_000_000 + Math.floor(i / same_time_every) * 1000;
    return {
      transaction_id: `tx_${String(i).padStart(5, '0')}`,
      wallet_id: 'wal_1',
      asset: 'BTC',
      amount: '1.00000000',
      direction: 'in' as const,
      status: 'confirmed' as const,
      updated_at: new Date(ms).toISOString(),
      updated_at_ms: ms,
    };
  });
}

const knobs = (patch: Partial<StatementKnobs> = {}): StatementKnobs => statementKnobsSchema.parse(patch);

/** Follows next_cursor to the end; returns every item in page order. */
function walk(
  all: StatementRecord[],
  k: StatementKnobs,
  limit: number,
  since_ms: number | null,
  seed = 1,
): { ids: string[]; pages: number } {
  const rng = new Rng(seed);
  const ids: string[] = [];
  let cursor = null;
  let pages = 0;
  for (;;) {
    const page = statementsPage(all, { updated_since_ms: since_ms, cursor, limit }, k, rng);
    pages++;
    if (pages > 10_000) throw new Error('pagination does not terminate');
    ids.push(...page.data.map((r) => r.transaction_id));
    expect(page.data.length).toBeLessThanOrEqual(Math.min(limit, k.page_size_cap ?? limit));
    for (const r of page.data)
      expect(Object.keys(r).sort()).toEqual(['amount', 'asset', 'direction', 'status', 'transaction_id', 'updated_at', 'wallet_id']);
    if (page.next_cursor === null) return { ids, pages };
    cursor = decodeCursor(page.next_cursor);
    expect(cursor).not.toBeNull();
  }
}

describe('statements pagination (DESIGN 3.5)', () => {
  it('walking next_cursor returns every record once, in order', () => {
    const all = records(250);
    const { ids, pages } = walk(all, knobs(), 100, null);
    expect(ids).toEqual(all.map((r) => r.transaction_id));
    expect(pages).toBe(3);
  });

  it('updated_since is inclusive and travels inside the cursor', () => {
    const all = records(30);
    const since = all[9]!.updated_at_ms; // records 9, 10, 11 share this time
    const { ids } = walk(all, knobs(), 4, since);
    expect(ids).toEqual(all.slice(9).map((r) => r.transaction_id));
  });

  it('odd pagination (capped pages, empty pages, repeated boundary items) still covers every record', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0, max: 0.6, noNaN: true }),
        fc.double({ min: 0, max: 0.6, noNaN: true }),
        fc.integer(),
        (n, limit, cap, empty_rate, repeat_rate, seed) => {
          const all = records(n);
          const k = knobs({ page_size_cap: cap, empty_page_rate: empty_rate, repeat_last_item_rate: repeat_rate });
          const { ids } = walk(all, k, limit, null, seed);
          expect(new Set(ids)).toEqual(new Set(all.map((r) => r.transaction_id)));
          if (repeat_rate === 0) expect(ids.length).toBe(n);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('cursors are opaque, versioned and validated', () => {
    const c = { since_ms: null, after_ms: 5, after_id: 'tx_1' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    for (const bad of [
      '',
      'not base64!',
      Buffer.from('[2,null,5,"x"]').toString('base64url'),
      Buffer.from('{"a":1}').toString('base64url'),
      'x'.repeat(600),
    ]) {
      expect(decodeCursor(bad), bad).toBeNull();
    }
  });
});
