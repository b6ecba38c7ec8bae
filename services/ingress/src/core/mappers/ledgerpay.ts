/**
 * `ledgerpay`: a payment service provider with Stripe-shaped events
 * (`{"id","object":"event","created":<unix s>,"type","data":{"object":{...}}}`), whose
 * crypto deposit/payout objects carry amounts as decimal strings.
 */
import { z } from 'zod';
import { buildCanonicalEvent, mapFailure, type DeliveryFacts, type MapResult } from '../canonical.js';
import {
  confirmations,
  counterpartyFields,
  describeIssues,
  eventType,
  idString,
  optionalAmount,
  optionalCode,
  optionalCounterparty,
  optionalId,
  optionalText,
} from './fields.js';

/** ledgerpay event type → canonical type. Anything else is carried as received (not projected). */
export const LEDGERPAY_EVENT_TYPES: Readonly<Record<string, string>> = {
  'crypto_deposit.pending': 'deposit.detected',
  'crypto_deposit.succeeded': 'deposit.confirmed',
  'crypto_deposit.failed': 'deposit.failed',
  'crypto_deposit.reversed': 'deposit.reversed',
  'crypto_payout.created': 'withdrawal.requested',
  'crypto_payout.submitted': 'withdrawal.broadcast',
  'crypto_payout.paid': 'withdrawal.confirmed',
  'crypto_payout.failed': 'withdrawal.failed',
  'customer.verification_updated': 'kyc.status_changed',
};

const body = z.object({
  id: idString,
  object: z.literal('event'),
  created: z.number().int().min(0).max(253_402_300_799),
  type: eventType,
  data: z.object({
    object: z.object({
      id: idString,
      object: z.string().max(64),
      wallet: optionalId,
      customer: optionalId,
      currency: optionalCode(32),
      network: optionalCode(64),
      amount: optionalAmount,
      transaction_hash: optionalText,
      source_address: optionalText,
      destination_address: optionalText,
      confirmations,
      counterparty: optionalCounterparty,
      verification_status: optionalCode(64),
    }),
  }),
});

export function mapLedgerpay(value: unknown, delivery: DeliveryFacts): MapResult {
  const parsed = body.safeParse(value);
  if (!parsed.success) return mapFailure(describeIssues(parsed.error));
  const event = parsed.data;
  const object = event.data.object;
  const event_type = LEDGERPAY_EVENT_TYPES[event.type] ?? event.type;
  const is_customer = object.object === 'customer';
  return buildCanonicalEvent(
    {
      event_id: event.id,
      event_type,
      occurred_at_ms: event.created * 1000,
      transaction_id: is_customer ? null : object.id,
      wallet_id: object.wallet,
      customer_id: is_customer ? object.id : object.customer,
      asset: object.currency,
      network: object.network,
      amount: object.amount,
      tx_hash: object.transaction_hash,
      from_address: object.source_address,
      to_address: object.destination_address,
      confirmations: object.confirmations,
      ...counterpartyFields(object.counterparty),
      kyc_status: object.verification_status,
    },
    delivery,
  );
}
