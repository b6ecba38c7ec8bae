/**
 * Believable demo traffic: institution-initiated withdrawals spend only funds the ledger
 * shows as available. Property: under the worst screening the spend guard allows for
 * (every deposit it did not vouch for is held), with any delivery delay shorter than
 * the guard's settle delay, no wallet's available balance ever goes below zero. The
 * overdraft fault is the only way to get there.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSanctionsSnapshot } from '../adapters/files.js';
import { transactionEffect } from './effects.js';
import { ScenarioGenerator, type Generated } from './generate.js';
import type { EventType, SimTransaction } from './model.js';
import { Rng } from './rng.js';
import { parseScenario, type ScenarioInput } from './scenario.js';

const sanctions = loadSanctionsSnapshot();
const START_MS = Date.parse('2026-12-01T10:00:00.000Z');
const SETTLE_DELAY_MS = 20_000;

/** A deterministic stand-in for the risk API: about 10 % of addresses score 50 or more. */
function riskScore(address: string): number {
  return createHash('sha256').update(address.toLowerCase()).digest().readUInt16BE(0) % 100 < 10 ? 75 : 10;
}

function scenario(seed: number, overrides: Partial<ScenarioInput> = {}) {
  return parseScenario({
    name: 'spend',
    seed,
    world: { customers: 8, wallets_per_customer: [1, 2] },
    traffic: { transactions: 1200, transactions_per_s: 0.5, kind_weights: { deposit: 5, withdrawal: 4, kyc: 1 } },
    lifecycle: { block_time_scale: 0.01, deposit_reversal_rate: 0.05, withdrawal_fail_rate: 0.1 },
    amounts: { large_rate: 0.15, whale_rate: 0.01, huge_rate: 0 },
    compliance: {
      spend_guard: {
        velocity: [
          { window_ms: 3_600_000, count_max: 10, usd_max: 50_000 },
          { window_ms: 86_400_000, count_max: 50, usd_max: 150_000 },
        ],
        settle_delay_ms: SETTLE_DELAY_MS,
      },
    },
    ...overrides,
  });
}

function generate(s: ReturnType<typeof scenario>): Generated[] {
  return [...new ScenarioGenerator(s, { start_ms: START_MS, namespace: 'sp', sanctions, risk_score: riskScore })];
}

/**
 * Replays the events in delivery order (occurrence + a random delay below the settle
 * delay) through the DESIGN 3.3 effects; returns the lowest available balance seen.
 */
function lowestAvailable(events: Generated[], delay_seed: number, decide: (tx: SimTransaction) => 'ALLOW' | 'REVIEW'): bigint {
  const rng = Rng.derive(delay_seed, 'delivery-delay');
  const delivered = events
    .filter((g) => g.transaction !== null)
    .map((g) => ({ g, at: g.event.occurred_at_ms + rng.int(0, SETTLE_DELAY_MS - 1) }))
    .sort((a, b) => a.at - b.at || a.g.event.seq - b.g.event.seq);
  const types = new Map<string, Set<EventType>>();
  const contribution = new Map<string, bigint>();
  const available = new Map<string, bigint>();
  let lowest = 0n;
  for (const { g } of delivered) {
    const tx = g.transaction!;
    const seen = types.get(tx.transaction_id) ?? new Set<EventType>();
    seen.add(g.event.type);
    types.set(tx.transaction_id, seen);
    const next = transactionEffect(tx.kind, seen, tx.amount_units, decide(tx)).available;
    const key = `${tx.wallet_id}|${tx.asset}`;
    const value = (available.get(key) ?? 0n) + next - (contribution.get(tx.transaction_id) ?? 0n);
    contribution.set(tx.transaction_id, next);
    available.set(key, value);
    if (value < lowest) lowest = value;
  }
  return lowest;
}

/** Worst case the guard allows: only deposits it marked spendable are credited to available. */
const worstCase = (tx: SimTransaction): 'ALLOW' | 'REVIEW' => (tx.kind === 'deposit' && tx.spendable ? 'ALLOW' : 'REVIEW');

describe('spend guard: withdrawals spend only available funds', () => {
  it('property: available never goes negative under the worst allowed screening and any delay below the settle delay', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed, delay_seed) => {
        const events = generate(scenario(seed));
        const withdrawals = new Set(events.filter((g) => g.transaction?.kind === 'withdrawal').map((g) => g.transaction!.transaction_id));
        expect(withdrawals.size).toBeGreaterThan(0);
        expect(lowestAvailable(events, delay_seed, worstCase)).toBe(0n);
      }),
      { numRuns: 12 },
    );
  });

  it('does not spend deposits a velocity rule or the risk score could flag', () => {
    const events = generate(scenario(7));
    const deposits = new Map<string, SimTransaction>();
    for (const g of events) if (g.transaction?.kind === 'deposit') deposits.set(g.transaction.transaction_id, g.transaction);
    const spendable = [...deposits.values()].filter((tx) => tx.spendable);
    expect(spendable.length).toBeGreaterThan(10);
    for (const tx of spendable) {
      expect(tx.expected_screening).toBe('ALLOW');
      expect(riskScore(tx.from_address)).toBeLessThan(50);
    }
    // A busy world (one wallet, many transactions an hour) trips velocity: almost nothing is spendable.
    const busy = generate(
      scenario(7, { world: { customers: 1, wallets_per_customer: [1, 1] }, traffic: { transactions: 400, transactions_per_s: 0.5 } }),
    );
    const busyDeposits = new Set(busy.filter((g) => g.transaction?.kind === 'deposit').map((g) => g.transaction!));
    expect([...busyDeposits].filter((tx) => tx.spendable).length).toBeLessThanOrEqual(10);
  });

  it('the overdraft fault scenario does drive available negative, and marks the withdrawals', () => {
    const events = generate(scenario(3, { traffic: { transactions: 1200, transactions_per_s: 0.5, overdraft_rate: 0.3 } }));
    const overdrafts = new Set(events.filter((g) => g.transaction?.overdraft).map((g) => g.transaction!.transaction_id));
    expect(overdrafts.size).toBeGreaterThan(0);
    expect(lowestAvailable(events, 1, worstCase)).toBeLessThan(0n);
  });

  it('leaves the events of scenarios without a spend guard or overdraft unchanged (same RNG use)', () => {
    const plain = parseScenario({ name: 'plain', seed: 5, traffic: { transactions: 300 } });
    const a = [...new ScenarioGenerator(plain, { start_ms: START_MS, namespace: 'pl', sanctions })].map((g) => g.event);
    const b = [
      ...new ScenarioGenerator(parseScenario({ name: 'plain', seed: 5, traffic: { transactions: 300, overdraft_rate: 0 } }), {
        start_ms: START_MS,
        namespace: 'pl',
        sanctions,
      }),
    ].map((g) => g.event);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});
