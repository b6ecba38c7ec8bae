/**
 * Sends signed webhook deliveries over HTTP/1.1 keep-alive connections (undici Pool).
 * One attempt = fresh timestamp and signature over the same body bytes; the outcome is
 * classified for the scheduler (2xx ack, other status rejected, timeout/connection error).
 */
import { Pool } from 'undici';
import type { Delivery, DeliveryOutcome } from '../core/delivery.js';
import { PROFILES, type ProviderKeys, type ProviderProfile } from '../profiles/profiles.js';

export interface SenderOptions {
  /** Ingress base URL, e.g. http://127.0.0.1:8080 */
  base_url: string;
  keys: ProviderKeys;
  connections: number;
  timeout_ms: number;
  sign_with_all_secrets: boolean;
  /** Wall clock for signature timestamps. */
  now_ms?: () => number;
}

export interface SendResult {
  outcome: DeliveryOutcome;
  latency_us: number;
}

const RETRY_AFTER_MS_MAX = 3_600_000;
const RESPONSE_BODY_BYTES_MAX = 64 * 1024;

/** Retry-After as delay seconds or an HTTP date → ms from now (null when absent or unreadable). */
export function parseRetryAfter_ms(value: string | undefined, now_ms: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^[0-9]{1,7}$/.test(trimmed)) return Math.min(RETRY_AFTER_MS_MAX, Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.min(RETRY_AFTER_MS_MAX, at - now_ms));
}

export function classifyError(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT')
    return 'timeout';
  const code = e?.code ?? e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection_reset';
  return 'network_error';
}

export class HttpWebhookSender {
  private readonly pool: Pool;
  private readonly now_ms: () => number;

  constructor(private readonly options: SenderOptions) {
    const url = new URL(options.base_url);
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeout_ms,
      bodyTimeout: options.timeout_ms,
    });
    this.now_ms = options.now_ms ?? Date.now;
    for (const [provider, keys] of Object.entries(options.keys)) {
      if (!keys || keys.length === 0) throw new Error(`no secret configured for provider ${provider}`);
    }
  }

  private basePath(): string {
    const path = new URL(this.options.base_url).pathname;
    return path.endsWith('/') ? path.slice(0, -1) : path;
  }

  async send(delivery: Delivery): Promise<SendResult> {
    const profile: ProviderProfile = PROFILES[delivery.event.provider];
    const keys = this.options.keys[delivery.event.provider];
    if (!keys || keys.length === 0) {
      throw new Error(`no secret for provider ${delivery.event.provider}; set ${profile.secrets_env}`);
    }
    const body = profile.body(delivery.event);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'tidemark-provider-simulator/0.1',
      ...profile.sign({
        body,
        event: delivery.event,
        keys,
        timestamp_s: Math.floor(this.now_ms() / 1000),
        sign_with_all: this.options.sign_with_all_secrets,
      }),
    };
    const started = process.hrtime.bigint();
    try {
      const response = await this.pool.request({
        method: 'POST',
        path: `${this.basePath()}${profile.path}`,
        headers,
        body,
        // Total attempt deadline (undici's own headers/body timeouts are coarse and per phase).
        signal: AbortSignal.timeout(this.options.timeout_ms),
      });
      // Drain (bounded) so the connection can be reused.
      let received = 0;
      for await (const chunk of response.body) {
        received += (chunk as Buffer).length;
        if (received > RESPONSE_BODY_BYTES_MAX) {
          response.body.destroy();
          break;
        }
      }
      const latency_us = Number(process.hrtime.bigint() - started) / 1000;
      const status = response.statusCode;
      if (status >= 200 && status < 300) return { outcome: { kind: 'ack', status }, latency_us };
      const retry_after = response.headers['retry-after'];
      return {
        outcome: {
          kind: 'rejected',
          status,
          retry_after_ms: parseRetryAfter_ms(Array.isArray(retry_after) ? retry_after[0] : retry_after, this.now_ms()),
        },
        latency_us,
      };
    } catch (err) {
      return { outcome: { kind: 'error', error: classifyError(err) }, latency_us: Number(process.hrtime.bigint() - started) / 1000 };
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
