/**
 * Compares one provider transaction with the ledger's, matched on the provider
 * transaction id (the only matching rule: ids are the provider's own and unique per
 * provider). Pure: returns the findings, the balance effects for the pair tallies and,
 * when the ledger should change, the heal plan.
 */
import { toBaseUnits } from '@tidemark/common/money';
import { impliedPositionOf, subBuckets } from './balance.js';
import { type HealPlan, planHeal } from './heal.js';
import type { Buckets, Finding, LedgerTx, ProviderRecord } from './model.js';
import { sameAmount } from './units.js';

export const MATCH_RULE =
  'provider transaction id (exact, per provider); amounts compared as exact decimals, statuses in the statements vocabulary (ledger requested/broadcast = pending)';

export type Outcome = 'matched' | 'mismatched' | 'missing_in_ledger' | 'missing_at_provider';

export interface BalanceEffect {
  wallet_id: string;
  asset: string;
  kind: 'ledger' | 'implied' | 'unexplained';
  buckets: Buckets;
}

export interface Comparison {
  outcome: Outcome;
  findings: Finding[];
  effects: BalanceEffect[];
  /** Set when the ledger differs from the provider's truth in a way a heal addresses (or explains why not). */
  heal: HealPlan | null;
  /** ledger amount - provider amount in units, for matched transactions whose amounts differ. */
  amount_drift: { asset: string; units: bigint } | null;
  /** "ledger -> provider" status divergence, for matched transactions whose statuses differ. */
  status_divergence: string | null;
}

function describe(side: { direction: string; status: string; amount: string; asset: string; wallet_id: string }): string {
  return `${side.direction} ${side.status} ${side.amount} ${side.asset} on ${side.wallet_id}`;
}

export function compareTransaction(provider: ProviderRecord | null, ledger: LedgerTx | null): Comparison {
  if (provider === null && ledger === null) throw new Error('invariant: compareTransaction needs at least one side');
  if (provider === null) return missingAtProvider(ledger as LedgerTx);
  if (ledger === null) return missingInLedger(provider);
  return compareMatched(provider, ledger);
}

/** A transaction only one side has: one finding of that kind, the side's balance effect, nothing to tally as drift. */
function oneSided(
  kind: 'missing_at_provider' | 'missing_in_ledger',
  side: LedgerTx | ProviderRecord,
  finding: Pick<Finding, 'ledger_value' | 'provider_value' | 'detail'>,
  effect: Pick<BalanceEffect, 'kind' | 'buckets'>,
  heal: HealPlan | null,
): Comparison {
  const { transaction_id, wallet_id, asset } = side;
  return {
    outcome: kind,
    findings: [{ kind, transaction_id, wallet_id, asset, ...finding }],
    effects: [{ wallet_id, asset, ...effect }],
    heal,
    amount_drift: null,
    status_divergence: null,
  };
}

function missingAtProvider(l: LedgerTx): Comparison {
  return oneSided(
    'missing_at_provider',
    l,
    {
      ledger_value: `${l.direction} ${l.status} ${l.amount}`,
      provider_value: null,
      detail: `the ledger has ${describe(l)} but the provider's statements for the window do not list it`,
    },
    // Explained by the finding: the ledger side counts, nothing is implied, nothing unexplained.
    { kind: 'ledger', buckets: l.position },
    null,
  );
}

function missingInLedger(p: ProviderRecord): Comparison {
  return oneSided(
    'missing_in_ledger',
    p,
    {
      ledger_value: null,
      provider_value: `${p.direction} ${p.status} ${p.amount}`,
      detail: `the provider reports ${describe(p)} (updated ${p.updated_at}) but the ledger has no such transaction`,
    },
    { kind: 'implied', buckets: impliedPositionOf(p, false) },
    planHeal(null, p),
  );
}

/** Where, which way and in which status the two sides book the transaction. */
function placementFindings(p: ProviderRecord, l: LedgerTx): Finding[] {
  const findings: Finding[] = [];
  const base = { transaction_id: p.transaction_id, wallet_id: p.wallet_id, asset: p.asset };
  if (l.wallet_id !== p.wallet_id || l.asset !== p.asset) {
    findings.push({
      ...base,
      kind: 'balance_mismatch',
      ledger_value: `${l.wallet_id} ${l.asset}`,
      provider_value: `${p.wallet_id} ${p.asset}`,
      detail: `transaction ${p.transaction_id} is booked on ${l.wallet_id}/${l.asset} in the ledger but on ${p.wallet_id}/${p.asset} at the provider`,
    });
  }
  if (l.direction !== p.direction) {
    findings.push({
      ...base,
      kind: 'status_mismatch',
      ledger_value: `${l.direction} ${l.status}`,
      provider_value: `${p.direction} ${p.status}`,
      detail: `transaction ${p.transaction_id} is a ${l.direction === 'in' ? 'deposit' : 'withdrawal'} in the ledger but a ${p.direction === 'in' ? 'deposit' : 'withdrawal'} at the provider`,
    });
  } else if (l.status !== p.status) {
    findings.push({
      ...base,
      kind: 'status_mismatch',
      ledger_value: l.status,
      provider_value: p.status,
      detail: `transaction ${p.transaction_id} (${p.direction}, ${p.amount} ${p.asset}) is ${l.status} in the ledger but ${p.status} at the provider (updated ${p.updated_at})`,
    });
  }
  return findings;
}

function compareMatched(p: ProviderRecord, l: LedgerTx): Comparison {
  const findings = placementFindings(p, l);
  let amount_drift: Comparison['amount_drift'] = null;
  if (!sameAmount(l.amount, p.amount)) {
    findings.push({
      transaction_id: p.transaction_id,
      kind: 'amount_mismatch',
      wallet_id: p.wallet_id,
      asset: p.asset,
      ledger_value: l.amount,
      provider_value: p.amount,
      detail: `transaction ${p.transaction_id} (${p.direction} ${p.status}) has amount ${l.amount} ${l.asset} in the ledger but ${p.amount} ${p.asset} at the provider`,
    });
    if (l.asset === p.asset) amount_drift = { asset: p.asset, units: toBaseUnits(l.amount) - toBaseUnits(p.amount) };
  }

  const implied = impliedPositionOf(p, l.held);
  const effects: BalanceEffect[] = [
    { wallet_id: l.wallet_id, asset: l.asset, kind: 'ledger', buckets: l.position },
    { wallet_id: p.wallet_id, asset: p.asset, kind: 'implied', buckets: implied },
  ];
  if (findings.length === 0) {
    // Clean match: any difference between where the ledger keeps the money and where the
    // provider's status puts it is not explained by a finding (see balance.ts).
    effects.push({ wallet_id: l.wallet_id, asset: l.asset, kind: 'unexplained', buckets: subBuckets(l.position, implied) });
  }
  const status_divergence = l.direction === p.direction && l.status !== p.status ? `${l.status} -> ${p.status}` : null;
  return {
    outcome: findings.length === 0 ? 'matched' : 'mismatched',
    findings,
    effects,
    heal: findings.length === 0 ? null : planHeal(l, p),
    amount_drift,
    status_divergence,
  };
}
