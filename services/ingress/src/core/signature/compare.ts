import { timingSafeEqual } from 'node:crypto';
import { parseUnixSeconds, withinTolerance, type VerifyInput, type VerifyResult } from './types.js';

/**
 * Constant-time equality of two ASCII strings (signatures in their wire encoding).
 * Lengths are not secret (every valid signature of a scheme has the same length), so a
 * length mismatch returns early; equal lengths are compared with crypto.timingSafeEqual.
 * Comparing the encoded strings (not decoded bytes) matters: lenient base64 decoders
 * ignore padding bits, so two different strings could decode to the same bytes.
 */
export function constantTimeEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(provided, 'latin1');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/**
 * Index of the first key (secret rotation list) whose signature matches any of the
 * provided signatures, or null. Every candidate is compared for a key (no early exit
 * on the first mismatch), each comparison in constant time.
 */
export function matchingKeyIndex<K>(keys: readonly K[], provided: readonly string[], signatureOf: (key: K) => string): number | null {
  for (let key_index = 0; key_index < keys.length; key_index++) {
    const expected = signatureOf(keys[key_index]!);
    let matched = false;
    for (const candidate of provided) matched = constantTimeEqual(expected, candidate) || matched;
    if (matched) return key_index;
  }
  return null;
}

/**
 * The signed timestamp (unix seconds) of a scheme's header, or the rejection; `where` names the
 * header (or the part of one) it was read from.
 */
export function signedTimestamp(raw: string, where: string): number | VerifyResult {
  const timestamp_s = parseUnixSeconds(raw);
  if (timestamp_s === null) return { ok: false, reason: 'timestamp_invalid', message: `${where} must be unix seconds` };
  return timestamp_s;
}

/**
 * How every scheme ends once its headers are parsed: a configured key must produce one of the
 * `provided` signatures, then the (signed) timestamp must be within tolerance. `names` word the
 * failures: the timestamp's place and the message of a mismatch.
 */
export function verifyMatch(
  input: VerifyInput,
  provided: readonly string[],
  signatureOf: (key: Buffer) => string,
  signed: { timestamp_s: number; delivery_id: string | null },
  names: { timestamp: string; mismatch: string },
): VerifyResult {
  if (input.keys.length === 0) {
    return { ok: false, reason: 'no_secret_configured', message: 'signature could not be verified' };
  }
  const key_index = matchingKeyIndex(input.keys, provided, signatureOf);
  if (key_index === null) return { ok: false, reason: 'signature_invalid', message: names.mismatch };
  if (!withinTolerance(signed.timestamp_s, input.now_ms, input.tolerance_s)) {
    return {
      ok: false,
      reason: 'timestamp_out_of_tolerance',
      message: `${names.timestamp} is more than ${input.tolerance_s} s away from the server clock`,
    };
  }
  return { ok: true, timestamp_s: signed.timestamp_s, key_index, delivery_id: signed.delivery_id };
}
