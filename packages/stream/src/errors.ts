/**
 * How the runtime reads a failure. Handlers steer with TransientError /
 * PermanentError / InfrastructureError (handler.ts); anything else is classified here.
 */
import { scrubSecrets } from '@tidemark/common';
import { InfrastructureError, PermanentError, TransientError } from './handler.js';

export type FailureKind = 'TRANSIENT' | 'PERMANENT' | 'INFRASTRUCTURE';

/** Connection-level error codes (Node sockets, Postgres SQLSTATE classes 08, 53, 57P). */
const INFRA_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300',
  '53400',
]);
const INFRA_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /socket hang up/i,
];
const CAUSE_DEPTH_MAX = 5;

export function classifyFailure(err: unknown): FailureKind {
  let current: unknown = err;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && current; depth++) {
    if (current instanceof InfrastructureError) return 'INFRASTRUCTURE';
    if (current instanceof PermanentError) return 'PERMANENT';
    if (current instanceof TransientError) return 'TRANSIENT';
    if (typeof current === 'object') {
      const code = (current as { code?: unknown }).code;
      if (typeof code === 'string' && INFRA_CODES.has(code)) return 'INFRASTRUCTURE';
      const message = (current as { message?: unknown }).message;
      if (typeof message === 'string' && INFRA_MESSAGES.some((re) => re.test(message))) return 'INFRASTRUCTURE';
      // AggregateError (e.g. ECONNREFUSED on both IPv4 and IPv6).
      const errors = (current as { errors?: unknown }).errors;
      if (Array.isArray(errors) && errors.some((e) => classifyFailure(e) === 'INFRASTRUCTURE')) return 'INFRASTRUCTURE';
    }
    current = (current as { cause?: unknown }).cause;
  }
  // Unknown failures (bugs, unexpected responses) are retried through the ladder, then dead-lettered.
  return 'TRANSIENT';
}

export const ERROR_STACK_CHARS_MAX = 2_000;
export const ERROR_MESSAGE_CHARS_MAX = 1_000;

/** The error as text for headers, dead letters, audit and logs: registered secrets scrubbed, bounded. */
export function errorMessage(err: unknown): string {
  const text = scrubSecrets(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  return text.length > ERROR_MESSAGE_CHARS_MAX ? `${text.slice(0, ERROR_MESSAGE_CHARS_MAX - 1)}…` : text;
}

export function errorStack(err: unknown): string | null {
  if (!(err instanceof Error) || !err.stack) return null;
  const stack = scrubSecrets(err.stack);
  return stack.length > ERROR_STACK_CHARS_MAX ? `${stack.slice(0, ERROR_STACK_CHARS_MAX - 1)}…` : stack;
}

/**
 * Runs a start-up step (migrations, first connections), retrying infrastructure
 * failures with backoff for up to `wait_ms_max` so a service started while Postgres or
 * Kafka restarts comes up instead of exiting. Other failures are thrown at once.
 */
export async function retryStartup<T>(
  what: string,
  fn: () => Promise<T>,
  opts: { wait_ms_max?: number; onRetry?: (err: unknown, delay_ms: number) => void } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.wait_ms_max ?? 60_000);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay_ms = Math.min(5_000, 200 * 2 ** attempt);
      if (classifyFailure(err) !== 'INFRASTRUCTURE' || Date.now() + delay_ms > deadline) {
        throw new Error(`${what} failed: ${errorMessage(err)}`, { cause: err });
      }
      opts.onRetry?.(err, delay_ms);
      await new Promise((r) => setTimeout(r, delay_ms));
    }
  }
}
