/**
 * Property-based tests of the ledger state machine:
 *  - in-order delivery has exactly the effect of the DESIGN 3.3 table (independent reference model);
 *  - every permutation of a transaction's events, with every single duplication, ends
 *    with the balances of in-order delivery (exhaustive per transaction);
 *  - random interleavings with random duplicates across many transactions and wallets end
 *    with the in-order balances; postings always balance per asset; pending and held are
 *    never negative at any step;
 *  - batch projection split at random points equals one-by-one projection.
 * Amounts: 18-decimal values and values up to 78 significant digits.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { accountId, walletAccount, externalAccount, WALLET_BUCKETS } from './accounts.js';
import { formatUnits } from './amount.js';
import { AccountBook, type Delivery, replay } from './testkit.js';
import { type Decision, type TxEvent, type TxEventType, type TxState, applyEvent, applyRelease } from './transaction.js';
import { type BatchContext, type WalletBalance, balanceKey, projectBatch } from './batch.js';
import type { LedgerInput } from './validate.js';

const LIFECYCLES: ReadonlyArray<readonly TxEventType[]> = [
  ['deposit.detected'],
  ['deposit.detected', 'deposit.confirmed'],
  ['deposit.detected', 'deposit.failed'],
  ['deposit.detected', 'deposit.confirmed', 'deposit.reversed'],
  ['deposit.confirmed'],
  ['deposit.confirmed', 'deposit.reversed'],
  ['withdrawal.requested'],
  ['withdrawal.requested', 'withdrawal.broadcast'],
  ['withdrawal.requested', 'withdrawal.broadcast', 'withdrawal.confirmed'],
  ['withdrawal.requested', 'withdrawal.confirmed'],
  ['withdrawal.requested', 'withdrawal.failed'],
  ['withdrawal.requested', 'withdrawal.broadcast', 'withdrawal.failed'],
];

/** 18-decimal amounts, and amounts up to 78 significant digits (units below 10^78). */
const unitsArb = fc.oneof(
  fc.bigInt({ min: 1n, max: 10n ** 21n }),
  fc.bigInt({ min: 10n ** 60n, max: 10n ** 78n - 1n }),
  fc.constantFrom(1n, 10n ** 18n, 10n ** 78n - 1n),
);

interface TxSpec {
  transaction_id: string;
  provider: string;
  wallet_id: string;
  asset: string;
  units: bigint;
  decision: Decision;
  lifecycle: readonly TxEventType[];
}

function txSpecArb(index: number) {
  return fc.record({
    transaction_id: fc.constant(`tx_${index}`),
    provider: fc.constantFrom('generic', 'stripeish'),
    wallet_id: fc.constantFrom('wal_1', 'wal_2', 'wal:3/odd'),
    asset: fc.constantFrom('BTC', 'ETH'),
    units: unitsArb,
    decision: fc.constantFrom<Decision>('ALLOW', 'ALLOW', 'REVIEW', 'BLOCK'),
    lifecycle: fc.constantFrom(...LIFECYCLES),
  });
}

function deliveries(spec: TxSpec): Delivery[] {
  return spec.lifecycle.map((event_type) => ({
    event: {
      provider: spec.provider,
      event_id: `${spec.transaction_id}:${event_type}`,
      event_type,
      transaction_id: spec.transaction_id,
      wallet_id: spec.wallet_id,
      asset: spec.asset,
      amount_units: spec.units,
    } satisfies TxEvent,
    screening: {
      decision: spec.decision,
      reasons: spec.decision === 'ALLOW' ? [] : [{ code: 'RISK_SCORE', rule_id: 'r1', outcome: spec.decision, message: 'm' }],
    },
  }));
}

/** The DESIGN 3.3 table applied literally, in order (valid lifecycles only). */
function referenceBalances(specs: TxSpec[]): Map<string, { pending: bigint; available: bigint; held: bigint }> {
  const out = new Map<string, { pending: bigint; available: bigint; held: bigint }>();
  for (const spec of specs) {
    const key = `${spec.wallet_id}|${spec.asset}`;
    const b = out.get(key) ?? { pending: 0n, available: 0n, held: 0n };
    const a = spec.units;
    let wasPending = false;
    let creditedTo: 'available' | 'held' | null = null;
    for (const type of spec.lifecycle) {
      switch (type) {
        case 'deposit.detected':
          b.pending += a;
          wasPending = true;
          break;
        case 'deposit.confirmed':
          if (wasPending) b.pending -= a;
          wasPending = false;
          creditedTo = spec.decision === 'ALLOW' ? 'available' : 'held';
          b[creditedTo] += a;
          break;
        case 'deposit.failed':
          if (wasPending) b.pending -= a;
          wasPending = false;
          break;
        case 'deposit.reversed':
          if (creditedTo) b[creditedTo] -= a;
          creditedTo = null;
          break;
        case 'withdrawal.requested':
          b.available -= a;
          b.held += a;
          break;
        case 'withdrawal.broadcast':
          break;
        case 'withdrawal.confirmed':
          b.held -= a;
          break;
        case 'withdrawal.failed':
          b.held -= a;
          b.available += a;
          break;
      }
    }
    out.set(key, b);
  }
  return out;
}

function walletBuckets(book: AccountBook, specs: TxSpec[]) {
  const out = new Map<string, { pending: bigint; available: bigint; held: bigint }>();
  for (const s of specs) {
    const b = { pending: 0n, available: 0n, held: 0n };
    for (const bucket of WALLET_BUCKETS) b[bucket] = book.get(accountId(walletAccount(s.wallet_id, s.asset, bucket)));
    out.set(`${s.wallet_id}|${s.asset}`, b);
  }
  return out;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  const out: T[][] = [];
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest]);
  });
  return out;
}

/** Replays and checks the per-step invariants: postings balance, no negative pending/held. */
function replayChecked(order: Delivery[], specs: TxSpec[]): AccountBook {
  return replay(order, (book) => {
    for (const asset of ['BTC', 'ETH']) expect(book.assetSum(asset)).toBe(0n);
    for (const [, b] of walletBuckets(book, specs)) {
      expect(b.pending >= 0n && b.held >= 0n).toBe(true);
    }
  }).book;
}

describe('ledger state machine properties', () => {
  it('in-order delivery matches the DESIGN 3.3 table exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }).chain((xs) => fc.tuple(...xs.map((_, i) => txSpecArb(i)))),
        (specs) => {
          const book = replayChecked(specs.flatMap(deliveries), specs);
          expect(walletBuckets(book, specs)).toEqual(referenceBalances(specs));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every permutation with every single duplication of one transaction equals in-order (exhaustive)', () => {
    fc.assert(
      fc.property(txSpecArb(0), (spec) => {
        const events = deliveries(spec);
        const expected = replay(events).book.snapshot();
        const variants: Delivery[][] = [events, ...events.map((d) => [...events, d])];
        for (const variant of variants) {
          for (const order of permutations(variant)) {
            expect(replayChecked(order, [spec]).snapshot()).toEqual(expected);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('random interleavings with duplicates across transactions and wallets equal in-order', () => {
    const scenario = fc
      .array(fc.nat(), { minLength: 1, maxLength: 10 })
      .chain((xs) => fc.tuple(...xs.map((_, i) => txSpecArb(i))))
      .chain((specs) => {
        const inOrder = specs.flatMap(deliveries);
        return fc.record({
          specs: fc.constant(specs),
          priorities: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), {
            minLength: inOrder.length * 2,
            maxLength: inOrder.length * 2,
          }),
          duplicates: fc.array(fc.nat({ max: inOrder.length - 1 }), { maxLength: inOrder.length }),
        });
      });
    fc.assert(
      fc.property(scenario, ({ specs, priorities, duplicates }) => {
        const inOrder = specs.flatMap(deliveries);
        const expected = replayChecked(inOrder, specs).snapshot();
        const withDuplicates = [...inOrder, ...duplicates.map((i) => inOrder[i]!)];
        const shuffled = withDuplicates
          .map((d, i) => ({ d, p: priorities[i] ?? 0 }))
          .sort((x, y) => x.p - y.p)
          .map((x) => x.d);
        expect(replayChecked(shuffled, specs).snapshot()).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('a release of a REVIEW deposit, before or after late events, ends with the funds available', () => {
    fc.assert(
      fc.property(unitsArb, fc.boolean(), (units, lateDetected) => {
        const spec: TxSpec = {
          transaction_id: 'tx_r',
          provider: 'generic',
          wallet_id: 'wal_1',
          asset: 'BTC',
          units,
          decision: 'REVIEW',
          lifecycle: lateDetected ? ['deposit.confirmed', 'deposit.detected'] : ['deposit.detected', 'deposit.confirmed'],
        };
        const [first, second] = deliveries(spec);
        const s1 = applyEvent(null, first!.event, first!.screening);
        const book = new AccountBook();
        book.post(s1.postings);
        const s2 = applyEvent(s1.newState, second!.event, second!.screening);
        book.post(s2.postings);
        const released = applyRelease(s2.newState, { by: 'officer', at_ms: 1 });
        book.post(released.postings);
        expect(book.get(accountId(walletAccount('wal_1', 'BTC', 'available')))).toBe(units);
        expect(book.get(accountId(walletAccount('wal_1', 'BTC', 'held')))).toBe(0n);
        expect(book.get(accountId(externalAccount('generic', 'BTC')))).toBe(-units);
      }),
      { numRuns: 100 },
    );
  });

  it('projecting in random batches equals projecting one by one; versions count the changes', () => {
    const scenario = fc
      .array(fc.nat(), { minLength: 1, maxLength: 8 })
      .chain((xs) => fc.tuple(...xs.map((_, i) => txSpecArb(i))))
      .chain((specs) =>
        fc.record({
          specs: fc.constant(specs),
          cuts: fc.array(fc.nat({ max: 30 }), { maxLength: 5 }),
          priorities: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }),
        }),
      );
    fc.assert(
      fc.property(scenario, ({ specs, cuts, priorities }) => {
        const inputs: LedgerInput[] = specs
          .flatMap(deliveries)
          .map((d, i) => ({ d, p: priorities[i] ?? 0 }))
          .sort((x, y) => x.p - y.p)
          .map(({ d }) => ({
            class: 'transaction' as const,
            meta: {
              provider: d.event.provider,
              event_id: d.event.event_id,
              event_type: d.event.event_type,
              partition_key: d.event.wallet_id,
              transaction_id: d.event.transaction_id,
              wallet_id: d.event.wallet_id,
              asset: d.event.asset,
              amount: formatUnits(d.event.amount_units),
              occurred_at_ms: 0,
              received_at_ms: 0,
              source: 'WEBHOOK',
              decision: d.screening.decision,
              reasons: [...d.screening.reasons],
            },
            event: d.event,
            screening: d.screening,
          }));
        const whole = projectBatch(inputs, { states: new Map(), balances: new Map(), now_ms: 1 });
        const bounds = [...new Set([0, ...cuts.map((c) => Math.min(c, inputs.length)), inputs.length])].sort((a, b) => a - b);
        const ctx: BatchContext & { states: Map<string, TxState>; balances: Map<string, WalletBalance> } = {
          states: new Map(),
          balances: new Map(),
          now_ms: 1,
        };
        let changes = 0;
        for (let i = 0; i + 1 < bounds.length; i += 1) {
          const part = projectBatch(inputs.slice(bounds[i], bounds[i + 1]), ctx);
          for (const [k, s] of part.states) ctx.states.set(k, s);
          for (const [k, b] of part.balances) ctx.balances.set(k, b);
          changes += part.records.reduce((n, r) => n + r.balance_changes.length, 0);
        }
        expect(ctx.balances).toEqual(whole.balances);
        const versions = [...whole.balances.values()].reduce((n, b) => n + b.version, 0);
        expect(versions).toBe(changes);
        for (const [key, b] of whole.balances) {
          const last = whole.records
            .flatMap((r) => r.balance_changes)
            .filter((c) => balanceKey(c.wallet_id, c.asset) === key)
            .at(-1);
          expect(last).toMatchObject({
            pending: formatUnits(b.pending),
            available: formatUnits(b.available),
            held: formatUnits(b.held),
            version: b.version,
          });
        }
      }),
      { numRuns: 200 },
    );
  });
});
