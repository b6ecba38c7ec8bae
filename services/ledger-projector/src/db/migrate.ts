/**
 * Versioned schema migrations (node-pg-migrate, SQL files in ../../migrations), run on
 * start-up. node-pg-migrate holds an advisory lock, so several instances starting at
 * once apply each migration exactly once.
 *
 * The `ledger` schema, and the bookkeeping table in it, belong to the ledger's own database
 * role (deploy/local/src/db-roles.ts), which may not create schemas: the schema is made by the
 * database's setup, and created here only when missing (a database the admin role migrates).
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@tidemark/common';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'ledger_migrations';
export const LEDGER_SCHEMA = 'ledger';

/** Creates `schema` if it does not exist; a role that may not create it gets an error saying what to do. */
export async function ensureSchema(database_url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: database_url });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (found.rowCount !== 0) return;
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${client.escapeIdentifier(schema)}`).catch((err: Error) => {
      throw new Error(
        `schema ${schema} does not exist and this role may not create it (${err.message}); set the database up first (npx tidemark infra up sets up the default database)`,
      );
    });
  } finally {
    await client.end();
  }
}

export async function runMigrations(database_url: string, logger?: Logger): Promise<string[]> {
  await ensureSchema(database_url, LEDGER_SCHEMA);
  const applied = await runner({
    databaseUrl: database_url,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    migrationsSchema: LEDGER_SCHEMA,
    checkOrder: true,
    // Several services (and instances) migrate the same database at start-up: wait for the lock, never fail on it.
    advisoryLockMode: 'wait',
    singleTransaction: true,
    verbose: false,
    log: (msg: string) => logger?.debug({ migration: msg }, 'migration'),
  });
  const names = applied.map((m) => m.name);
  logger?.info({ applied: names }, names.length > 0 ? 'ledger migrations applied' : 'ledger schema up to date');
  return names;
}
