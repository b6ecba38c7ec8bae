/** Durable dedupe claims in Postgres (the adapter for core/dedupe.ts). */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { loadSqlMigrations, migrate, type SourceCoordinates } from '@tidemark/stream';
import { keyId, type DedupeKey } from './core/dedupe.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../migrations');
export const PURGE_BATCH_MAX = 10_000;
export const CLAIM_BATCH_MAX = 10_000;

export async function migrateDedupe(pool: pg.Pool): Promise<number[]> {
  return migrate(pool, 'dedupe', loadSqlMigrations(MIGRATIONS_DIR));
}

interface ClaimRow {
  provider: string;
  event_id: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
}

export class ClaimStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Claims each key for the given delivery unless already claimed, and returns every
   * key's claim (by keyId). One round trip in the common case.
   */
  async claim(items: Array<{ key: DedupeKey; source: SourceCoordinates }>): Promise<Map<string, SourceCoordinates>> {
    if (items.length === 0) return new Map();
    if (items.length > CLAIM_BATCH_MAX) throw new Error(`claim batch of ${items.length} exceeds ${CLAIM_BATCH_MAX}`);
    const params = [
      items.map((i) => i.key.provider),
      items.map((i) => i.key.event_id),
      items.map((i) => i.source.topic),
      items.map((i) => i.source.partition),
      items.map((i) => i.source.offset),
    ];
    // The INSERT's RETURNING gives new claims; the SELECT (statement snapshot) gives older ones.
    const { rows } = await this.pool.query<ClaimRow>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])
           AS i(provider, event_id, source_topic, source_partition, source_offset)
       ), ins AS (
         INSERT INTO dedupe_claims (provider, event_id, source_topic, source_partition, source_offset)
         SELECT DISTINCT ON (provider, event_id) provider, event_id, source_topic, source_partition, source_offset
           FROM input ORDER BY provider, event_id, source_offset
         ON CONFLICT (provider, event_id) DO NOTHING
         RETURNING provider, event_id, source_topic, source_partition, source_offset
       )
       SELECT provider, event_id, source_topic, source_partition, source_offset FROM ins
       UNION ALL
       SELECT c.provider, c.event_id, c.source_topic, c.source_partition, c.source_offset
         FROM dedupe_claims c JOIN (SELECT DISTINCT provider, event_id FROM input) k USING (provider, event_id)`,
      params,
    );
    const claims = new Map<string, SourceCoordinates>();
    for (const r of rows) claims.set(keyId(r), toSource(r));
    // A key claimed by a concurrent transaction after this statement's snapshot: read it now.
    const missing = items.filter((i) => !claims.has(keyId(i.key)));
    if (missing.length > 0) {
      const { rows: late } = await this.pool.query<ClaimRow>(
        `SELECT c.provider, c.event_id, c.source_topic, c.source_partition, c.source_offset
           FROM dedupe_claims c JOIN unnest($1::text[], $2::text[]) AS k(provider, event_id) USING (provider, event_id)`,
        [missing.map((i) => i.key.provider), missing.map((i) => i.key.event_id)],
      );
      for (const r of late) claims.set(keyId(r), toSource(r));
    }
    for (const i of items)
      if (!claims.has(keyId(i.key))) throw new Error(`claim of ${i.key.provider}/${i.key.event_id} not found after insert`);
    return claims;
  }

  /** Deletes claims first seen before `cutoff`, in bounded batches; returns how many. */
  async purgeExpired(cutoff: Date, batches_max = 100): Promise<number> {
    let total = 0;
    for (let i = 0; i < batches_max; i++) {
      const res = await this.pool.query(
        `DELETE FROM dedupe_claims WHERE ctid IN (SELECT ctid FROM dedupe_claims WHERE claimed_at < $1 LIMIT ${PURGE_BATCH_MAX})`,
        [cutoff],
      );
      total += res.rowCount ?? 0;
      if ((res.rowCount ?? 0) < PURGE_BATCH_MAX) break;
    }
    return total;
  }
}

function toSource(r: ClaimRow): SourceCoordinates {
  return { topic: r.source_topic, partition: r.source_partition, offset: String(r.source_offset) };
}
