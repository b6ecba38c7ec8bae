/**
 * Versioned schema migrations (node-pg-migrate, SQL files in ../../migrations), run on
 * start-up. node-pg-migrate holds an advisory lock, so several instances starting at
 * once apply each migration exactly once.
 */
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@tidemark/common';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'ledger_migrations';

export async function runMigrations(database_url: string, logger?: Logger): Promise<string[]> {
  const applied = await runner({
    databaseUrl: database_url,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    migrationsSchema: 'public',
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
