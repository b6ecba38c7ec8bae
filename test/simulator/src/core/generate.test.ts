import { describe, expect, it } from 'vitest';
import { loadSanctionsSnapshot } from '../adapters/files.js';
import { ASSETS, NETWORKS } from './assets.js';
import { ScenarioGenerator, TRAVEL_RULE_USD_MICRO, type Generated } from './generate.js';
import type { EventType, SimTransaction } from './model.js';
import { parseUnits } from './money.js';
import { sanctionedAddressesByNetwork } from './sanctions.js';
import { parseScenario, type ScenarioInput } from './scenario.js';
import { GroundTruth } from './truth.js';

const sanctions = loadSanctionsSnapshot();
const START_MS = Date.parse('2026-11-23T10:00:00.000Z');

function scenario(overrides: Partial<ScenarioInput> = {}) {
  return parseScenario({
    name: 'unit',
    seed: 11,
    world: { customers: 12, providers: { generic: 2, ledgerpay: 1, 'custodian-x': 1 } },
    traffic: { transactions: 1500, transactions_per_s: 20 },
    lifecycle: { detected_updates_max: 2, deposit_reversal_rate: 0.05, deposit_fail_rate: 0.05, withdrawal_fail_rate: 0.1 },
    amounts: { huge_rate: 0.02, whale_rate: 0.02 },
    compliance: { sanctioned_rate: 0.05, high_risk_country_rate: 0.05 },
    ...overrides,
  });
}

function generateAll(s = scenario(), namespace = 'u1'): Generated[] {
  return [...new ScenarioGenerator(s, { start_ms: START_MS, namespace, sanctions })];
}

/** Legal lifecycles: the planned event types of a transaction, in occurrence order. */
const DEPOSIT_LIFECYCLE = /^(deposit\.detected,)+(deposit\.failed|deposit\.confirmed(,deposit\.reversed)?)$/;
const WITHDRAWAL_LIFECYCLE =
  /^withdrawal\.requested,(withdrawal\.failed|withdrawal\.broadcast,(withdrawal\.confirmed|withdrawal\.failed))$/;

describe('scenario generator', () => {
  const events = generateAll();

  it('is deterministic: same seed, start and namespace give byte-identical events; another seed differs', () => {
    const again = generateAll();
    expect(JSON.stringify(again.map((g) => g.event))).toBe(JSON.stringify(events.map((g) => g.event)));
    const other = generateAll(scenario({ seed: 12 }));
    expect(JSON.stringify(other.slice(0, 50).map((g) => g.event))).not.toBe(JSON.stringify(events.slice(0, 50).map((g) => g.event)));
  });

  it('changing delivery or discrepancy knobs does not change the world or its transactions', () => {
    const noisy = generateAll(
      scenario({ delivery: { duplicate_rate: 0.9, reorder_rate: 0.9 }, discrepancies: { alter_amount_rate: 0.3 } }),
    );
    const strip = (gs: Generated[]) => gs.map(({ event }) => ({ ...event, withheld: false }));
    expect(JSON.stringify(strip(noisy))).toBe(JSON.stringify(strip(events)));
  });

  it('emits events in occurrence order with unique ids and consecutive seq', () => {
    const ids = new Set<string>();
    events.forEach(({ event }, index) => {
      expect(event.seq).toBe(index);
      expect(ids.has(event.id)).toBe(false);
      ids.add(event.id);
      if (index > 0) expect(event.occurred_at_ms).toBeGreaterThanOrEqual(events[index - 1]!.event.occurred_at_ms);
      expect(event.id).toMatch(/^evt_u1_/);
    });
  });

  it('every transaction follows a legal lifecycle, in order, with growing confirmations', () => {
    const byTx = new Map<string, { tx: SimTransaction; types: EventType[]; confirmations: (number | null)[] }>();
    for (const { event, transaction } of events) {
      if (!transaction) {
        expect(event.type).toBe('kyc.status_changed');
        expect(event.kyc_status).toMatch(/^(pending|approved|rejected|review|suspended)$/);
        continue;
      }
      const entry = byTx.get(transaction.transaction_id) ?? { tx: transaction, types: [], confirmations: [] };
      entry.types.push(event.type);
      entry.confirmations.push(event.confirmations);
      byTx.set(transaction.transaction_id, entry);
      expect(event.amount).toBe(transaction.amount);
      expect(event.wallet_id).toBe(transaction.wallet_id);
    }
    expect(byTx.size).toBeGreaterThan(1000);
    const seen = new Set<string>();
    for (const { tx, types, confirmations } of byTx.values()) {
      const lifecycle = types.join(',');
      expect(lifecycle, tx.transaction_id).toMatch(tx.kind === 'deposit' ? DEPOSIT_LIFECYCLE : WITHDRAWAL_LIFECYCLE);
      expect(types.length).toBe(tx.planned_event_ids.length);
      expect(types[types.length - 1]).toBe(tx.final_type);
      if (tx.kind === 'deposit') {
        const detected = confirmations.slice(0, types.filter((t) => t === 'deposit.detected').length) as number[];
        for (let i = 1; i < detected.length; i++) expect(detected[i]!).toBeGreaterThan(detected[i - 1]!);
        if (types.includes('deposit.confirmed')) {
          expect(confirmations[types.indexOf('deposit.confirmed')]).toBe(NETWORKS[tx.network].confirmations_required);
        }
      }
      seen.add(lifecycle.replace(/(deposit\.detected,)+/, 'deposit.detected+,'));
    }
    // Every lifecycle shape occurs.
    for (const shape of [
      'deposit.detected+,deposit.confirmed',
      'deposit.detected+,deposit.failed',
      'deposit.detected+,deposit.confirmed,deposit.reversed',
      'withdrawal.requested,withdrawal.broadcast,withdrawal.confirmed',
      'withdrawal.requested,withdrawal.broadcast,withdrawal.failed',
      'withdrawal.requested,withdrawal.failed',
    ]) {
      expect(seen, shape).toContain(shape);
    }
  });

  it('amounts are decimal strings with each asset’s decimals, including 18-decimal and 30+ digit amounts', () => {
    const txs = uniqueTransactions(events);
    for (const tx of txs) {
      const decimals = ASSETS[tx.asset].decimals;
      expect(tx.decimals).toBe(decimals);
      expect(tx.amount).toMatch(decimals === 0 ? /^[0-9]+$/ : new RegExp(`^(0|[1-9][0-9]*)\\.[0-9]{${decimals}}$`));
      expect(parseUnits(tx.amount, decimals)).toBe(tx.amount_units);
      expect(tx.amount_units).toBeGreaterThan(0n);
      expect(tx.amount_units.toString().length).toBeLessThanOrEqual(78);
      expect(NETWORKS[tx.network].assets).toContain(tx.asset);
    }
    expect(txs.some((t) => t.decimals === 18)).toBe(true);
    expect(txs.some((t) => t.amount_units >= 10n ** 30n)).toBe(true);
    expect(new Set(txs.map((t) => t.asset)).size).toBeGreaterThanOrEqual(6);
  });

  it('sanctioned counterparties come from the OFAC snapshot, on the right network and side; expected screening follows', () => {
    const listed = sanctionedAddressesByNetwork(sanctions);
    const txs = uniqueTransactions(events);
    const sanctioned = txs.filter((t) => t.sanctioned_address);
    expect(sanctioned.length).toBeGreaterThan(10);
    // Some EVM addresses go out lower-cased, some in the list's mixed case.
    const evm = sanctioned.filter((t) => t.network === 'ethereum').map((t) => (t.kind === 'deposit' ? t.from_address : t.to_address));
    expect(evm.some((a) => a !== a.toLowerCase())).toBe(true);
    expect(evm.some((a) => a === a.toLowerCase() && /[a-f]/.test(a))).toBe(true);
    for (const tx of sanctioned) {
      expect(listed[tx.network]).toContain(tx.sanctioned_address);
      const sent = tx.kind === 'deposit' ? tx.from_address : tx.to_address;
      if (NETWORKS[tx.network].addresses_case_insensitive) expect(sent.toLowerCase()).toBe(tx.sanctioned_address!.toLowerCase());
      else expect(sent).toBe(tx.sanctioned_address);
      expect(tx.expected_screening).toBe('BLOCK');
      expect(tx.screening_hints).toContain('sanctioned_address');
    }
    for (const tx of txs) {
      if (!tx.sanctioned_address && tx.high_risk_country) {
        expect(tx.expected_screening).toBe('REVIEW');
        expect(['KP', 'IR', 'MM']).toContain(tx.counterparty?.country);
      }
      if (!tx.sanctioned_address && !tx.high_risk_country) {
        expect(tx.expected_screening).toBe(tx.approx_usd_micro < TRAVEL_RULE_USD_MICRO ? 'ALLOW' : null);
      }
    }
  });

  it('withdrawals never spend more than clean confirmed funds: available balances never go negative', () => {
    const truth = new GroundTruth();
    for (const g of events) {
      truth.record(g);
      // Check at every step, not only at the end.
      if (g.event.seq % 97 === 0) assertNonNegative(truth);
    }
    assertNonNegative(truth);
    expect(uniqueTransactions(events).filter((t) => t.kind === 'withdrawal').length).toBeGreaterThan(100);
  });

  it('drop discrepancies mark the right events withheld', () => {
    const gs = generateAll(scenario({ discrepancies: { drop_all_rate: 0.1, drop_last_rate: 0.1 } }));
    const byTx = new Map<string, Generated[]>();
    for (const g of gs) if (g.transaction) byTx.set(g.transaction.transaction_id, [...(byTx.get(g.transaction.transaction_id) ?? []), g]);
    let drop_all = 0;
    let drop_last = 0;
    for (const list of byTx.values()) {
      const tx = list[0]!.transaction!;
      const withheld = list.map((g) => g.event.withheld);
      if (tx.discrepancy === 'drop_all') {
        drop_all++;
        expect(withheld.every(Boolean)).toBe(true);
      } else if (tx.discrepancy === 'drop_last') {
        drop_last++;
        expect(withheld).toEqual(list.map((_, i) => i === list.length - 1));
      } else {
        expect(withheld.some(Boolean)).toBe(false);
      }
    }
    expect(drop_all).toBeGreaterThan(50);
    expect(drop_last).toBeGreaterThan(50);
  });

  it('rejects bad scenarios with the key named', () => {
    expect(() => parseScenario({ name: 'x', traffic: { transactions: -1 } })).toThrow(/traffic\.transactions/);
    expect(() => parseScenario({ name: 'x', delivery: { duplicat_rate: 0.1 } })).toThrow(/delivery/);
    expect(() => parseScenario({ name: 'x', discrepancies: { drop_all_rate: 0.6, drop_last_rate: 0.6 } })).toThrow(/more than 1/);
    expect(() => parseScenario({ name: 'x', world: { providers: { generic: 0 } } })).toThrow(/positive share/);
  });
});

function uniqueTransactions(gs: Generated[]): SimTransaction[] {
  const map = new Map<string, SimTransaction>();
  for (const g of gs) if (g.transaction) map.set(g.transaction.transaction_id, g.transaction);
  return [...map.values()];
}

function assertNonNegative(truth: GroundTruth): void {
  for (const wallet of truth.balances()) {
    for (const line of wallet.balances) {
      expect(BigInt(line.units.available), `${line.wallet_id} ${line.asset}`).toBeGreaterThanOrEqual(0n);
      expect(BigInt(line.units.pending)).toBeGreaterThanOrEqual(0n);
      expect(BigInt(line.units.held)).toBeGreaterThanOrEqual(0n);
    }
  }
}
