/**
 * Postgres pool hardening. node-postgres emits 'error' on a client when its
 * connection dies (e.g. a Postgres restart); a pool only listens while a client is
 * idle, so a checked-out client without a listener crashes the process with an
 * unhandled 'error' event. Every Tidemark pool gets a listener on every client once,
 * when the client is created; the query in flight still fails and is handled
 * (InfrastructureError → block in place and retry).
 */
import type pg from 'pg';

export function guardPool<P extends pg.Pool>(pool: P, onError?: (err: Error) => void): P {
  const report = (err: Error) => onError?.(err);
  pool.on('error', report);
  pool.on('connect', (client) => {
    client.on('error', report);
  });
  return pool;
}
