/** The `generic` provider's body (DESIGN 3.2) → canonical fields. */
import { z } from 'zod';
import { buildCanonicalEvent, mapFailure, type DeliveryFacts, type MapResult } from '../canonical.js';
import {
  confirmations,
  counterpartyFields,
  describeIssues,
  eventType,
  idString,
  isoTime,
  optionalAmount,
  optionalCode,
  optionalCounterparty,
  optionalId,
  optionalText,
} from './fields.js';

const body = z.object({
  id: idString,
  type: eventType,
  occurred_at: isoTime,
  data: z.object({
    transaction_id: optionalId,
    wallet_id: optionalId,
    customer_id: optionalId,
    asset: optionalCode(32),
    network: optionalCode(64),
    amount: optionalAmount,
    tx_hash: optionalText,
    from_address: optionalText,
    to_address: optionalText,
    confirmations,
    counterparty: optionalCounterparty,
    status: optionalCode(64),
  }),
});

export function mapGeneric(value: unknown, delivery: DeliveryFacts): MapResult {
  const parsed = body.safeParse(value);
  if (!parsed.success) return mapFailure(describeIssues(parsed.error));
  const { id, type, occurred_at, data } = parsed.data;
  // The body's data already carries the canonical names (zod keeps only the fields above), but for these two.
  const { counterparty, status, ...canonical } = data;
  return buildCanonicalEvent(
    {
      event_id: id,
      event_type: type,
      occurred_at_ms: occurred_at,
      ...canonical,
      ...counterpartyFields(counterparty),
      kyc_status: status,
    },
    delivery,
  );
}
