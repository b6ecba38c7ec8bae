/** The projector's Postgres pool: bounded size, connect and statement timeouts. */
import { guardPool } from '@tidemark/common';
import pg from 'pg';

export const PG_POOL_MAX_DEFAULT = 8;

export function createLedgerPool(opts: {
  database_url: string;
  pool_max?: number;
  statement_timeout_ms?: number;
  connect_timeout_ms?: number;
  application_name?: string;
}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.database_url,
    max: opts.pool_max ?? PG_POOL_MAX_DEFAULT,
    connectionTimeoutMillis: opts.connect_timeout_ms ?? 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: opts.statement_timeout_ms ?? 60_000,
    application_name: opts.application_name ?? 'tidemark-ledger-projector',
  });
  // An idle client losing its connection (Postgres restart) must not crash the process;
  // the next query fails and is classified as an InfrastructureError.
  return guardPool(pool);
}
