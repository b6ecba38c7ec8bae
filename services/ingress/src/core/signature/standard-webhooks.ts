/**
 * Standard Webhooks (standardwebhooks.com), the `generic` provider's scheme (DESIGN 3.2).
 * Signed content: `{webhook-id}.{webhook-timestamp}.{raw body}`, HMAC-SHA256, header
 * `webhook-signature` = space-separated `v1,<base64>` entries; any one match passes.
 * Secret: `whsec_<base64 key>`.
 */
import { createHmac } from 'node:crypto';
import { signedTimestamp, verifyMatch } from './compare.js';
import {
  SIGNATURE_HEADER_LENGTH_MAX,
  SIGNATURES_PER_HEADER_MAX,
  type SignatureVerifier,
  type VerifyInput,
  type VerifyResult,
} from './types.js';

const SECRET_PREFIX = 'whsec_';
const KEY_BYTES_MIN = 16;
const KEY_BYTES_MAX = 128;
const WEBHOOK_ID_LENGTH_MAX = 256;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function decodeStandardWebhooksSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) {
    throw new Error('standard-webhooks secret must be "whsec_" followed by base64');
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < KEY_BYTES_MIN || key.length > KEY_BYTES_MAX) {
    throw new Error(`standard-webhooks key must decode to ${KEY_BYTES_MIN}..${KEY_BYTES_MAX} bytes`);
  }
  return key;
}

function signatureOf(key: Buffer, delivery_id: string, timestamp: string, body: Buffer): string {
  return createHmac('sha256', key).update(`${delivery_id}.${timestamp}.`).update(body).digest('base64');
}

function verify(input: VerifyInput): VerifyResult {
  const delivery_id = input.headers('webhook-id');
  const timestamp_raw = input.headers('webhook-timestamp');
  const signature_header = input.headers('webhook-signature');
  if (signature_header === undefined || signature_header === '' || delivery_id === undefined || delivery_id === '') {
    return { ok: false, reason: 'signature_missing', message: 'headers webhook-id and webhook-signature are required' };
  }
  if (timestamp_raw === undefined || timestamp_raw === '') {
    return { ok: false, reason: 'timestamp_missing', message: 'header webhook-timestamp is required' };
  }
  if (signature_header.length > SIGNATURE_HEADER_LENGTH_MAX || delivery_id.length > WEBHOOK_ID_LENGTH_MAX) {
    return { ok: false, reason: 'signature_malformed', message: 'webhook-signature or webhook-id header is too long' };
  }
  const timestamp_s = signedTimestamp(timestamp_raw, 'webhook-timestamp');
  if (typeof timestamp_s !== 'number') return timestamp_s;
  if (input.keys.length === 0) {
    return { ok: false, reason: 'no_secret_configured', message: 'signature could not be verified' };
  }
  const provided = signature_header
    .split(' ')
    .filter((entry) => entry.length > 0)
    .slice(0, SIGNATURES_PER_HEADER_MAX)
    .flatMap((entry) => {
      const comma = entry.indexOf(',');
      if (comma < 0) return [];
      // Only v1 (symmetric HMAC) is defined for this scheme; v1a (asymmetric) and others are ignored.
      return entry.slice(0, comma) === 'v1' ? [entry.slice(comma + 1)] : [];
    });
  if (provided.length === 0) {
    return { ok: false, reason: 'signature_invalid', message: 'no v1 signature in webhook-signature' };
  }
  return verifyMatch(
    input,
    provided,
    (key) => signatureOf(key, delivery_id, timestamp_raw, input.body),
    { timestamp_s, delivery_id },
    { timestamp: 'webhook-timestamp', mismatch: 'no signature in webhook-signature matches' },
  );
}

export const standardWebhooks: SignatureVerifier = {
  scheme: 'standard-webhooks',
  decodeSecret: decodeStandardWebhooksSecret,
  verify,
  sign({ body, key, timestamp_s, delivery_id }) {
    const timestamp = String(timestamp_s);
    return {
      'webhook-id': delivery_id,
      'webhook-timestamp': timestamp,
      'webhook-signature': `v1,${signatureOf(key, delivery_id, timestamp, body)}`,
    };
  },
};
