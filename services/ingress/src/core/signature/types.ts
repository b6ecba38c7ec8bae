/** Signature verification is a pure function of the request's headers, raw body, secrets and clock. */

export type SignatureScheme = 'standard-webhooks' | 'stripe-style' | 'hex-hmac';

/** Lower-cased header name → value (first value when repeated). */
export type HeaderLookup = (name: string) => string | undefined;

export interface VerifyInput {
  headers: HeaderLookup;
  body: Buffer;
  /** Decoded keys, one per configured secret (rotation: any may match). */
  keys: readonly Buffer[];
  now_ms: number;
  tolerance_s: number;
}

export type VerifyFailure =
  | 'signature_missing'
  | 'signature_malformed'
  | 'signature_invalid'
  | 'timestamp_missing'
  | 'timestamp_invalid'
  | 'timestamp_out_of_tolerance'
  | 'no_secret_configured';

export type VerifyResult =
  { ok: true; timestamp_s: number; key_index: number; delivery_id: string | null } | { ok: false; reason: VerifyFailure; message: string };

export interface SignatureVerifier {
  scheme: SignatureScheme;
  /** Turns a configured secret string into the HMAC key; throws with a message naming the problem (never the secret). */
  decodeSecret(secret: string): Buffer;
  verify(input: VerifyInput): VerifyResult;
  /** Produces a valid header set for `body` (used by the simulator, tests and the bench). */
  sign(input: { body: Buffer; key: Buffer; timestamp_s: number; delivery_id: string }): Record<string, string>;
}

/** Limits on attacker-controlled signature headers. */
export const SIGNATURE_HEADER_LENGTH_MAX = 2_048;
export const SIGNATURES_PER_HEADER_MAX = 16;

/** Timestamps are unix seconds written as 1–12 decimal digits (no sign, exponent or fraction). */
export function parseUnixSeconds(raw: string): number | null {
  if (!/^[0-9]{1,12}$/.test(raw)) return null;
  return Number(raw);
}

/** |now - ts| within tolerance, both past and future (clock skew both ways). */
export function withinTolerance(timestamp_s: number, now_ms: number, tolerance_s: number): boolean {
  return Math.abs(now_ms - timestamp_s * 1000) <= tolerance_s * 1000;
}
