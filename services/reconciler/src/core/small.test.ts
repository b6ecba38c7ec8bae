import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeWindow, parseInstant, windowPosition, WindowError } from './window.js';
import { isRetryableStatus, parseRetryAfter, retryDelayMs, RETRY_AFTER_MS_MAX } from './backoff.js';
import { dedupeBatch, parseStatementPage, supersedes } from './statements.js';
import { ReportBuilder, renderText } from './report.js';
import { compareTransaction } from './compare.js';

describe('window', () => {
  it('parses strict ISO-8601 instants and rejects the rest', () => {
    expect(parseInstant('2026-11-23T10:00:00Z', 'x')).toBe(Date.UTC(2026, 10, 23, 10));
    expect(parseInstant('2026-11-23T11:00:00+01:00', 'x')).toBe(Date.UTC(2026, 10, 23, 10));
    expect(parseInstant('2026-11-23', 'x')).toBe(Date.UTC(2026, 10, 23));
    expect(parseInstant('2026-11-23T10:00:00.123456Z', 'x')).toBe(Date.UTC(2026, 10, 23, 10, 0, 0, 123));
    for (const bad of ['yesterday', '2026-11-23T10:00:00', '1700000000', '2026-13-45T99:00:00Z'])
      expect(() => parseInstant(bad, '--since')).toThrow(WindowError);
  });

  it('is half-open and refuses an empty window', () => {
    const w = makeWindow('2026-11-23T10:00:00Z', '2026-11-23T11:00:00Z', 0);
    expect(windowPosition(w, w.since_ms)).toBe('in');
    expect(windowPosition(w, w.until_ms - 1)).toBe('in');
    expect(windowPosition(w, w.until_ms)).toBe('after');
    expect(windowPosition(w, w.since_ms - 1)).toBe('before');
    expect(() => makeWindow('2026-11-23T11:00:00Z', '2026-11-23T10:00:00Z', 0)).toThrow(/window is empty/);
    expect(makeWindow('2026-11-23T10:00:00Z', undefined, Date.UTC(2026, 10, 24)).until_ms).toBe(Date.UTC(2026, 10, 24));
  });
});

describe('backoff', () => {
  const policy = { attempts_max: 6, delay_ms_min: 100, delay_ms_max: 2_000, factor: 2, jitter: 0.2 };
  it('grows exponentially, is capped, and honours Retry-After within a bound', () => {
    expect(retryDelayMs({ ...policy, jitter: 0 }, 1, 0.5)).toBe(100);
    expect(retryDelayMs({ ...policy, jitter: 0 }, 3, 0.5)).toBe(400);
    expect(retryDelayMs({ ...policy, jitter: 0 }, 30, 0.5)).toBe(2_000);
    expect(retryDelayMs({ ...policy, jitter: 0 }, 1, 0.5, 5_000)).toBe(5_000);
    expect(retryDelayMs({ ...policy, jitter: 0 }, 1, 0.5, 10 * RETRY_AFTER_MS_MAX)).toBe(RETRY_AFTER_MS_MAX);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, r) => {
        const d = retryDelayMs(policy, n, r);
        return d >= 80 && d <= 2_000;
      }),
    );
  });

  it('retries only what says "later"', () => {
    expect([408, 425, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 422].some(isRetryableStatus)).toBe(false);
    expect(parseRetryAfter('3', 0)).toBe(3_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
  });
});

describe('statements page', () => {
  const item = {
    transaction_id: 'tx_1',
    wallet_id: 'wal_1',
    asset: 'BTC',
    amount: '1.5',
    direction: 'in',
    status: 'confirmed',
    updated_at: '2026-11-23T10:00:00Z',
  };
  it('accepts the documented shape with extra fields, and a missing next_cursor as the end', () => {
    const page = parseStatementPage({ data: [{ ...item, extra: 1 }], next_cursor: null, has_more: false });
    expect(page.records[0]).toMatchObject({ transaction_id: 'tx_1', amount: '1.5', updated_at_ms: Date.UTC(2026, 10, 23, 10) });
    expect(parseStatementPage({ data: [] }).next_cursor).toBeNull();
  });

  it('refuses floats, unknown statuses, bad instants and non-pages', () => {
    expect(() => parseStatementPage({ data: [{ ...item, amount: 1.5 }] })).toThrow(/amount/);
    expect(() => parseStatementPage({ data: [{ ...item, amount: '-1' }] })).toThrow(/amount/);
    expect(() => parseStatementPage({ data: [{ ...item, status: 'settled' }] })).toThrow(/status/);
    expect(() => parseStatementPage({ data: [{ ...item, updated_at: 'now' }] })).toThrow(/updated_at/);
    expect(() => parseStatementPage([])).toThrow(/malformed/);
  });

  it('dedupe keeps the latest updated_at, the later-seen on ties, whatever the order (property)', () => {
    const versions = fc.array(
      fc.record({ transaction_id: fc.constantFrom('a', 'b', 'c'), updated_at_ms: fc.integer({ min: 0, max: 5 }) }),
      { minLength: 1, maxLength: 30 },
    );
    fc.assert(
      fc.property(versions, (vs) => {
        const seqd = vs.map((v, seq) => ({ ...v, seq }));
        const { kept } = dedupeBatch(seqd);
        for (const k of kept) {
          const same = seqd.filter((v) => v.transaction_id === k.transaction_id);
          if (same.some((v) => v !== k && supersedes(v, k))) return false;
        }
        return new Set(kept.map((k) => k.transaction_id)).size === kept.length;
      }),
    );
  });
});

describe('report', () => {
  it('summarises counts, drift per asset, divergences and the verdict', () => {
    const r = new ReportBuilder('recon-1', 'generic', { since_ms: 0, until_ms: 1_000 }, 0, 'http://p/', false);
    const p = {
      transaction_id: 't',
      wallet_id: 'w',
      asset: 'BTC',
      amount: '1',
      direction: 'in' as const,
      status: 'confirmed' as const,
      updated_at: '1970-01-01T00:00:00Z',
      updated_at_ms: 0,
    };
    const l = {
      ...p,
      amount: '1.25',
      position: { pending: 0n, available: 0n, held: 0n },
      held: false,
      last_event_at_ms: 0,
      status: 'pending' as const,
    };
    const c = compareTransaction(p, l);
    r.addComparison(c);
    for (const f of c.findings) r.addFinding(f);
    r.addComparison(compareTransaction(p, { ...l, amount: '1', status: 'confirmed' }));
    const s = r.summary(500);
    expect(s).toMatchObject({ ok: false, verdict: 'NOT OK', discrepancies_total: 2, matching: { compared: 2, matched: 1, mismatched: 1 } });
    expect(s.amount_drift).toEqual({ BTC: { ledger_minus_provider: '0.25', transactions: 1 } });
    expect(s.status_divergences).toEqual({ 'pending -> confirmed': 1 });
    const text = renderText(s, r.kept);
    expect(text).toContain('NOT OK');
    expect(text).toContain('amount_mismatch');
    expect(new ReportBuilder('recon-2', 'generic', { since_ms: 0, until_ms: 1 }, 0, 'u', false).summary(1)).toMatchObject({
      ok: true,
      verdict: 'OK',
    });
  });
});
