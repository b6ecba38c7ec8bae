/**
 * Healing: what to re-inject through the normal pipeline so the ledger reaches the
 * provider's truth, as events marked `source: RECONCILIATION`.
 *
 * One event per healed transaction: the event type that expresses the provider's status
 * for the transaction's direction, carrying the provider's amount.
 *
 *   in:  pending -> deposit.detected    confirmed -> deposit.confirmed
 *        failed  -> deposit.failed      reversed  -> deposit.reversed
 *   out: pending -> withdrawal.requested  confirmed -> withdrawal.confirmed
 *        failed  -> withdrawal.failed     (a reversed withdrawal has no event type: manual)
 *
 * The provider's books are the reference: a RECONCILIATION-sourced event is authoritative
 * for its transaction. The ledger projector resets the transaction's facts to the one the
 * event states (status and amount) and posts the difference between the transaction's
 * current and corrected position as new balanced postings — an adjustment, never an edit:
 * history stays append-only (postings, processed events) and every posting balances.
 * That covers wrong amounts (a confirmed deposit of 0.55 the provider books as 0.5 gets a
 * -0.05 adjustment) and statuses the webhook stream never reached or got wrong (a
 * deposit the provider failed after all). Replaying the same correction changes nothing.
 *
 * Not healable, reported for an operator: transactions whose wallet, asset or direction
 * differ between the two sides (the ledger refuses such events as conflicts), and a
 * `reversed` withdrawal (no provider event type expresses it).
 *
 * Idempotence: the event id is derived from the provider record it heals towards
 * (transaction id, event type, amount, and the record's updated_at), so a second heal run
 * over the same provider books produces the same ids and dedupe drops them; when the
 * provider's record changes (even back to an earlier state), the new truth gets a new id.
 */
import { createHash } from 'node:crypto';
import type { CanonicalEvent } from '@tidemark/common/records';
import type { Direction, LedgerTx, ProviderRecord, StatementStatus } from './model.js';
import { formatUnits } from './units.js';
import { canonicalEvent } from '@tidemark/common/events';
import { toBaseUnits } from '@tidemark/common/money';

const EVENT_TYPE: Record<Direction, Partial<Record<StatementStatus, string>>> = {
  in: { pending: 'deposit.detected', confirmed: 'deposit.confirmed', failed: 'deposit.failed', reversed: 'deposit.reversed' },
  out: { pending: 'withdrawal.requested', confirmed: 'withdrawal.confirmed', failed: 'withdrawal.failed' },
};

/** Longest event id we emit; longer natural ids are hashed (the ledger accepts up to 256). */
export const HEAL_EVENT_ID_LENGTH_MAX = 200;

export function eventTypeFor(direction: Direction, status: StatementStatus): string | null {
  return EVENT_TYPE[direction][status] ?? null;
}

export type HealPlan =
  { healable: true; event_type: string; status: StatementStatus; amount: string } | { healable: false; reason: string };

/** What heals `ledger` (null: missing in the ledger) towards `provider`, or why nothing can. */
export function planHeal(ledger: LedgerTx | null, provider: ProviderRecord): HealPlan {
  const event_type = eventTypeFor(provider.direction, provider.status);
  if (event_type === null) {
    return {
      healable: false,
      reason: `a ${provider.status} ${provider.direction === 'in' ? 'deposit' : 'withdrawal'} has no provider event type to re-inject`,
    };
  }
  if (ledger !== null) {
    if (ledger.wallet_id !== provider.wallet_id || ledger.asset !== provider.asset || ledger.direction !== provider.direction) {
      return { healable: false, reason: 'wallet, asset or direction differ between ledger and provider; an operator must correct it' };
    }
  }
  return { healable: true, event_type, status: provider.status, amount: formatUnits(toBaseUnits(provider.amount)) };
}

/** Deterministic event id of a heal: same truth, same id (so dedupe makes healing idempotent). */
export function healEventId(transaction_id: string, event_type: string, amount: string, updated_at_ms: number): string {
  const canonical_amount = formatUnits(toBaseUnits(amount));
  const natural = `recon:${transaction_id}:${event_type}:${canonical_amount}:${updated_at_ms}`;
  if (natural.length <= HEAL_EVENT_ID_LENGTH_MAX) return natural;
  const digest = createHash('sha256')
    .update(`${transaction_id}\u0000${event_type}\u0000${canonical_amount}\u0000${updated_at_ms}`)
    .digest('hex');
  return `recon:${digest.slice(0, 40)}`;
}

/** The canonical event a heal injects into webhooks.received.v1 (key: wallet id). */
export function buildHealEvent(opts: {
  provider: string;
  record: ProviderRecord;
  plan: Extract<HealPlan, { healable: true }>;
  ingress_id: string;
  now_ms: number;
}): CanonicalEvent {
  const { record, plan } = opts;
  const event_id = healEventId(record.transaction_id, plan.event_type, plan.amount, record.updated_at_ms);
  // Evidence: the provider record the heal is derived from (the "body" of this event).
  const evidence = JSON.stringify({
    source: 'statements',
    provider: opts.provider,
    transaction_id: record.transaction_id,
    wallet_id: record.wallet_id,
    asset: record.asset,
    amount: record.amount,
    direction: record.direction,
    status: record.status,
    updated_at: record.updated_at,
  });
  return canonicalEvent({
    ingress_id: opts.ingress_id,
    provider: opts.provider,
    event_id,
    event_type: plan.event_type,
    occurred_at_ms: record.updated_at_ms,
    received_at_ms: opts.now_ms,
    partition_key: record.wallet_id,
    transaction_id: record.transaction_id,
    wallet_id: record.wallet_id,
    asset: record.asset,
    amount: plan.amount,
    source: 'RECONCILIATION',
    body_sha256: createHash('sha256').update(evidence).digest('hex'),
  });
}
