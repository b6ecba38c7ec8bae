/**
 * `custodian-x`: a digital-asset custodian whose notifications describe transfers by
 * direction and state, with amounts in integer base units plus the asset's decimals
 * (`"amount_base_units": "50000000", "decimals": 8` → "0.5").
 */
import { z } from 'zod';
import { AMOUNT_DECIMALS_MAX, fromBaseUnits } from '@tidemark/common/money';
import { buildCanonicalEvent, mapFailure, type DeliveryFacts, type MapResult } from '../canonical.js';
import { confirmations, country, describeIssues, eventType, idString, optionalId, optionalText } from './fields.js';

/** (direction, state) → canonical type; other combinations are carried as `transfer.<direction>.<state>`. */
export const CUSTODIAN_X_TRANSFER_TYPES: Readonly<Record<string, string>> = {
  'INCOMING.DETECTED': 'deposit.detected',
  'INCOMING.CONFIRMED': 'deposit.confirmed',
  'INCOMING.FAILED': 'deposit.failed',
  'INCOMING.REVERSED': 'deposit.reversed',
  'OUTGOING.SUBMITTED': 'withdrawal.requested',
  'OUTGOING.BROADCAST': 'withdrawal.broadcast',
  'OUTGOING.CONFIRMED': 'withdrawal.confirmed',
  'OUTGOING.FAILED': 'withdrawal.failed',
};

const state = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Z_]+$/, 'must be upper-case letters and "_"');

const body = z.object({
  notification_id: idString,
  kind: eventType,
  timestamp_ms: z.number().int().min(0).max(253_402_300_799_999),
  transfer: z
    .object({
      id: idString,
      direction: z.enum(['INCOMING', 'OUTGOING']),
      state,
      vault_id: optionalId,
      owner_id: optionalId,
      asset_id: z.string().min(1).max(32),
      chain: z.string().min(1).max(64),
      amount_base_units: z.string().regex(/^(0|[1-9][0-9]{0,95})$/, 'must be a non-negative integer string'),
      decimals: z.number().int().min(0).max(AMOUNT_DECIMALS_MAX),
      tx_hash: optionalText,
      source: z.object({ address: optionalText }).nullish(),
      destination: z.object({ address: optionalText }).nullish(),
      confirmations,
      counterparty: z.object({ legal_name: optionalText, country_code: country.nullish().transform((v) => v ?? null) }).nullish(),
    })
    .nullish(),
  customer: z.object({ id: idString, vault_id: optionalId, kyc_state: z.string().min(1).max(64) }).nullish(),
});

export function mapCustodianX(value: unknown, delivery: DeliveryFacts): MapResult {
  const parsed = body.safeParse(value);
  if (!parsed.success) return mapFailure(describeIssues(parsed.error));
  const n = parsed.data;
  const base = { event_id: n.notification_id, occurred_at_ms: n.timestamp_ms };
  if (n.kind === 'transfer.updated') {
    const t = n.transfer;
    if (!t) return mapFailure('transfer.updated requires transfer');
    const key = `${t.direction}.${t.state}`;
    return buildCanonicalEvent(
      {
        ...base,
        event_type: CUSTODIAN_X_TRANSFER_TYPES[key] ?? `transfer.${t.direction.toLowerCase()}.${t.state.toLowerCase()}`,
        transaction_id: t.id,
        wallet_id: t.vault_id,
        customer_id: t.owner_id,
        asset: t.asset_id,
        network: t.chain,
        amount: fromBaseUnits(BigInt(t.amount_base_units), t.decimals),
        tx_hash: t.tx_hash,
        from_address: t.source?.address ?? null,
        to_address: t.destination?.address ?? null,
        confirmations: t.confirmations,
        counterparty_name: t.counterparty?.legal_name ?? null,
        counterparty_country: t.counterparty?.country_code ?? null,
      },
      delivery,
    );
  }
  if (n.kind === 'customer.kyc_updated') {
    const c = n.customer;
    if (!c) return mapFailure('customer.kyc_updated requires customer');
    return buildCanonicalEvent(
      {
        ...base,
        event_type: 'kyc.status_changed',
        wallet_id: c.vault_id,
        customer_id: c.id,
        kyc_status: c.kyc_state.toLowerCase(),
      },
      delivery,
    );
  }
  // Unknown notification kind: accepted and recorded as received, never projected.
  return buildCanonicalEvent(
    {
      ...base,
      event_type: n.kind,
      wallet_id: n.transfer?.vault_id ?? n.customer?.vault_id ?? null,
      customer_id: n.customer?.id ?? n.transfer?.owner_id ?? null,
    },
    delivery,
  );
}
