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
