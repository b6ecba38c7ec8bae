/** The canonical event types of v1 (DESIGN 3.2), shared by every stage. */
export const EVENT_TYPES = [
  'deposit.detected',
  'deposit.confirmed',
  'deposit.failed',
  'deposit.reversed',
  'withdrawal.requested',
  'withdrawal.broadcast',
  'withdrawal.confirmed',
  'withdrawal.failed',
  'kyc.status_changed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Event types that concern a provider transaction (all but KYC). */
export const TRANSACTION_EVENT_TYPES: readonly EventType[] = EVENT_TYPES.filter((t) => t !== 'kyc.status_changed');

const KNOWN = new Set<string>(EVENT_TYPES);
export function isKnownEventType(type: string): type is EventType {
  return KNOWN.has(type);
}

const TRANSACTION = new Set<string>(TRANSACTION_EVENT_TYPES);
export function isTransactionEventType(type: string): boolean {
  return TRANSACTION.has(type);
}

import type { CanonicalEvent } from './generated/records.js';

/** The fields every canonical event must have; everything else defaults to null / WEBHOOK. */
export type CanonicalEventCore = Pick<
  CanonicalEvent,
  'ingress_id' | 'provider' | 'event_id' | 'event_type' | 'occurred_at_ms' | 'received_at_ms' | 'partition_key' | 'body_sha256'
>;

/** Builds a complete CanonicalEvent from its core fields plus any optional ones. */
export function canonicalEvent(core: CanonicalEventCore & Partial<CanonicalEvent>): CanonicalEvent {
  return {
    transaction_id: null,
    wallet_id: null,
    customer_id: null,
    asset: null,
    network: null,
    amount: null,
    tx_hash: null,
    from_address: null,
    to_address: null,
    confirmations: null,
    counterparty_name: null,
    counterparty_country: null,
    kyc_status: null,
    source: 'WEBHOOK',
    ...core,
  };
}
