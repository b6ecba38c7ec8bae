/**
 * Adapter for an external address risk-scoring API in the style of blockchain-analytics
 * address screening: `POST {base}/v1/screen {address, network, asset}` →
 * `{address, risk_score: "0".."100" (decimal string), category, ...}`.
 *
 * Failure policy — a screening that could not complete never ALLOWs:
 *  - timeout, connection error, 5xx, 429, auth failure, malformed answer, open circuit
 *    → TransientError, so the stream runtime's retry ladder tries again later;
 *  - 400/404/422 ("cannot score this address") → an 'unscoreable' assessment that the
 *    rules turn into REVIEW; the API did answer, so it does not trip the breaker.
 * A circuit breaker (opossum) stops hammering an API that is down: while open,
 * calls fail fast and their events wait in the ladder.
 */
import CircuitBreaker from 'opossum';
import { z } from 'zod';
import { Decimal } from '@tidemark/common';
import { TransientError } from '@tidemark/stream';
import type { RiskAssessment } from '../core/screen.js';

export const RISK_RESPONSE_BYTES_MAX = 64 * 1024;

export interface RiskClientOptions {
  base_url: string;
  api_key?: string | undefined;
  timeout_ms: number;
  /** Breaker opens when this % of calls in the rolling window failed (after volume_threshold calls). */
  breaker_error_threshold_pct: number;
  breaker_volume_threshold: number;
  breaker_rolling_window_ms: number;
  /** How long the breaker stays open before letting one trial call through. */
  breaker_reset_ms: number;
  /** Assessments are cached per (network, address) for this long; 0 disables. */
  cache_ttl_ms: number;
  cache_entries_max: number;
}

export interface RiskQuery {
  address: string;
  network: string | null;
  asset: string | null;
}

const scoreSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,2})(\.[0-9]{1,6})?$/, 'decimal string')
  .refine((v) => new Decimal(v).lte(100), 'at most 100');

const responseSchema = z.object({
  address: z.string(),
  risk_score: scoreSchema,
  category: z.string().max(100).nullable().optional(),
});

export type BreakerState = 'closed' | 'open' | 'half_open';

class RetryableRiskError extends Error {
  override readonly name = 'RetryableRiskError';
}

export class RiskApiClient {
  readonly #breaker: CircuitBreaker<[RiskQuery], RiskAssessment>;
  readonly #cache = new Map<string, { at_ms: number; value: RiskAssessment }>();
  #calls = 0;

  constructor(private readonly opts: RiskClientOptions) {
    this.#breaker = new CircuitBreaker((query: RiskQuery) => this.#request(query), {
      timeout: false, // the request has its own AbortSignal timeout, which really cancels it
      errorThresholdPercentage: opts.breaker_error_threshold_pct,
      volumeThreshold: opts.breaker_volume_threshold,
      rollingCountTimeout: opts.breaker_rolling_window_ms,
      resetTimeout: opts.breaker_reset_ms,
    });
  }

  get breakerState(): BreakerState {
    if (this.#breaker.opened) return 'open';
    if (this.#breaker.halfOpen) return 'half_open';
    return 'closed';
  }

  /** HTTP calls made (not counting cache hits or fast failures of an open breaker). */
  get calls(): number {
    return this.#calls;
  }

  onStateChange(listener: (state: BreakerState) => void): void {
    this.#breaker.on('open', () => listener('open'));
    this.#breaker.on('halfOpen', () => listener('half_open'));
    this.#breaker.on('close', () => listener('closed'));
  }

  async assess(query: RiskQuery): Promise<RiskAssessment> {
    const cache_key = `${query.network ?? ''}\u0000${query.address}`;
    const now_ms = Date.now();
    const cached = this.#cache.get(cache_key);
    if (cached && now_ms - cached.at_ms < this.opts.cache_ttl_ms) return cached.value;
    let value: RiskAssessment;
    try {
      value = await this.#breaker.fire(query);
    } catch (err) {
      if (err instanceof TransientError) throw err;
      const code = (err as { code?: string }).code;
      if (code === 'EOPENBREAKER') {
        throw new TransientError(`risk API circuit is open (recent calls to ${this.opts.base_url} failed); retry later`, { cause: err });
      }
      throw new TransientError(`risk API call failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (this.opts.cache_ttl_ms > 0) {
      if (this.#cache.size >= this.opts.cache_entries_max) {
        // Drop the oldest entry (Map keeps insertion order).
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(cache_key, { at_ms: now_ms, value });
    }
    return value;
  }

  /** Is the API answering? (for /readyz; does not go through the breaker) */
  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(new URL('/healthz', this.opts.base_url), { signal: AbortSignal.timeout(this.opts.timeout_ms) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  shutdown(): void {
    this.#breaker.shutdown();
  }

  async #request(query: RiskQuery): Promise<RiskAssessment> {
    this.#calls++;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.opts.api_key) headers.authorization = `Bearer ${this.opts.api_key}`;
    let response: Response;
    try {
      response = await fetch(new URL('/v1/screen', this.opts.base_url), {
        method: 'POST',
        headers,
        body: JSON.stringify({ address: query.address, network: query.network, asset: query.asset }),
        signal: AbortSignal.timeout(this.opts.timeout_ms),
      });
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new RetryableRiskError(`no answer within ${this.opts.timeout_ms} ms`);
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new RetryableRiskError(`cannot reach ${this.opts.base_url}${cause ? ` (${cause})` : ''}`);
    }
    const body = await readBounded(response);
    if (response.status === 400 || response.status === 404 || response.status === 422) {
      return { address: query.address, status: 'unscoreable', detail: `risk API answered ${response.status}: ${errorCode(body)}` };
    }
    if (response.status === 401 || response.status === 403) {
      throw new RetryableRiskError(`risk API refused our credentials (${response.status}); check TIDEMARK_RISK_API_KEY`);
    }
    if (!response.ok) throw new RetryableRiskError(`risk API answered ${response.status}`);
    let parsed: z.infer<typeof responseSchema>;
    try {
      parsed = responseSchema.parse(JSON.parse(body));
    } catch {
      throw new RetryableRiskError('risk API answered 200 with a body that is not a valid screening result');
    }
    if (parsed.address.toLowerCase() !== query.address.toLowerCase()) {
      throw new RetryableRiskError('risk API answered for a different address');
    }
    return { address: query.address, status: 'scored', risk_score: parsed.risk_score, category: parsed.category ?? null };
  }
}

async function readBounded(response: Response): Promise<string> {
  const text = await response.text();
  if (text.length > RISK_RESPONSE_BYTES_MAX) throw new RetryableRiskError(`risk API answer over ${RISK_RESPONSE_BYTES_MAX} bytes`);
  return text;
}

function errorCode(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error.slice(0, 100) : 'no error code';
  } catch {
    return 'no error code';
  }
}
