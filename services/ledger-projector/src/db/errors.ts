/** Classifies Postgres errors so the stream runtime steers them correctly. */
import { InfrastructureError } from '@tidemark/stream';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  // Postgres: connection exceptions (08xxx), admin/crash shutdown, cannot connect now, too many connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08P01',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** Races between concurrent writers (a rebalance zombie): retrying the batch resolves them. */
const RETRYABLE_CODES = new Set(['23505' /* unique_violation */, '40001' /* serialization */, '40P01' /* deadlock */]);

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function isConnectionError(err: unknown): boolean {
  const code = codeOf(err);
  if (code && CONNECTION_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|terminating connection/i.test(
    message,
  );
}

export function isRetryableRace(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** Wraps connection-level failures as InfrastructureError (the runtime pauses and retries in place). */
export function asInfrastructureError(err: unknown, what: string): unknown {
  if (err instanceof InfrastructureError) return err;
  if (isConnectionError(err)) {
    return new InfrastructureError(`${what}: Postgres unreachable (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  return err;
}
