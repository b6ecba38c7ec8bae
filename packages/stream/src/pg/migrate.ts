/**
 * A tiny versioned migration runner: numbered SQL files (`001_name.sql`) per
 * component, applied once each, in order, under an advisory lock so that several
 * instances starting at once do not race. Applied files must not change (checked by
 * checksum). @tidemark/common has no runner yet; this one is exported for any service.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const FILE_PATTERN = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
const LOCK_KEY = 'tidemark.migrations';

/** Reads `NNN_name.sql` files of `dir`, sorted by version. */
export function loadSqlMigrations(dir: string): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE_PATTERN.exec(file);
    if (!m) continue;
    migrations.push({ version: Number.parseInt(m[1]!, 10), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') });
  }
  const versions = migrations.map((m) => m.version);
  if (new Set(versions).size !== versions.length) throw new MigrationError(`duplicate migration version in ${dir}`);
  return migrations;
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Applies the not-yet-applied migrations of `component`; returns the versions applied now. */
export async function migrate(pool: pg.Pool, component: string, migrations: Migration[]): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS tidemark_migrations (
      component text NOT NULL, version int NOT NULL, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`);
    const { rows } = await client.query<{ version: number; checksum: string; name: string }>(
      'SELECT version, checksum, name FROM tidemark_migrations WHERE component = $1',
      [component],
    );
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      const previous = done.get(m.version);
      if (previous) {
        if (previous.checksum !== checksum(m.sql)) {
          throw new MigrationError(
            `migration ${component} ${m.version}_${m.name} changed after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      await client.query(m.sql);
      await client.query('INSERT INTO tidemark_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)', [
        component,
        m.version,
        m.name,
        checksum(m.sql),
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
