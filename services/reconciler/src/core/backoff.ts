/**
 * Bounded exponential backoff for the statements client: which failures are worth
 * retrying, and how long to wait before the next attempt.
 */

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  attempts_max: number;
  delay_ms_min: number;
  delay_ms_max: number;
  factor: number;
  /** Share of the delay randomised (0..1), so many clients do not retry in step. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts_max: 6, delay_ms_min: 250, delay_ms_max: 10_000, factor: 2, jitter: 0.2 };

/** Retry-After beyond this is not honoured literally (we would rather fail and say so). */
export const RETRY_AFTER_MS_MAX = 60_000;

/** HTTP statuses that say "try again later" rather than "your request is wrong". */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);
}

/** Retry-After as seconds or an HTTP date; null when absent or unparsable. */
export function parseRetryAfter(value: string | null | undefined, now_ms: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, RETRY_AFTER_MS_MAX);
  const at = Date.parse(trimmed);
  if (!Number.isFinite(at)) return null;
  return Math.min(Math.max(at - now_ms, 0), RETRY_AFTER_MS_MAX);
}

/**
 * Delay before attempt `failed_attempts + 1`: min * factor^(n-1), capped, with jitter;
 * a server's Retry-After raises it (never lowers it), still capped by RETRY_AFTER_MS_MAX.
 */
export function retryDelayMs(policy: RetryPolicy, failed_attempts: number, random01: number, retry_after_ms: number | null = null): number {
  if (failed_attempts < 1) throw new Error('invariant: retryDelayMs needs at least one failed attempt');
  const exponential = Math.min(policy.delay_ms_min * policy.factor ** (failed_attempts - 1), policy.delay_ms_max);
  const jittered = exponential * (1 - policy.jitter + 2 * policy.jitter * Math.min(Math.max(random01, 0), 1));
  const base = Math.round(Math.min(jittered, policy.delay_ms_max));
  return retry_after_ms === null ? base : Math.max(base, Math.min(retry_after_ms, RETRY_AFTER_MS_MAX));
}
