/**
 * How each simulated provider shapes and signs its webhooks. The signing code is the
 * simulator's own (node:crypto HMAC) so that tests can check it against independent
 * implementations (the `standardwebhooks` and `stripe` npm packages) and against ingress.
 *
 *  - generic      DESIGN 3.2: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 *                 `webhook-signature: v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>`), whsec_ secrets.
 *  - ledgerpay    Stripe-shaped events; `Ledgerpay-Signature: t=<unix>,v1=<hex HMAC("{t}.{body}")>`,
 *                 key = the secret string as UTF-8.
 *  - custodian-x  transfer notifications with base-unit amounts; `X-Signature: <hex HMAC("{ts}.{body}")>`
 *                 plus `X-Timestamp: <unix>`, key = the secret string as UTF-8.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { ASSETS } from '../core/assets.js';
import type { EventType, SimEvent } from '../core/model.js';
import { parseUnits } from '../core/money.js';
import type { ProviderId } from '../core/scenario.js';

export interface SignInput {
  body: string;
  event: SimEvent;
  /** Decoded HMAC keys; the first signs, all sign when `sign_with_all` (rotation). */
  keys: readonly Buffer[];
  timestamp_s: number;
  sign_with_all: boolean;
}

export interface ProviderProfile {
  id: ProviderId;
  /** Environment variable holding the comma-separated secrets (same name ingress reads). */
  secrets_env: string;
  /** Path of the ingress endpoint for this provider. */
  path: string;
  /** The raw JSON body the provider sends for an event (same bytes on every delivery). */
  body(event: SimEvent): string;
  /** Signature headers for one delivery attempt. */
  sign(input: SignInput): Record<string, string>;
  /** Secret string → HMAC key; throws naming the problem, never the secret. */
  decodeSecret(secret: string): Buffer;
  /** A fresh random secret in this profile's format (tests, benchmarks, local demo). */
  generateSecret(): string;
}

function hmac(key: Buffer, parts: readonly string[], encoding: 'base64' | 'hex'): string {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest(encoding);
}

function keysToUse(input: SignInput): readonly Buffer[] {
  if (input.keys.length === 0) throw new Error('no signing secret configured');
  return input.sign_with_all ? input.keys : input.keys.slice(0, 1);
}

const isoTime = (ms: number) => new Date(ms).toISOString();

// --- generic --------------------------------------------------------------------------------

const WHSEC_PREFIX = 'whsec_';

export function decodeWhsec(secret: string): Buffer {
  if (!secret.startsWith(WHSEC_PREFIX)) throw new Error('generic secret must start with "whsec_"');
  const encoded = secret.slice(WHSEC_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
    throw new Error('generic secret must be "whsec_" followed by base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.length < 16 || key.length > 128) throw new Error('generic secret must decode to 16..128 bytes');
  return key;
}

/** Standard Webhooks signature value (`v1,<base64>`) for one key. */
export function standardWebhooksSignature(key: Buffer, msg_id: string, timestamp_s: number, body: string): string {
  return `v1,${hmac(key, [`${msg_id}.${timestamp_s}.`, body], 'base64')}`;
}

function genericBody(event: SimEvent): string {
  if (event.type === 'kyc.status_changed') {
    return JSON.stringify({
      id: event.id,
      type: event.type,
      occurred_at: isoTime(event.occurred_at_ms),
      data: { wallet_id: event.wallet_id, customer_id: event.customer_id, status: event.kyc_status },
    });
  }
  const data: Record<string, unknown> = {
    transaction_id: event.transaction_id,
    wallet_id: event.wallet_id,
    customer_id: event.customer_id,
    asset: event.asset,
    network: event.network,
    amount: event.amount,
  };
  if (event.tx_hash !== null) data.tx_hash = event.tx_hash;
  if (event.from_address !== null) data.from_address = event.from_address;
  if (event.to_address !== null) data.to_address = event.to_address;
  if (event.confirmations !== null) data.confirmations = event.confirmations;
  if (event.counterparty !== null) data.counterparty = event.counterparty;
  return JSON.stringify({ id: event.id, type: event.type, occurred_at: isoTime(event.occurred_at_ms), data });
}

export const genericProfile: ProviderProfile = {
  id: 'generic',
  secrets_env: 'TIDEMARK_GENERIC_SECRETS',
  path: '/webhooks/generic',
  body: genericBody,
  sign(input) {
    // webhook-id is the message id: the same on every redelivery of the event.
    const signatures = keysToUse(input).map((key) => standardWebhooksSignature(key, input.event.id, input.timestamp_s, input.body));
    return {
      'webhook-id': input.event.id,
      'webhook-timestamp': String(input.timestamp_s),
      'webhook-signature': signatures.join(' '),
    };
  },
  decodeSecret: decodeWhsec,
  generateSecret: () => `${WHSEC_PREFIX}${randomBytes(32).toString('base64')}`,
};

// --- ledgerpay (Stripe-style) ------------------------------------------------------------------

const LEDGERPAY_TYPES: Readonly<Record<EventType, string>> = {
  'deposit.detected': 'crypto_deposit.pending',
  'deposit.confirmed': 'crypto_deposit.succeeded',
  'deposit.failed': 'crypto_deposit.failed',
  'deposit.reversed': 'crypto_deposit.reversed',
  'withdrawal.requested': 'crypto_payout.created',
  'withdrawal.broadcast': 'crypto_payout.submitted',
  'withdrawal.confirmed': 'crypto_payout.paid',
  'withdrawal.failed': 'crypto_payout.failed',
  'kyc.status_changed': 'customer.verification_updated',
};

function utf8Secret(kind: string) {
  return (secret: string): Buffer => {
    if (secret.length < 16 || secret.length > 256) throw new Error(`${kind} secret must be 16..256 characters`);
    return Buffer.from(secret, 'utf8');
  };
}

function ledgerpayBody(event: SimEvent): string {
  const created = Math.floor(event.occurred_at_ms / 1000);
  if (event.type === 'kyc.status_changed') {
    return JSON.stringify({
      id: event.id,
      object: 'event',
      created,
      type: LEDGERPAY_TYPES[event.type],
      data: { object: { id: event.customer_id, object: 'customer', wallet: event.wallet_id, verification_status: event.kyc_status } },
    });
  }
  const object: Record<string, unknown> = {
    id: event.transaction_id,
    object: event.type.startsWith('deposit.') ? 'crypto_deposit' : 'crypto_payout',
    wallet: event.wallet_id,
    customer: event.customer_id,
    currency: event.asset,
    network: event.network,
    amount: event.amount,
    transaction_hash: event.tx_hash,
    source_address: event.from_address,
    destination_address: event.to_address,
    confirmations: event.confirmations,
    counterparty: event.counterparty,
  };
  return JSON.stringify({ id: event.id, object: 'event', created, type: LEDGERPAY_TYPES[event.type], livemode: false, data: { object } });
}

export const ledgerpayProfile: ProviderProfile = {
  id: 'ledgerpay',
  secrets_env: 'TIDEMARK_LEDGERPAY_SECRETS',
  path: '/webhooks/ledgerpay',
  body: ledgerpayBody,
  sign(input) {
    const t = String(input.timestamp_s);
    const v1 = keysToUse(input).map((key) => `v1=${hmac(key, [`${t}.`, input.body], 'hex')}`);
    return { 'ledgerpay-signature': [`t=${t}`, ...v1].join(',') };
  },
  decodeSecret: utf8Secret('ledgerpay'),
  generateSecret: () => `lp_whsec_${randomBytes(24).toString('hex')}`,
};

// --- custodian-x (hex HMAC + timestamp header) --------------------------------------------------

const CUSTODIAN_X_STATES: Readonly<Record<Exclude<EventType, 'kyc.status_changed'>, [string, string]>> = {
  'deposit.detected': ['INCOMING', 'DETECTED'],
  'deposit.confirmed': ['INCOMING', 'CONFIRMED'],
  'deposit.failed': ['INCOMING', 'FAILED'],
  'deposit.reversed': ['INCOMING', 'REVERSED'],
  'withdrawal.requested': ['OUTGOING', 'SUBMITTED'],
  'withdrawal.broadcast': ['OUTGOING', 'BROADCAST'],
  'withdrawal.confirmed': ['OUTGOING', 'CONFIRMED'],
  'withdrawal.failed': ['OUTGOING', 'FAILED'],
};

function custodianXBody(event: SimEvent): string {
  if (event.type === 'kyc.status_changed') {
    return JSON.stringify({
      notification_id: event.id,
      kind: 'customer.kyc_updated',
      timestamp_ms: event.occurred_at_ms,
      customer: { id: event.customer_id, vault_id: event.wallet_id, kyc_state: (event.kyc_status ?? 'pending').toUpperCase() },
    });
  }
  const [direction, state] = CUSTODIAN_X_STATES[event.type];
  const decimals = ASSETS[event.asset!].decimals;
  const transfer: Record<string, unknown> = {
    id: event.transaction_id,
    direction,
    state,
    vault_id: event.wallet_id,
    owner_id: event.customer_id,
    asset_id: event.asset,
    chain: event.network,
    amount_base_units: parseUnits(event.amount!, decimals).toString(),
    decimals,
    tx_hash: event.tx_hash,
    source: { address: event.from_address },
    destination: { address: event.to_address },
    confirmations: event.confirmations,
  };
  if (event.counterparty) transfer.counterparty = { legal_name: event.counterparty.name, country_code: event.counterparty.country };
  return JSON.stringify({ notification_id: event.id, kind: 'transfer.updated', timestamp_ms: event.occurred_at_ms, transfer });
}

export const custodianXProfile: ProviderProfile = {
  id: 'custodian-x',
  secrets_env: 'TIDEMARK_CUSTODIAN_X_SECRETS',
  path: '/webhooks/custodian-x',
  body: custodianXBody,
  sign(input) {
    const t = String(input.timestamp_s);
    const signatures = keysToUse(input).map((key) => hmac(key, [`${t}.`, input.body], 'hex'));
    return { 'x-signature': signatures.join(','), 'x-timestamp': t };
  },
  decodeSecret: utf8Secret('custodian-x'),
  generateSecret: () => `cx_${randomBytes(24).toString('hex')}`,
};

export const PROFILES: Readonly<Record<ProviderId, ProviderProfile>> = {
  generic: genericProfile,
  ledgerpay: ledgerpayProfile,
  'custodian-x': custodianXProfile,
};

export function profileOf(id: string): ProviderProfile {
  const profile = (PROFILES as Record<string, ProviderProfile>)[id];
  if (!profile) throw new Error(`unknown provider profile ${JSON.stringify(id)}; known: ${Object.keys(PROFILES).join(', ')}`);
  return profile;
}

/** Decoded keys per provider, from `TIDEMARK_<PROVIDER>_SECRETS`-style comma-separated values. */
export type ProviderKeys = Partial<Record<ProviderId, Buffer[]>>;

export function keysFromSecrets(profile: ProviderProfile, secrets_csv: string): Buffer[] {
  const secrets = secrets_csv
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return secrets.map((secret, index) => {
    try {
      return profile.decodeSecret(secret);
    } catch (err) {
      throw new Error(`${profile.secrets_env} entry ${index + 1}: ${(err as Error).message}`);
    }
  });
}
