/** The projector's Postgres pool: bounded size, connect and statement timeouts. */
import { createPool } from '@tidemark/common';
import type pg from 'pg';

export const PG_POOL_MAX_DEFAULT = 8;

export function createLedgerPool(opts: {
  database_url: string;
  pool_max?: number;
  statement_timeout_ms?: number;
  connect_timeout_ms?: number;
  application_name?: string;
}): pg.Pool {
  // An idle client losing its connection (Postgres restart) must not crash the process;
  // the next query fails and is classified as an InfrastructureError.
  return createPool({
    database_url: opts.database_url,
    max: opts.pool_max ?? PG_POOL_MAX_DEFAULT,
    connect_timeout_ms: opts.connect_timeout_ms ?? 5_000,
    statement_timeout_ms: opts.statement_timeout_ms ?? 60_000,
    application_name: opts.application_name ?? 'tidemark-ledger-projector',
  });
}
