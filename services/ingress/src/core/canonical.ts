/**
 * The provider-independent half of payload mapping: every mapper produces `MappedFields`
 * from its own body shape, and `buildCanonicalEvent` enforces the v1 event types' required
 * fields and the amount rules, then assembles the Avro record (schemas/avro/canonical-event.avsc)
 * with the shared `canonicalEvent` builder.
 */
import { amountProblem } from '@tidemark/common/money';
import { canonicalEvent, isKnownEventType } from '@tidemark/common/events';
import type { CanonicalEvent } from '@tidemark/common/records';

export { EVENT_TYPES as KNOWN_EVENT_TYPES, isKnownEventType, type EventType as KnownEventType } from '@tidemark/common/events';

/** What a mapper extracts from a provider body. Nulls mean "not sent". */
export interface CanonicalFields {
  event_id: string;
  event_type: string;
  occurred_at_ms: number;
  transaction_id: string | null;
  wallet_id: string | null;
  customer_id: string | null;
  asset: string | null;
  network: string | null;
  amount: string | null;
  tx_hash: string | null;
  from_address: string | null;
  to_address: string | null;
  confirmations: number | null;
  counterparty_name: string | null;
  counterparty_country: string | null;
  kyc_status: string | null;
}

/** What a mapper must give; the fields it leaves out were not sent (null). */
export type MappedFields = Pick<CanonicalFields, 'event_id' | 'event_type' | 'occurred_at_ms'> & Partial<CanonicalFields>;

export interface DeliveryFacts {
  provider: string;
  ingress_id: string;
  received_at_ms: number;
  body_sha256: string;
}

export type MapResult =
  { ok: true; event: CanonicalEvent; known_type: boolean } | { ok: false; reason: 'schema_validation_failed'; message: string };

export function mapFailure(message: string): MapResult {
  return { ok: false, reason: 'schema_validation_failed', message };
}

const TRANSACTION_REQUIRED = ['transaction_id', 'wallet_id', 'asset', 'network', 'amount'] as const;
const KYC_REQUIRED = ['customer_id', 'kyc_status'] as const;

/** Checks the per-type rules and assembles the canonical record. */
export function buildCanonicalEvent(mapped: MappedFields, delivery: DeliveryFacts): MapResult {
  const { provider, ingress_id, received_at_ms, body_sha256 } = delivery;
  // Complete (every field not sent is null); the partition key is chosen below, once the fields are checked.
  const fields = canonicalEvent({ provider, ingress_id, received_at_ms, body_sha256, partition_key: '', ...mapped });
  const known_type = isKnownEventType(fields.event_type);
  if (known_type) {
    const required = fields.event_type === 'kyc.status_changed' ? KYC_REQUIRED : TRANSACTION_REQUIRED;
    const missing = required.filter((name) => fields[name] === null);
    if (missing.length > 0) {
      return mapFailure(`${fields.event_type} requires ${missing.join(', ')}`);
    }
  }
  if (fields.amount !== null) {
    const problem = amountProblem(fields.amount);
    if (problem !== null) return mapFailure(problem);
  }
  if (!Number.isSafeInteger(fields.occurred_at_ms) || fields.occurred_at_ms < 0) {
    return mapFailure('occurred_at is not a valid time');
  }
  // Partition key: wallet id, else customer id; an unknown-type event with neither is keyed by
  // its own id (it is recorded but never projected, so it needs no wallet ordering).
  return {
    ok: true,
    known_type,
    event: {
      ...fields,
      partition_key: fields.wallet_id ?? fields.customer_id ?? `${provider}:${fields.event_id}`,
      asset: fields.asset === null ? null : fields.asset.toUpperCase(),
      counterparty_country: fields.counterparty_country === null ? null : fields.counterparty_country.toUpperCase(),
    },
  };
}
