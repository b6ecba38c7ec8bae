import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { CanonicalEvent, ScreeningDecision } from '@tidemark/common';
import { parseRules, RulesError } from './rules.js';
import { mostSevere, riskAddresses, screen, type HistoryEntry, type ScreeningContext } from './screen.js';
import { historyEntry, loadDefaultReference, lowRisk, makeContext, makeEvent, T0_MS, type Reference } from '../testing/fixtures.js';
import { DEFAULT_RULES_FILE } from '../reference/rules-source.js';
import { readFileSync } from 'node:fs';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

let ref: Reference;
let rawRules: Record<string, unknown>;
beforeAll(async () => {
  ref = await loadDefaultReference();
  rawRules = JSON.parse(readFileSync(DEFAULT_RULES_FILE, 'utf8')) as Record<string, unknown>;
});

function withRules(patch: Record<string, unknown>): Reference {
  return { ...ref, rules: parseRules({ ...rawRules, ...patch }) };
}

function run(event: CanonicalEvent, ctx: Partial<ScreeningContext> = {}, r: Reference = ref): ScreeningDecision {
  return screen(event, makeContext(r, event, ctx));
}

function codes(d: ScreeningDecision): string[] {
  return d.reasons.map((r) => r.code);
}

/** A complete, small, clean USDT deposit (price 1, so amount = value in USD). */
function usd(amount: string, overrides: Partial<CanonicalEvent> = {}): CanonicalEvent {
  return makeEvent({ asset: 'USDT', amount, ...overrides });
}

describe('rules file', () => {
  it('the shipped rules are valid and versioned', () => {
    expect(ref.rules.rules_version).toBe('tidemark-default@2026-11-23.1');
    expect(ref.rules.history_window_ms).toBe(DAY_MS);
  });
  it('rejects money written as a number, duplicate rule ids and inverted bands, naming the problem', () => {
    expect(() =>
      parseRules({
        ...rawRules,
        travel_rule: { rule_id: 'tr', at_or_above: 1000, outcome: 'REVIEW', required_fields: ['counterparty_name'] },
      }),
    ).toThrow(/travel_rule.at_or_above/);
    expect(() => parseRules({ ...rawRules, unpriced_asset: { rule_id: 'amount.default', outcome: 'REVIEW' } })).toThrow(/used twice/);
    expect(() =>
      parseRules({
        ...rawRules,
        structuring: [
          {
            rule_id: 's',
            window_ms: DAY_MS,
            threshold: '10000',
            band_min_ratio: '0.9',
            band_max_ratio: '0.8',
            count_min: 2,
            outcome: 'REVIEW',
          },
        ],
      }),
    ).toThrow(RulesError);
  });
});

describe('clean events', () => {
  it('a small complete deposit is a clean ALLOW with no reasons and both versions recorded', () => {
    const d = run(usd('100'));
    expect(d).toEqual({
      decision: 'ALLOW',
      reasons: [],
      sanctions_list_version: ref.sanctions.version,
      rules_version: ref.rules.rules_version,
      screened_at_ms: T0_MS + 100,
    });
  });
  it('events without a transaction (KYC, unknown types) pass trivially', () => {
    const kyc = makeEvent({
      event_type: 'kyc.status_changed',
      transaction_id: null,
      amount: null,
      asset: null,
      from_address: null,
      kyc_status: 'approved',
    });
    expect(run(kyc, { risk: [] })).toMatchObject({ decision: 'ALLOW', reasons: [] });
    const unknown = makeEvent({ event_type: 'deposit.something_new', amount: '5000000', counterparty_name: null });
    expect(run(unknown, { risk: [] })).toMatchObject({ decision: 'ALLOW', reasons: [] });
  });
});

describe('amount thresholds (USD 10,000 default, XMR 1,000)', () => {
  it.each([
    ['9999.99', false],
    ['10000', true],
    ['10000.00', true],
    ['10000.01', true],
  ])('USDT %s → threshold reason %s', (amount, fires) => {
    expect(codes(run(usd(amount))).includes('AMOUNT_THRESHOLD')).toBe(fires);
  });
  it('converts with the price table: BTC at 65800 → 0.15197568 BTC is 9999.99 USD, 0.15197569 is above', () => {
    // 0.15197568 × 65800 = 9999.999744; 0.15197569 × 65800 = 10000.000402
    expect(codes(run(makeEvent({ asset: 'BTC', amount: '0.15197568' })))).not.toContain('AMOUNT_THRESHOLD');
    const above = run(makeEvent({ asset: 'BTC', amount: '0.15197569' }));
    expect(above.reasons.find((r) => r.code === 'AMOUNT_THRESHOLD')).toMatchObject({
      rule_id: 'amount.default',
      outcome: 'REVIEW',
      matched_value: '10000.000402',
    });
  });
  it('an asset-specific threshold replaces the default one', () => {
    // XMR at 160: 6.25 XMR = 1000 USD exactly.
    expect(run(makeEvent({ asset: 'XMR', amount: '6.25' })).reasons.find((r) => r.code === 'AMOUNT_THRESHOLD')?.rule_id).toBe('amount.xmr');
    expect(codes(run(makeEvent({ asset: 'XMR', amount: '6.24999999' })))).not.toContain('AMOUNT_THRESHOLD');
  });
  it('an asset with no price cannot be valued: REVIEW, never ALLOW', () => {
    const d = run(makeEvent({ asset: 'FOO', amount: '1' }));
    expect(d.decision).toBe('REVIEW');
    expect(d.reasons[0]).toMatchObject({ code: 'UNPRICED_ASSET', rule_id: 'price.unknown', matched_value: 'FOO' });
  });
  it('fires monotonically: if an amount fires, every larger amount fires too', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 0n, max: 10n ** 12n }), (a, b) => {
        const [lo, hi] = a < b ? [a, b] : [b, a];
        const fmt = (cents: bigint) => `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
        const firesLo = codes(run(usd(fmt(lo)))).includes('AMOUNT_THRESHOLD');
        const firesHi = codes(run(usd(fmt(hi)))).includes('AMOUNT_THRESHOLD');
        expect(!firesLo || firesHi).toBe(true);
        expect(firesLo).toBe(lo >= 1_000_000n);
      }),
      { numRuns: 200 },
    );
  });
});

describe('travel rule (USD 1,000 without counterparty name and country → REVIEW)', () => {
  it.each([
    ['999.99', null, null, false],
    ['1000', null, null, true],
    ['1000.01', null, null, true],
    ['1000', 'ACME GmbH', null, true],
    ['1000', null, 'DE', true],
    ['1000', '   ', 'DE', true],
    ['1000', 'ACME GmbH', 'DE', false],
    ['1000', 'ACME GmbH', 'Germany', true],
    ['1000', 'ACME GmbH', ' de ', false],
    ['50000', 'ACME GmbH', 'DE', false],
  ])('amount %s, name %s, country %s → incomplete %s', (amount, name, country, fires) => {
    const d = run(usd(amount, { counterparty_name: name, counterparty_country: country }));
    expect(codes(d).includes('TRAVEL_RULE_INCOMPLETE')).toBe(fires);
    if (fires) expect(d.decision).not.toBe('ALLOW');
  });
  it('names the missing fields', () => {
    const d = run(usd('1000', { counterparty_name: 'ACME GmbH', counterparty_country: null }));
    expect(d.reasons[0]?.message).toMatch(/missing counterparty_country$/);
  });
});

describe('high-risk jurisdictions', () => {
  it.each([
    ['KP', true],
    ['kp', true],
    ['IR', true],
    ['VE', true],
    ['DE', false],
    ['US', false],
  ])('counterparty country %s → REVIEW %s', (country, fires) => {
    const d = run(usd('10', { counterparty_country: country }));
    expect(d.decision).toBe(fires ? 'REVIEW' : 'ALLOW');
    if (fires)
      expect(d.reasons[0]).toMatchObject({
        code: 'HIGH_RISK_JURISDICTION',
        list_version: 'FATF-2024-10',
        matched_value: country.toUpperCase(),
      });
  });
});

describe('external risk score (REVIEW at 50, BLOCK at 80)', () => {
  it.each([
    ['0.00', 'ALLOW'],
    ['49.99', 'ALLOW'],
    ['50', 'REVIEW'],
    ['50.00', 'REVIEW'],
    ['79.99', 'REVIEW'],
    ['80', 'BLOCK'],
    ['100', 'BLOCK'],
  ])('score %s → %s', (score, decision) => {
    const event = usd('10');
    const d = run(event, { risk: lowRisk(event, score) });
    expect(d.decision).toBe(decision);
    if (decision !== 'ALLOW') expect(d.reasons[0]).toMatchObject({ code: 'RISK_SCORE', score, matched_value: event.from_address });
  });
  it('an address the API cannot score is REVIEWed', () => {
    const event = usd('10');
    const d = run(event, {
      risk: [{ address: event.from_address as string, status: 'unscoreable', detail: 'risk API answered 422: invalid_address' }],
    });
    expect(d.decision).toBe('REVIEW');
    expect(d.reasons[0]?.code).toBe('RISK_SCORE_UNAVAILABLE');
  });
  it('a missing assessment is a bug, never an ALLOW', () => {
    expect(() => run(usd('10'), { risk: [] })).toThrow(/no risk assessment/);
  });
  it('scores the counterparty side: deposits by sender, withdrawals by receiver', () => {
    expect(riskAddresses(makeEvent({ event_type: 'deposit.detected', from_address: 'A', to_address: 'B' }))).toEqual(['A']);
    expect(riskAddresses(makeEvent({ event_type: 'withdrawal.requested', from_address: 'A', to_address: 'B' }))).toEqual(['B']);
    expect(riskAddresses(makeEvent({ event_type: 'withdrawal.requested', to_address: null }))).toEqual([]);
    expect(riskAddresses(makeEvent({ event_type: 'kyc.status_changed', transaction_id: null }))).toEqual([]);
  });
});

describe('velocity (1 h: more than 10 transactions or more than USD 50,000)', () => {
  const prior = (n: number, amount_ref = '10', age_ms = 60_000): HistoryEntry[] =>
    Array.from({ length: n }, () => historyEntry({ occurred_at_ms: T0_MS - age_ms, amount_ref }));

  it.each([
    [9, false],
    [10, true],
  ])('%i earlier transactions + this one → count fires %s (limit 10 is allowed)', (n, fires) => {
    const d = run(usd('10'), { history: prior(n) });
    expect(d.reasons.some((r) => r.rule_id === 'velocity.1h')).toBe(fires);
  });
  it('window boundary: a transaction exactly 1 h older is outside, 1 ms younger is inside', () => {
    const nine = prior(9);
    const at = historyEntry({ occurred_at_ms: T0_MS - HOUR_MS });
    const inside = historyEntry({ occurred_at_ms: T0_MS - HOUR_MS + 1 });
    expect(run(usd('10'), { history: [...nine, at] }).reasons.some((r) => r.rule_id === 'velocity.1h')).toBe(false);
    expect(run(usd('10'), { history: [...nine, inside] }).reasons.some((r) => r.rule_id === 'velocity.1h')).toBe(true);
  });
  it('sum: exactly USD 50,000 in the hour is allowed, one cent more fires', () => {
    const history = [historyEntry({ occurred_at_ms: T0_MS - 1_000, amount_ref: '45000' })];
    // Both are also at/above the 10,000 threshold; only the velocity reason is asserted.
    expect(run(usd('5000'), { history }).reasons.some((r) => r.rule_id === 'velocity.1h')).toBe(false);
    const d = run(usd('5000.01'), { history });
    expect(d.reasons.find((r) => r.rule_id === 'velocity.1h')).toMatchObject({ code: 'VELOCITY', matched_value: 'count=2;sum=50000.01' });
  });
  it('counts a transaction once however many of its events are in the window, and ignores later events', () => {
    const same_tx = Array.from({ length: 12 }, () => historyEntry({ occurred_at_ms: T0_MS - 1_000, transaction_id: 'tx_same' }));
    expect(run(usd('10'), { history: same_tx }).reasons.some((r) => r.code === 'VELOCITY')).toBe(false);
    const later = prior(12, '10', -1_000);
    expect(run(usd('10'), { history: later }).reasons.some((r) => r.code === 'VELOCITY')).toBe(false);
  });
  it('an earlier event of the screened transaction itself (detected before confirmed) is not counted twice', () => {
    const event = usd('30000', { transaction_id: 'tx_dc' });
    const history = [historyEntry({ occurred_at_ms: T0_MS - 1_000, transaction_id: 'tx_dc', amount_ref: '30000' })];
    expect(run(event, { history }).reasons.some((r) => r.code === 'VELOCITY')).toBe(false);
  });
  it('a truncated history means the count limit is exceeded', () => {
    expect(run(usd('10'), { history: [], history_truncated: true }).reasons.some((r) => r.rule_id === 'velocity.1h')).toBe(true);
  });
  it('24 h window: 50 transactions are allowed, 51 fire', () => {
    const spread = (n: number) =>
      Array.from({ length: n }, (_, i) => historyEntry({ occurred_at_ms: T0_MS - 2 * HOUR_MS - i * 60_000, amount_ref: '1' }));
    expect(run(usd('1'), { history: spread(49) }).reasons.some((r) => r.rule_id === 'velocity.24h')).toBe(false);
    expect(run(usd('1'), { history: spread(50) }).reasons.some((r) => r.rule_id === 'velocity.24h')).toBe(true);
  });
});

describe('structuring (24 h: at least 2 transactions at 80–<100 % of USD 10,000 summing above it)', () => {
  const one = (amount_ref: string, age_ms = HOUR_MS * 2) => [historyEntry({ occurred_at_ms: T0_MS - age_ms, amount_ref })];
  const fires = (d: ScreeningDecision) => d.reasons.some((r) => r.code === 'STRUCTURING');

  it('band edges of the transaction being screened: 7999.99 no, 8000 yes, 9999.99 yes, 10000 no (that is the threshold itself)', () => {
    expect(fires(run(usd('7999.99'), { history: one('9000') }))).toBe(false);
    expect(fires(run(usd('8000'), { history: one('9000') }))).toBe(true);
    expect(fires(run(usd('9999.99'), { history: one('9000') }))).toBe(true);
    expect(fires(run(usd('10000'), { history: one('9000') }))).toBe(false);
  });
  it('band edges of the earlier transaction', () => {
    expect(fires(run(usd('9000'), { history: one('7999.99') }))).toBe(false);
    expect(fires(run(usd('9000'), { history: one('8000') }))).toBe(true);
    expect(fires(run(usd('9000'), { history: one('10000') }))).toBe(false);
  });
  it('window boundary: exactly 24 h earlier is outside, 1 ms later inside', () => {
    expect(fires(run(usd('9000'), { history: one('9000', DAY_MS) }))).toBe(false);
    expect(fires(run(usd('9000'), { history: one('9000', DAY_MS - 1) }))).toBe(true);
  });
  it('a single transaction is not a pattern', () => {
    expect(fires(run(usd('9999')))).toBe(false);
  });
  it('the sum must exceed the threshold: exactly at it does not fire (band 40 % for the edge)', () => {
    const r = withRules({
      structuring: [
        {
          rule_id: 'structuring.wide',
          window_ms: DAY_MS,
          threshold: '10000',
          band_min_ratio: '0.4',
          band_max_ratio: '1',
          count_min: 2,
          outcome: 'REVIEW',
        },
      ],
    });
    expect(fires(run(usd('5000'), { history: one('5000') }, r))).toBe(false);
    expect(fires(run(usd('5000.01'), { history: one('5000') }, r))).toBe(true);
  });
  it('reports count and sum', () => {
    const d = run(usd('9000'), { history: one('8500') });
    expect(d.reasons.find((r) => r.code === 'STRUCTURING')).toMatchObject({
      rule_id: 'structuring.24h',
      outcome: 'REVIEW',
      matched_value: 'count=2;sum=17500',
    });
  });
});

describe('decision', () => {
  it('is the most severe reason, with reasons in a fixed order', () => {
    const event = usd('20000', {
      counterparty_name: 'Lazarus Grup',
      counterparty_country: 'KP',
      from_address: '0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1',
    });
    const d = run(event, { risk: lowRisk(event, '60') });
    expect(d.decision).toBe('BLOCK');
    expect(codes(d)).toEqual(['SANCTIONED_ADDRESS', 'SANCTIONED_NAME', 'RISK_SCORE', 'HIGH_RISK_JURISDICTION', 'AMOUNT_THRESHOLD']);
  });
  it('mostSevere orders ALLOW < REVIEW < BLOCK', () => {
    expect(mostSevere([])).toBe('ALLOW');
    expect(mostSevere(['REVIEW', 'ALLOW'])).toBe('REVIEW');
    expect(mostSevere(['REVIEW', 'BLOCK', 'ALLOW'])).toBe('BLOCK');
  });
  it('is deterministic and never milder than a reason, for arbitrary events', () => {
    const arbEvent = fc.record({
      amount: fc.oneof(
        fc.constant(null),
        fc.bigInt({ min: 0n, max: 10n ** 10n }).map((c) => `${c / 100n}.${(c % 100n).toString().padStart(2, '0')}`),
      ),
      asset: fc.constantFrom('USDT', 'BTC', 'ETH', 'XMR', 'FOO'),
      counterparty_name: fc.oneof(fc.constant(null), fc.constantFrom('ACME GmbH', 'Garantex', 'Tornado Kash', 'Hans Müller')),
      counterparty_country: fc.oneof(fc.constant(null), fc.constantFrom('DE', 'KP', 'US', 'IR')),
      event_type: fc.constantFrom('deposit.detected', 'deposit.confirmed', 'withdrawal.requested', 'kyc.status_changed'),
    });
    fc.assert(
      fc.property(arbEvent, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 12 }), (fields, score, n) => {
        const event = makeEvent({ ...fields, to_address: '0x0000000000000000000000000000000000000001' });
        const history = Array.from({ length: n }, (_, i) =>
          historyEntry({ occurred_at_ms: T0_MS - i * 600_000, amount_ref: '9000', event_id: `h${i}`, transaction_id: `t${i}` }),
        );
        const ctx = { history, risk: lowRisk(event, `${score}`) };
        const a = run(event, ctx);
        const b = run(event, ctx);
        expect(a).toEqual(b);
        expect(a.decision).toBe(mostSevere(a.reasons.map((r) => r.outcome)));
        expect(a.reasons.every((r) => r.outcome !== 'ALLOW')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
  it('refuses to screen an event with an invalid amount', () => {
    expect(() => run(usd('-5'))).toThrow(/amount/);
    expect(() => run(usd('1e5'))).toThrow(/amount/);
  });
});
