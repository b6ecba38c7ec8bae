/**
 * Stripe-style signatures (used by the `ledgerpay` profile): one header
 * `<Name>-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 hex over `{t}.{raw body}`,
 * keyed with the whole secret string as UTF-8 (not base64-decoded). Unknown schemes
 * such as `v0` are ignored. The header name is configurable per profile.
 */
import { signedTimestamp, verifyMatch } from './compare.js';
import { HEX_SHA256, timestampedHexSignature as signatureOf, utf8SecretKey } from './timestamped-hex.js';
import {
  SIGNATURE_HEADER_LENGTH_MAX,
  SIGNATURES_PER_HEADER_MAX,
  type SignatureVerifier,
  type VerifyInput,
  type VerifyResult,
} from './types.js';

export function createStripeStyle(signature_header: string): SignatureVerifier {
  const header_name = signature_header.toLowerCase();

  function verify(input: VerifyInput): VerifyResult {
    const header = input.headers(header_name);
    if (header === undefined || header === '') {
      return { ok: false, reason: 'signature_missing', message: `header ${signature_header} is required` };
    }
    if (header.length > SIGNATURE_HEADER_LENGTH_MAX) {
      return { ok: false, reason: 'signature_malformed', message: `header ${signature_header} is too long` };
    }
    let timestamp_raw: string | null = null;
    const provided: string[] = [];
    for (const item of header.split(',').slice(0, SIGNATURES_PER_HEADER_MAX + 1)) {
      const eq = item.indexOf('=');
      if (eq < 0) continue;
      const name = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).trim();
      if (name === 't' && timestamp_raw === null) timestamp_raw = value;
      else if (name === 'v1' && HEX_SHA256.test(value)) provided.push(value);
    }
    if (timestamp_raw === null) {
      return { ok: false, reason: 'timestamp_missing', message: `no t=<unix seconds> in ${signature_header}` };
    }
    const timestamp_s = signedTimestamp(timestamp_raw, `t in ${signature_header}`);
    if (typeof timestamp_s !== 'number') return timestamp_s;
    if (provided.length === 0) {
      return { ok: false, reason: 'signature_missing', message: `no v1 signature in ${signature_header}` };
    }
    return verifyMatch(
      input,
      provided,
      (key) => signatureOf(key, timestamp_raw, input.body),
      { timestamp_s, delivery_id: null },
      { timestamp: `t in ${signature_header}`, mismatch: `no v1 signature in ${signature_header} matches` },
    );
  }

  return {
    scheme: 'stripe-style',
    decodeSecret: (secret) => utf8SecretKey('stripe-style', secret),
    verify,
    sign({ body, key, timestamp_s }) {
      const timestamp = String(timestamp_s);
      return { [header_name]: `t=${timestamp},v1=${signatureOf(key, timestamp, body)}` };
    },
  };
}
