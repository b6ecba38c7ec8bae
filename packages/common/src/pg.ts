/**
 * Postgres pool hardening. node-postgres emits 'error' on a client when its
 * connection dies (e.g. a Postgres restart); a pool only listens while a client is
 * idle, so a checked-out client without a listener crashes the process with an
 * unhandled 'error' event. Every Tidemark pool gets a listener on every client once,
 * when the client is created; the query in flight still fails and is handled
 * (InfrastructureError → block in place and retry).
 */
import pg from 'pg';

const PgPool = pg.Pool;

export function guardPool<P extends pg.Pool>(pool: P, onError?: (err: Error) => void): P {
  const report = (err: Error) => onError?.(err);
  pool.on('error', report);
  pool.on('connect', (client) => {
    client.on('error', report);
  });
  return pool;
}

export interface PoolOptions {
  database_url: string;
  /** Connections at most (default 10). */
  max?: number;
  /** Giving up on a connection attempt (default 5 s): a pool never waits forever for a server that is restarting. */
  connect_timeout_ms?: number;
  /** Server-side statement_timeout (default 30 s). The client also abandons a query 5 s after it (a dead socket). */
  statement_timeout_ms?: number;
  application_name?: string;
  onError?: (err: Error) => void;
}

/**
 * The one way Tidemark builds a Postgres pool: bounded, with connect, statement and
 * client-side query timeouts (so no await on Postgres can hang forever, e.g. across a
 * server restart), idle connections closed after 30 s, guarded against 'error' events.
 */
export function createPool(opts: PoolOptions): pg.Pool {
  const statement_timeout = opts.statement_timeout_ms ?? 30_000;
  const pool = new PgPool({
    connectionString: opts.database_url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connect_timeout_ms ?? 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout,
    query_timeout: statement_timeout + 5_000,
    ...(opts.application_name ? { application_name: opts.application_name } : {}),
  });
  return guardPool(pool, opts.onError);
}
