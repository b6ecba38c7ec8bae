/**
 * Turns a screened canonical event into the ledger's input, or says precisely why it
 * can never be projected (InvalidEventError → the runtime dead-letters it).
 */
import type { CanonicalEvent, ScreeningDecision } from '@tidemark/common/records';
import { AmountError, parseAmount } from './amount.js';
import {
  type Decision,
  type ReasonSummary,
  type ScreeningInput,
  type TxEvent,
  type TxEventType,
  classifyEventType,
  REASON_MESSAGE_LENGTH_MAX,
} from './transaction.js';

/** Longest id (provider, event, transaction, wallet, customer) accepted. */
export const IDENTIFIER_LENGTH_MAX = 256;
export const ASSET_LENGTH_MAX = 32;
export const KYC_STATUS_LENGTH_MAX = 64;
export const SCREENING_REASONS_MAX = 64;

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/** Facts every input keeps, whatever its class (history, audit, processed-event record). */
export interface EventMeta {
  provider: string;
  event_id: string;
  event_type: string;
  partition_key: string;
  transaction_id: string | null;
  wallet_id: string | null;
  asset: string | null;
  amount: string | null;
  occurred_at_ms: number;
  received_at_ms: number;
  source: string;
  decision: Decision;
  reasons: ReasonSummary[];
}

export type LedgerInput =
  | { class: 'transaction'; meta: EventMeta; event: TxEvent; screening: ScreeningInput }
  | { class: 'kyc'; meta: EventMeta; customer_id: string; kyc_status: string }
  | { class: 'unknown'; meta: EventMeta };

function requireId(value: string | null | undefined, field: string, event_id: string, max = IDENTIFIER_LENGTH_MAX): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidEventError(`event ${event_id}: ${field} is required`);
  if (value.length > max) throw new InvalidEventError(`event ${event_id}: ${field} longer than ${max} characters`);
  return value;
}

function screeningOf(screening: ScreeningDecision): ScreeningInput {
  const decision = screening.decision;
  if (decision !== 'ALLOW' && decision !== 'REVIEW' && decision !== 'BLOCK') {
    throw new InvalidEventError(`unknown screening decision ${String(decision)}`);
  }
  const reasons = (screening.reasons ?? []).slice(0, SCREENING_REASONS_MAX).map((r) => ({
    code: String(r.code),
    rule_id: String(r.rule_id),
    outcome: r.outcome,
    message: String(r.message).slice(0, REASON_MESSAGE_LENGTH_MAX),
  }));
  return { decision, reasons };
}

export function toLedgerInput(value: { event: CanonicalEvent; screening: ScreeningDecision }): LedgerInput {
  const e = value.event;
  if (!e || !value.screening) throw new InvalidEventError('record has no event or no screening decision');
  const event_id = requireId(e.event_id, 'event_id', '(unknown)');
  const provider = requireId(e.provider, 'provider', event_id);
  const event_type = requireId(e.event_type, 'event_type', event_id);
  const screening = screeningOf(value.screening);
  if (!Number.isSafeInteger(e.occurred_at_ms) || !Number.isSafeInteger(e.received_at_ms)) {
    throw new InvalidEventError(`event ${event_id}: occurred_at_ms / received_at_ms must be integer milliseconds`);
  }
  const meta: EventMeta = {
    provider,
    event_id,
    event_type,
    partition_key: e.partition_key,
    transaction_id: e.transaction_id ?? null,
    wallet_id: e.wallet_id ?? null,
    asset: e.asset ?? null,
    amount: e.amount ?? null,
    occurred_at_ms: e.occurred_at_ms,
    received_at_ms: e.received_at_ms,
    source: e.source ?? 'WEBHOOK',
    decision: screening.decision,
    reasons: screening.reasons.slice(),
  };
  const cls = classifyEventType(event_type);
  if (cls === 'unknown') return { class: 'unknown', meta };
  if (cls === 'kyc') {
    const customer_id = requireId(e.customer_id ?? e.partition_key, 'customer_id', event_id);
    const kyc_status = requireId(e.kyc_status, 'kyc_status', event_id, KYC_STATUS_LENGTH_MAX);
    return { class: 'kyc', meta, customer_id, kyc_status };
  }
  const transaction_id = requireId(e.transaction_id, 'transaction_id', event_id);
  const wallet_id = requireId(e.wallet_id, 'wallet_id', event_id);
  const asset = requireId(e.asset, 'asset', event_id, ASSET_LENGTH_MAX);
  const amountText = requireId(e.amount, 'amount', event_id);
  let amount_units: bigint;
  try {
    amount_units = parseAmount(amountText);
  } catch (err) {
    if (err instanceof AmountError) throw new InvalidEventError(`event ${event_id}: ${err.message}`);
    throw err;
  }
  return {
    class: 'transaction',
    meta,
    event: {
      provider,
      event_id,
      event_type: event_type as TxEventType,
      transaction_id,
      wallet_id,
      asset,
      amount_units,
      ...(meta.source === 'RECONCILIATION' ? { authoritative: true } : {}),
    },
    screening,
  };
}
