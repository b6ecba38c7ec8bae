/**
 * The request decision, as pure functions the HTTP adapter calls in order:
 *   provider known? (404) → source IP allowed? (403) → [adapter reads body ≤ limit (413)]
 *   → signature and timestamp (401) → content type, UTF-8, JSON, depth, schema (400)
 *   → accepted: a CanonicalEvent ready for Kafka.
 * Authentication comes before parsing so unauthenticated input is never parsed and an
 * unauthenticated caller learns nothing about the payload rules.
 */
import type { CanonicalEvent } from '@tidemark/common/records';
import { createHash } from 'node:crypto';
import { clientAddress, ipAllowed } from './ip.js';
import { parseJsonBody, JSON_DEPTH_MAX_DEFAULT } from './json-guard.js';
import type { Provider } from './profiles.js';
import type { HeaderLookup, VerifyFailure } from './signature/index.js';

export type RejectionCode =
  | 'unknown_provider'
  | 'ip_not_allowed'
  | 'body_too_large'
  // A failed signature or timestamp check (401), as the verifier words it.
  | VerifyFailure
  | 'unsupported_content_type'
  | 'invalid_utf8'
  | 'invalid_json'
  | 'json_too_deep'
  | 'schema_validation_failed';

export interface Rejection {
  status: 400 | 401 | 403 | 404 | 413;
  /** Machine-readable code: the `error` of the response body and the audit `reason`. */
  error: RejectionCode;
  /** Human text; never contains a secret, a signature or body content. */
  message: string;
  /** Provider event id when the body was authenticated and parsed far enough to know it. */
  event_id?: string;
  event_type?: string;
}

export function unknownProvider(provider_id: string): Rejection {
  const shown = /^[a-z0-9-]{1,64}$/.test(provider_id) ? provider_id : '(invalid id)';
  return { status: 404, error: 'unknown_provider', message: `no provider profile "${shown}"` };
}

export function bodyTooLarge(limit_bytes: number): Rejection {
  return { status: 413, error: 'body_too_large', message: `body exceeds ${limit_bytes} bytes` };
}

/** Resolves the client address and checks the provider's allowlist. */
export function checkSource(
  provider: Provider,
  peer: string,
  forwarded_for: string | undefined,
): { ok: true; source_ip: string } | { ok: false; source_ip: string; rejection: Rejection } {
  const source_ip = clientAddress(peer, forwarded_for, provider.trusted_proxies);
  if (ipAllowed(source_ip, provider.ip_allowlist)) return { ok: true, source_ip };
  return {
    ok: false,
    source_ip,
    rejection: { status: 403, error: 'ip_not_allowed', message: `source address is not on the allowlist of provider ${provider.id}` },
  };
}

const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json$/;

/** No Content-Type, application/json or application/*+json (any parameters) is JSON; anything else is not. */
export function isJsonContentType(content_type: string | undefined): boolean {
  if (content_type === undefined || content_type.trim() === '') return true;
  const media = content_type.split(';', 1)[0]!.trim().toLowerCase();
  return JSON_MEDIA_TYPE.test(media);
}

export function sha256Hex(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

export interface IntakeRequest {
  headers: HeaderLookup;
  content_type: string | undefined;
  body: Buffer;
  body_sha256: string;
  now_ms: number;
  ingress_id: string;
  json_depth_max?: number;
}

export type IntakeDecision =
  { ok: true; event: CanonicalEvent; known_type: boolean; key_index: number } | { ok: false; rejection: Rejection };

/** Authenticates and normalizes one webhook whose body is already within the size limit. */
export function verifyAndNormalize(provider: Provider, request: IntakeRequest): IntakeDecision {
  const verified = provider.verifier.verify({
    headers: request.headers,
    body: request.body,
    keys: provider.keys,
    now_ms: request.now_ms,
    tolerance_s: provider.tolerance_s,
  });
  if (!verified.ok) {
    // no_secret_configured is reported to the caller as an ordinary invalid signature.
    const error = verified.reason === 'no_secret_configured' ? 'signature_invalid' : verified.reason;
    return {
      ok: false,
      rejection: {
        status: 401,
        error,
        message: verified.reason === 'no_secret_configured' ? 'signature could not be verified' : verified.message,
      },
    };
  }
  if (!isJsonContentType(request.content_type)) {
    return {
      ok: false,
      rejection: { status: 400, error: 'unsupported_content_type', message: 'Content-Type must be application/json' },
    };
  }
  const parsed = parseJsonBody(request.body, request.json_depth_max ?? JSON_DEPTH_MAX_DEFAULT);
  if (!parsed.ok) return { ok: false, rejection: { status: 400, error: parsed.reason, message: parsed.message } };
  const mapped = provider.mapper(parsed.value, {
    provider: provider.id,
    ingress_id: request.ingress_id,
    received_at_ms: request.now_ms,
    body_sha256: request.body_sha256,
  });
  if (!mapped.ok) {
    return { ok: false, rejection: { status: 400, error: mapped.reason, message: mapped.message, ...eventFacts(parsed.value) } };
  }
  return { ok: true, event: mapped.event, known_type: mapped.known_type, key_index: verified.key_index };
}

/** Best-effort event id/type of an authenticated body that failed validation (for the audit record). */
function eventFacts(value: unknown): { event_id?: string; event_type?: string } {
  if (typeof value !== 'object' || value === null) return {};
  const v = value as Record<string, unknown>;
  const id = [v.id, v.notification_id].find((x) => typeof x === 'string' && x.length <= 256) as string | undefined;
  const type = [v.type, v.kind].find((x) => typeof x === 'string' && x.length <= 128) as string | undefined;
  return { ...(id !== undefined ? { event_id: id } : {}), ...(type !== undefined ? { event_type: type } : {}) };
}
