/**
 * Integration-test support: a fresh Postgres database per test run
 * (CREATE DATABASE ledger_test_<random> on the server of TIDEMARK_DATABASE_URL, common's freshDatabase),
 * migrated, dropped afterwards.
 */
import type pg from 'pg';
import { freshDatabase } from '@tidemark/common/testing';
import { runMigrations } from '../db/migrate.js';
import { createLedgerPool } from '../db/pool.js';

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(opts: { migrate?: boolean; pool_max?: number } = {}): Promise<TestDatabase> {
  const db = await freshDatabase('ledger_test');
  if (opts.migrate !== false) await runMigrations(db.url);
  const pool = createLedgerPool({ database_url: db.url, pool_max: opts.pool_max ?? 6 });
  return {
    name: db.name,
    url: db.url,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      await db.drop();
    },
  };
}
