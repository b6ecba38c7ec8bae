/** The `generic` provider's body (DESIGN 3.2) → canonical fields. */
import { z } from 'zod';
import { buildCanonicalEvent, mapFailure, type DeliveryFacts, type MapResult } from '../canonical.js';
import {
  confirmations,
  country,
  describeIssues,
  eventType,
  idString,
  isoTime,
  optionalAmount,
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
    asset: z
      .string()
      .min(1)
      .max(32)
      .nullish()
      .transform((v) => v ?? null),
    network: z
      .string()
      .min(1)
      .max(64)
      .nullish()
      .transform((v) => v ?? null),
    amount: optionalAmount,
    tx_hash: optionalText,
    from_address: optionalText,
    to_address: optionalText,
    confirmations,
    counterparty: z
      .object({ name: optionalText, country: country.nullish().transform((v) => v ?? null) })
      .nullish()
      .transform((v) => v ?? null),
    status: z
      .string()
      .min(1)
      .max(64)
      .nullish()
      .transform((v) => v ?? null),
  }),
});

export function mapGeneric(value: unknown, delivery: DeliveryFacts): MapResult {
  const parsed = body.safeParse(value);
  if (!parsed.success) return mapFailure(describeIssues(parsed.error));
  const { id, type, occurred_at, data } = parsed.data;
  return buildCanonicalEvent(
    {
      event_id: id,
      event_type: type,
      occurred_at_ms: occurred_at,
      transaction_id: data.transaction_id,
      wallet_id: data.wallet_id,
      customer_id: data.customer_id,
      asset: data.asset,
      network: data.network,
      amount: data.amount,
      tx_hash: data.tx_hash,
      from_address: data.from_address,
      to_address: data.to_address,
      confirmations: data.confirmations,
      counterparty_name: data.counterparty?.name ?? null,
      counterparty_country: data.counterparty?.country ?? null,
      kyc_status: data.status,
    },
    delivery,
  );
}
