/**
 * What the two "`{timestamp}.{raw body}` → hex HMAC-SHA256, keyed with the secret as
 * UTF-8" schemes share (stripe-style and hex-hmac); they differ only in headers.
 */
import { createHmac } from 'node:crypto';

const SECRET_LENGTH_MIN = 16;
const SECRET_LENGTH_MAX = 256;
export const HEX_SHA256 = /^[0-9a-f]{64}$/;

export function timestampedHexSignature(key: Buffer, timestamp: string, body: Buffer): string {
  return createHmac('sha256', key).update(`${timestamp}.`).update(body).digest('hex');
}

/** The secret string itself (not base64-decoded) is the key; its length is bounded. */
export function utf8SecretKey(scheme: string, secret: string): Buffer {
  if (secret.length < SECRET_LENGTH_MIN || secret.length > SECRET_LENGTH_MAX) {
    throw new Error(`${scheme} secret must be ${SECRET_LENGTH_MIN}..${SECRET_LENGTH_MAX} characters`);
  }
  return Buffer.from(secret, 'utf8');
}
