/**
 * Integration-test support: a fresh Postgres database per test run
 * (CREATE DATABASE ledger_test_<random>), migrated, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { runMigrations } from '../db/migrate.js';
import { createLedgerPool } from '../db/pool.js';

export const DROP_ATTEMPTS_MAX = 5;
export const TEST_DATABASE_URL = process.env.TIDEMARK_DATABASE_URL ?? 'postgres://tidemark:tidemark@127.0.0.1:55432/tidemark';

export function databaseUrlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(opts: { migrate?: boolean; pool_max?: number } = {}): Promise<TestDatabase> {
  const name = `ledger_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrlFor(TEST_DATABASE_URL, name);
  if (opts.migrate !== false) await runMigrations(url);
  const pool = createLedgerPool({ database_url: url, pool_max: opts.pool_max ?? 6 });
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
      await c.connect();
      try {
        // A backend of another role (e.g. an autovacuum worker) can briefly refuse termination: retry.
        for (let attempt = 1; ; attempt += 1) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            break;
          } catch (err) {
            if (attempt >= DROP_ATTEMPTS_MAX) throw err;
            await new Promise((r) => setTimeout(r, 500 * attempt));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}
