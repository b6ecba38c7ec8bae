/**
 * Produces correctly signed webhook headers for a provider profile, the way that provider
 * would send them. Used by the provider simulator, the tests and the bench.
 */
import { randomUUID } from 'node:crypto';
import type { ProfileSpec } from './core/profiles.js';
import { verifierFor } from './core/profiles.js';

export interface SignOptions {
  /** Unix seconds; default now. */
  timestamp_s?: number;
  /** Standard Webhooks `webhook-id` (the delivery/message id); default a random one. */
  delivery_id?: string;
}

/** Headers (lower-case names, content-type included) for `body` signed with `secret` under `scheme`. */
export function signWebhook(
  scheme: ProfileSpec['scheme'],
  secret: string,
  body: string | Buffer,
  opts: SignOptions = {},
): Record<string, string> {
  const verifier = verifierFor(scheme);
  const headers = verifier.sign({
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    key: verifier.decodeSecret(secret),
    timestamp_s: opts.timestamp_s ?? Math.floor(Date.now() / 1000),
    delivery_id: opts.delivery_id ?? `msg_${randomUUID().replace(/-/g, '')}`,
  });
  return { 'content-type': 'application/json', ...headers };
}

/** A fresh random Standard Webhooks secret (`whsec_` + 32 random bytes, base64). */
export function generateWhsecSecret(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return `whsec_${Buffer.from(bytes).toString('base64')}`;
}
