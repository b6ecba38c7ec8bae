import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSanctionsSnapshot } from '../adapters/files.js';
import { ReferenceLedger, transactionEffect } from './effects.js';
import { ScenarioGenerator, type Generated } from './generate.js';
import type { Decision, SimTransaction } from './model.js';
import { parseScenario, type ScenarioInput } from './scenario.js';
import { GroundTruth, expectedOrAllow, ledgerEventOf, sanctionedBlocks, type DecisionFn } from './truth.js';

const sanctions = loadSanctionsSnapshot();
const START_MS = Date.parse('2026-11-23T10:00:00.000Z');

function generate(overrides: Partial<ScenarioInput> = {}, namespace = 't1'): Generated[] {
  const scenario = parseScenario({
    name: 'truth',
    seed: 5,
    world: { customers: 6, providers: { generic: 1, ledgerpay: 1 } },
    traffic: { transactions: 400, transactions_per_s: 20 },
    lifecycle: { detected_updates_max: 2, deposit_reversal_rate: 0.1, deposit_fail_rate: 0.1, withdrawal_fail_rate: 0.15 },
    amounts: { huge_rate: 0.02 },
    compliance: { sanctioned_rate: 0.1, high_risk_country_rate: 0.1 },
    ...overrides,
  });
  return [...new ScenarioGenerator(scenario, { start_ms: START_MS, namespace, sanctions })];
}

function truthOf(gs: Iterable<Generated>): GroundTruth {
  const truth = new GroundTruth();
  for (const g of gs) truth.record(g);
  return truth;
}

/** Balances as `${wallet}|${asset}` → "pending/available/held" in base units. */
function flat(
  truth: GroundTruth,
  decide: DecisionFn = sanctionedBlocks,
  view: 'delivered' | 'complete' = 'delivered',
): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of truth.balances({ decide, view })) {
    for (const b of w.balances) out.set(`${b.wallet_id}|${b.asset}`, `${b.units.pending}/${b.units.available}/${b.units.held}`);
  }
  return out;
}

function ledgerFlat(ledger: ReferenceLedger): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of ledger.keys()) {
    const [wallet, asset] = key.split('|') as [string, string];
    const b = ledger.buckets(wallet, asset);
    out.set(key, `${b.pending}/${b.available}/${b.held}`);
  }
  return out;
}

describe('ledger semantics (DESIGN 3.3)', () => {
  const A = 1_000n;
  it('deposit effects by the set of arrived event types', () => {
    const e = (types: string[], d: Decision = 'ALLOW') => transactionEffect('deposit', new Set(types) as never, A, d);
    expect(e(['deposit.detected'])).toEqual({ pending: A, available: 0n, held: 0n });
    expect(e(['deposit.detected', 'deposit.confirmed'])).toEqual({ pending: 0n, available: A, held: 0n });
    expect(e(['deposit.confirmed'], 'REVIEW')).toEqual({ pending: 0n, available: 0n, held: A });
    expect(e(['deposit.detected', 'deposit.confirmed'], 'BLOCK')).toEqual({ pending: 0n, available: 0n, held: A });
    expect(e(['deposit.detected', 'deposit.failed'])).toEqual({ pending: 0n, available: 0n, held: 0n });
    expect(e(['deposit.detected', 'deposit.confirmed', 'deposit.reversed'], 'BLOCK')).toEqual({ pending: 0n, available: 0n, held: 0n });
  });
  it('withdrawal effects', () => {
    const w = (types: string[]) => transactionEffect('withdrawal', new Set(types) as never, A, 'ALLOW');
    expect(w(['withdrawal.requested'])).toEqual({ pending: 0n, available: -A, held: A });
    expect(w(['withdrawal.requested', 'withdrawal.broadcast'])).toEqual({ pending: 0n, available: -A, held: A });
    expect(w(['withdrawal.requested', 'withdrawal.broadcast', 'withdrawal.confirmed'])).toEqual({ pending: 0n, available: -A, held: 0n });
    expect(w(['withdrawal.requested', 'withdrawal.failed'])).toEqual({ pending: 0n, available: 0n, held: 0n });
  });
});

describe('ground truth', () => {
  const events = generate();

  it('matches a hand-computed wallet: deposit confirmed, BLOCKed deposit held, withdrawal in flight', () => {
    const truth = new GroundTruth();
    const tx = (id: string, kind: 'deposit' | 'withdrawal', amount_units: bigint, sanctioned = false): SimTransaction =>
      ({
        provider: 'generic',
        transaction_id: id,
        kind,
        wallet_id: 'wal_x',
        customer_id: 'cus_x',
        asset: 'BTC',
        network: 'bitcoin',
        decimals: 8,
        amount_units,
        amount: '',
        sanctioned_address: sanctioned ? 'addr' : null,
        discrepancy: null,
      }) as unknown as SimTransaction;
    let n = 0;
    const ev = (t: SimTransaction, type: string): Generated => ({
      transaction: t,
      event: { id: `e${n++}`, type, occurred_at_ms: n, transaction_id: t.transaction_id, wallet_id: 'wal_x', withheld: false } as never,
    });
    const d1 = tx('d1', 'deposit', 50_000_000n);
    const d2 = tx('d2', 'deposit', 7n, true);
    const d3 = tx('d3', 'deposit', 1n);
    const w1 = tx('w1', 'withdrawal', 20_000_000n);
    for (const g of [
      ev(d1, 'deposit.detected'),
      ev(d1, 'deposit.confirmed'),
      ev(d2, 'deposit.confirmed'),
      ev(d3, 'deposit.detected'),
      ev(w1, 'withdrawal.requested'),
    ])
      truth.record(g);
    expect(truth.balances()).toEqual([
      {
        wallet_id: 'wal_x',
        provider: 'generic',
        balances: [
          {
            wallet_id: 'wal_x',
            asset: 'BTC',
            pending: '0.00000001',
            available: '0.3',
            held: '0.20000007',
            units: { decimals: 8, pending: '1', available: '30000000', held: '20000007' },
          },
        ],
      },
    ]);
    // With a decision function that ALLOWs everything, the sanctioned deposit is available instead.
    expect(truth.balances({ decide: () => 'ALLOW' })[0]!.balances[0]!.held).toBe('0.2');
  });

  it('out-of-order and duplicate recording does not change the truth', () => {
    const in_order = flat(truthOf(events));
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 3 }), (seed, copies) => {
        const shuffled = [...events];
        let s = seed >>> 0;
        const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s);
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = next() % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const with_duplicates = shuffled.flatMap((g, i) => (i % 3 === 0 ? Array.from({ length: copies + 1 }, () => g) : [g]));
        expect(flat(truthOf(with_duplicates))).toEqual(in_order);
      }),
      { numRuns: 25 },
    );
  });

  it('an event-by-event reference ledger reaches the truth for any arrival order and replays; postings balance per asset', () => {
    const byTx = new Map<string, Generated[]>();
    for (const g of events)
      if (g.transaction) byTx.set(g.transaction.transaction_id, [...(byTx.get(g.transaction.transaction_id) ?? []), g]);
    const txs = [...byTx.values()];
    const decide: DecisionFn = expectedOrAllow;
    const expected = flat(truthOf(events), decide);
    const decisionById = new Map(txs.map((list) => [list[0]!.transaction!.transaction_id, decide(list[0]!.transaction!)]));
    fc.assert(
      fc.property(
        // For each transaction: a permutation of its events plus replays, then interleave transactions.
        fc.array(fc.nat(), { minLength: events.length * 2, maxLength: events.length * 2 }),
        fc.array(fc.nat({ max: 2 }), { minLength: events.length, maxLength: events.length }),
        (keys, replays) => {
          let k = 0;
          const arrivals: { key: number; g: Generated }[] = [];
          let r = 0;
          for (const g of events) {
            for (let copy = 0; copy <= (replays[r++] ?? 0); copy++) arrivals.push({ key: keys[k++ % keys.length]!, g });
          }
          arrivals.sort((a, b) => a.key - b.key);
          const ledger = new ReferenceLedger((id) => decisionById.get(id)!);
          for (const { g } of arrivals) ledger.apply(ledgerEventOf(g.event, g.transaction));
          expect(ledgerFlat(ledger)).toEqual(expected);
          for (const asset of ['BTC', 'ETH', 'USDC', 'USDT', 'SOL', 'TRX', 'LTC']) expect(ledger.assetSum(asset)).toBe(0n);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('REVIEW/BLOCK deposits go to held under the caller’s decision function', () => {
    const truth = truthOf(events);
    const allow = flat(truth, () => 'ALLOW');
    const held = flat(truth, () => 'REVIEW');
    let moved = 0;
    for (const [key, value] of allow) {
      const [p, a, h] = value.split('/').map(BigInt) as [bigint, bigint, bigint];
      const [p2, a2, h2] = held.get(key)!.split('/').map(BigInt) as [bigint, bigint, bigint];
      expect(p2).toBe(p);
      expect(a2 + h2).toBe(a + h);
      if (h2 > h) moved++;
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('views: withheld and abandoned events are missing from "delivered", present in "complete"; discrepancies are listed', () => {
    const gs = generate(
      {
        discrepancies: {
          drop_all_rate: 0.05,
          drop_last_rate: 0.05,
          alter_amount_rate: 0.05,
          alter_status_rate: 0.05,
          omit_from_statements_rate: 0.05,
        },
      },
      't2',
    );
    const truth = truthOf(gs);
    const all_sent = truthOf(gs.map((g) => ({ ...g, event: { ...g.event, withheld: false } })));
    expect(flat(truth, sanctionedBlocks, 'complete')).toEqual(flat(all_sent));
    expect(flat(truth)).not.toEqual(flat(all_sent));
    const plain_truth = truthOf(generate({}, 't2'));

    const discrepancies = truth.expectedDiscrepancies();
    const kinds = new Set(discrepancies.map((d) => `${d.injected}->${d.kind}`));
    expect(kinds).toEqual(
      new Set([
        'drop_all->missing_in_ledger',
        'drop_last->status_mismatch',
        'alter_amount->amount_mismatch',
        'alter_status->status_mismatch',
        'omit_from_statements->missing_at_provider',
      ]),
    );
    for (const d of discrepancies) {
      if (d.kind === 'amount_mismatch') expect(d.provider_amount).not.toBe(d.ledger_amount);
      if (d.kind === 'status_mismatch') expect(d.provider_status).not.toBe(d.ledger_status);
    }

    // An event the provider gave up delivering disappears from "delivered" only.
    const some = plain_truth.transactions().find((r) => r.tx.kind === 'deposit' && r.events.some((e) => e.type === 'deposit.confirmed'))!;
    const before = flat(plain_truth).get(`${some.tx.wallet_id}|${some.tx.asset}`);
    plain_truth.markAbandoned(some.events.find((e) => e.type === 'deposit.confirmed')!.id);
    expect(flat(plain_truth).get(`${some.tx.wallet_id}|${some.tx.asset}`)).not.toBe(before);
    expect(plain_truth.expectedDiscrepancies()).toHaveLength(1);
    expect(plain_truth.expectedDiscrepancies()[0]).toMatchObject({ injected: 'abandoned_delivery', kind: 'status_mismatch' });
  });

  it('statement records report every transaction once, sorted, with the provider’s status', () => {
    const truth = truthOf(events);
    const records = truth.statementRecords('generic');
    expect(records.length).toBe(truth.transactions().filter((r) => r.tx.provider === 'generic').length);
    for (let i = 1; i < records.length; i++) expect(records[i]!.updated_at_ms).toBeGreaterThanOrEqual(records[i - 1]!.updated_at_ms);
    const rec = truth.transactions().find((r) => r.tx.provider === 'generic' && r.tx.final_type === 'deposit.reversed')!;
    expect(records.find((s) => s.transaction_id === rec.tx.transaction_id)).toMatchObject({
      status: 'reversed',
      direction: 'in',
      amount: rec.tx.amount,
    });
  });
});
