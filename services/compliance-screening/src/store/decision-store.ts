/**
 * Postgres store of screening decisions and wallet windows.
 *
 * Correct under partitioning, restarts and replays because:
 *  - the runtime hands one key (wallet) at a time to one consumer, so a wallet's
 *    window is only ever appended to by the record being screened;
 *  - rows are keyed by (provider, event_id): a replayed event is found and its
 *    stored decision returned, so it neither counts twice nor changes its decision;
 *  - windows are computed from the events' occurred_at, never the wall clock.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import type { ScreeningDecision } from '@tidemark/common';
import type { HistoryEntry } from '../core/screen.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Whether `schema` exists (the service's own role owns it but may not create it: the database setup does). */
async function schemaExists(database_url: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: database_url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount !== 0;
  } finally {
    await client.end();
  }
}

/**
 * Applies pending migrations to `schema`, creating it only if missing (CREATE SCHEMA IF NOT EXISTS
 * needs the right to create schemas even when it exists, which the service's role does not have).
 * Waits if another migration holds the lock.
 */
export async function migrate(database_url: string, schema: string): Promise<string[]> {
  if (!SCHEMA_NAME_PATTERN.test(schema)) throw new Error(`schema name ${JSON.stringify(schema)} must match ${SCHEMA_NAME_PATTERN}`);
  const create_schema = !(await schemaExists(database_url, schema));
  const applied = await runner({
    databaseUrl: database_url,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    count: Infinity,
    migrationsTable: 'compliance_migrations',
    checkOrder: true,
    schema,
    createSchema: create_schema,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    log: () => {},
  });
  return applied.map((m) => m.name);
}

export interface StoredRow {
  provider: string;
  event_id: string;
  window_key: string;
  transaction_id: string | null;
  event_type: string;
  occurred_at_ms: number;
  amount_ref: string | null;
  counts_in_windows: boolean;
  screening: ScreeningDecision;
}

export interface History {
  entries: HistoryEntry[];
  truncated: boolean;
}

export class DecisionStore {
  readonly #table: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    if (!SCHEMA_NAME_PATTERN.test(schema)) throw new Error(`schema name ${JSON.stringify(schema)} must match ${SCHEMA_NAME_PATTERN}`);
    this.#table = `${pg.escapeIdentifier(schema)}.screening_decisions`;
  }

  async find(provider: string, event_id: string): Promise<ScreeningDecision | null> {
    const { rows } = await this.pool.query<{ screening: ScreeningDecision }>(
      `SELECT screening FROM ${this.#table} WHERE provider = $1 AND event_id = $2`,
      [provider, event_id],
    );
    return rows[0]?.screening ?? null;
  }

  /** Stored decisions of many events at once, keyed '<provider>\u0000<event_id>'. */
  async findMany(keys: Array<{ provider: string; event_id: string }>): Promise<Map<string, ScreeningDecision>> {
    const found = new Map<string, ScreeningDecision>();
    if (keys.length === 0) return found;
    const { rows } = await this.pool.query<{ provider: string; event_id: string; screening: ScreeningDecision }>(
      `SELECT d.provider, d.event_id, d.screening
         FROM ${this.#table} d
         JOIN unnest($1::text[], $2::text[]) AS k(provider, event_id) ON d.provider = k.provider AND d.event_id = k.event_id`,
      [keys.map((k) => k.provider), keys.map((k) => k.event_id)],
    );
    for (const r of rows) found.set(`${r.provider}\u0000${r.event_id}`, r.screening);
    return found;
  }

  /**
   * Inserts many new decisions in one statement (existing ones are left alone).
   * Returns how many were inserted: fewer than given means another instance
   * screened some of them concurrently.
   */
  async insertMany(rows: StoredRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const col = <K extends keyof StoredRow>(k: K) => rows.map((r) => r[k]);
    const result = await this.pool.query(
      `INSERT INTO ${this.#table}
         (provider, event_id, window_key, transaction_id, event_type, occurred_at_ms, amount_ref, counts_in_windows, decision, screening)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::numeric[], $8::boolean[], $9::text[], $10::jsonb[])
       ON CONFLICT (provider, event_id) DO NOTHING`,
      [
        col('provider'),
        col('event_id'),
        col('window_key'),
        col('transaction_id'),
        col('event_type'),
        col('occurred_at_ms'),
        col('amount_ref'),
        col('counts_in_windows'),
        rows.map((r) => r.screening.decision),
        rows.map((r) => JSON.stringify(r.screening)),
      ],
    );
    return result.rowCount ?? 0;
  }

  /**
   * Transaction events of `window_key` with occurred_at in (from_ms, to_ms], newest
   * first, at most rows_max (truncated tells whether there were more).
   */
  async history(window_key: string, from_ms_exclusive: number, to_ms_inclusive: number, rows_max: number): Promise<History> {
    const all = await this.histories([{ window_key, from_ms_exclusive, to_ms_inclusive }], rows_max);
    return all.get(window_key)!;
  }

  /**
   * `history` of many windows in one statement (a chunk's wallets), keyed by window_key:
   * one round trip where a chunk of 30 wallets took 30.
   */
  async histories(
    windows: ReadonlyArray<{ window_key: string; from_ms_exclusive: number; to_ms_inclusive: number }>,
    rows_max: number,
  ): Promise<Map<string, History>> {
    const out = new Map<string, History>();
    if (windows.length === 0) return out;
    const { rows } = await this.pool.query<{
      window_key: string;
      provider: string;
      event_id: string;
      transaction_id: string;
      occurred_at_ms: string;
      amount_ref: string | null;
    }>(
      `SELECT w.window_key, h.provider, h.event_id, h.transaction_id, h.occurred_at_ms, h.amount_ref::text AS amount_ref
         FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS w(window_key, from_ms, to_ms, n)
         CROSS JOIN LATERAL (
           SELECT d.provider, d.event_id, d.transaction_id, d.occurred_at_ms, d.amount_ref
             FROM ${this.#table} d
            WHERE d.window_key = w.window_key AND d.counts_in_windows AND d.occurred_at_ms > w.from_ms AND d.occurred_at_ms <= w.to_ms
            ORDER BY d.occurred_at_ms DESC, d.provider, d.event_id
            LIMIT $4) h
        ORDER BY w.n, h.occurred_at_ms DESC, h.provider, h.event_id`,
      [windows.map((w) => w.window_key), windows.map((w) => w.from_ms_exclusive), windows.map((w) => w.to_ms_inclusive), rows_max + 1],
    );
    const found = new Map<string, History['entries']>();
    for (const r of rows) {
      let list = found.get(r.window_key);
      if (!list) found.set(r.window_key, (list = []));
      list.push({
        provider: r.provider,
        event_id: r.event_id,
        transaction_id: r.transaction_id,
        occurred_at_ms: Number(r.occurred_at_ms),
        amount_ref: r.amount_ref,
      });
    }
    for (const w of windows) {
      const entries = found.get(w.window_key) ?? [];
      out.set(w.window_key, { truncated: entries.length > rows_max, entries: entries.slice(0, rows_max) });
    }
    return out;
  }

  /**
   * Stores the decision unless one exists for (provider, event_id); returns the
   * decision in force (the stored one if another attempt got there first).
   */
  async save(row: StoredRow): Promise<{ decision: ScreeningDecision; inserted: boolean }> {
    const { rows } = await this.pool.query<{ screening: ScreeningDecision; inserted: boolean }>(
      `WITH ins AS (
         INSERT INTO ${this.#table}
           (provider, event_id, window_key, transaction_id, event_type, occurred_at_ms, amount_ref, counts_in_windows, decision, screening)
         VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10::jsonb)
         ON CONFLICT (provider, event_id) DO NOTHING
         RETURNING screening)
       SELECT screening, true AS inserted FROM ins
       UNION ALL
       SELECT screening, false AS inserted FROM ${this.#table} WHERE provider = $1 AND event_id = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
      [
        row.provider,
        row.event_id,
        row.window_key,
        row.transaction_id,
        row.event_type,
        row.occurred_at_ms,
        row.amount_ref,
        row.counts_in_windows,
        row.screening.decision,
        JSON.stringify(row.screening),
      ],
    );
    const result = rows[0];
    if (!result) throw new Error(`decision for ${row.provider}:${row.event_id} neither inserted nor found`);
    return { decision: result.screening, inserted: result.inserted };
  }

  async ping(): Promise<boolean> {
    await this.pool.query('SELECT 1');
    return true;
  }
}
