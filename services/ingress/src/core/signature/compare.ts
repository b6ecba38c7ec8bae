import { timingSafeEqual } from 'node:crypto';

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
