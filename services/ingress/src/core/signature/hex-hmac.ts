/**
 * Hex HMAC with a separate timestamp header (used by the `custodian-x` profile, modeled
 * on custody platforms' notification signing): `X-Signature: <hex HMAC-SHA256>` over
 * `{timestamp}.{raw body}`, `X-Timestamp: <unix seconds>`, key = the secret as UTF-8.
 * Header names are configurable per profile. The timestamp is inside the signed content,
 * so a captured request cannot be replayed with a fresh timestamp.
 */
import { signedTimestamp, verifyMatch } from './compare.js';
import { HEX_SHA256, timestampedHexSignature as signatureOf, utf8SecretKey } from './timestamped-hex.js';
import { SIGNATURES_PER_HEADER_MAX, type SignatureVerifier, type VerifyInput, type VerifyResult } from './types.js';

/** Rotation: a provider may send several comma-separated signatures while it rolls keys. */
const SIGNATURE_LIST_LENGTH_MAX = 65 * SIGNATURES_PER_HEADER_MAX;

export function createHexHmac(signature_header: string, timestamp_header: string): SignatureVerifier {
  const sig_name = signature_header.toLowerCase();
  const ts_name = timestamp_header.toLowerCase();

  function verify(input: VerifyInput): VerifyResult {
    const header = input.headers(sig_name);
    const timestamp_raw = input.headers(ts_name);
    if (header === undefined || header === '') {
      return { ok: false, reason: 'signature_missing', message: `header ${signature_header} is required` };
    }
    if (timestamp_raw === undefined || timestamp_raw === '') {
      return { ok: false, reason: 'timestamp_missing', message: `header ${timestamp_header} is required` };
    }
    if (header.length > SIGNATURE_LIST_LENGTH_MAX) {
      return { ok: false, reason: 'signature_malformed', message: `header ${signature_header} is too long` };
    }
    const timestamp_s = signedTimestamp(timestamp_raw, timestamp_header);
    if (typeof timestamp_s !== 'number') return timestamp_s;
    const provided = header
      .split(',')
      .map((s) => s.trim())
      .filter((s) => HEX_SHA256.test(s));
    if (provided.length === 0) {
      return { ok: false, reason: 'signature_malformed', message: `${signature_header} must be lower-case hex HMAC-SHA256` };
    }
    return verifyMatch(
      input,
      provided,
      (key) => signatureOf(key, timestamp_raw, input.body),
      { timestamp_s, delivery_id: null },
      { timestamp: timestamp_header, mismatch: `${signature_header} does not match` },
    );
  }

  return {
    scheme: 'hex-hmac',
    decodeSecret: (secret) => utf8SecretKey('hex-hmac', secret),
    verify,
    sign({ body, key, timestamp_s }) {
      const timestamp = String(timestamp_s);
      return { [sig_name]: signatureOf(key, timestamp, body), [ts_name]: timestamp };
    },
  };
}
