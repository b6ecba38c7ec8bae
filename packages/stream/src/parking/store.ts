/**
 * Parking state in Postgres (the adapter for core/plan.ts).
 *
 * Write protocol per chunk (see README "Exactly-once"):
 *  1. before the Kafka commit, in one Postgres transaction that first checks this
 *     instance still owns the input partition (epoch): upsert the rows of records that
 *     enter/move in the ladder, and mark the rows of records that finished with the
 *     chunk's commit position;
 *  2. commit the Kafka transaction;
 *  3. delete the rows carrying that mark.
 * After a crash between 2 and 3 (or a failed commit), the next owner of the partition
 * resolves the marks with the committed offset: committed ≥ mark → delete, else clear.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { ParkedRow, SourceRef } from '../core/plan.js';
import type { TopicPartition } from '../kafka/transport.js';
import { loadSqlMigrations, migrate } from '../pg/migrate.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../migrations');

/** Creates/updates the runtime's tables (idempotent, safe to run from many instances). */
export async function migrateStreamTables(pool: pg.Pool): Promise<number[]> {
  return migrate(pool, 'stream', loadSqlMigrations(MIGRATIONS_DIR));
}

export class FencedError extends Error {
  override readonly name = 'FencedError';
}

export interface CompletionMark {
  topic: string;
  partition: number;
  /** The chunk's commit position (last offset + 1). */
  next_offset: bigint;
}

interface RowRecord {
  key: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  rung: number;
  attempts_made: number;
}

export class ParkingStore {
  constructor(
    private readonly pool: pg.Pool,
    readonly group_id: string,
  ) {}

  /** Takes ownership of an input partition: bumps its epoch (waits for a previous owner's open write). */
  async claimPartition(tp: TopicPartition, owner: string): Promise<bigint> {
    const { rows } = await this.pool.query<{ epoch: string }>(
      `INSERT INTO stream_partition_epoch (group_id, topic, partition, epoch, owner) VALUES ($1, $2, $3, 1, $4)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET epoch = stream_partition_epoch.epoch + 1, owner = EXCLUDED.owner, updated_at = now()
       RETURNING epoch`,
      [this.group_id, tp.topic, tp.partition, owner],
    );
    return BigInt(rows[0]!.epoch);
  }

  /** Every parked row of the given keys (including rows other chunks are completing). */
  async loadRows(keys: string[]): Promise<ParkedRow[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.pool.query<RowRecord>(
      `SELECT key, source_topic, source_partition, source_offset, rung, attempts_made
         FROM stream_parked WHERE group_id = $1 AND key = ANY($2::text[])`,
      [this.group_id, keys],
    );
    return rows.map((r) => ({
      key: r.key,
      source: { topic: r.source_topic, partition: r.source_partition, offset: BigInt(r.source_offset) },
      rung: r.rung,
      attempts_made: r.attempts_made,
    }));
  }

  /** Step 1 of the write protocol. Throws FencedError when another instance claimed the partition. */
  async writeBeforeCommit(
    tp: TopicPartition,
    epoch: bigint,
    upserts: ParkedRow[],
    completions: SourceRef[],
    mark: CompletionMark,
  ): Promise<void> {
    if (upserts.length === 0 && completions.length === 0) return;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ epoch: string }>(
        'SELECT epoch FROM stream_partition_epoch WHERE group_id = $1 AND topic = $2 AND partition = $3 FOR SHARE',
        [this.group_id, tp.topic, tp.partition],
      );
      const current = rows[0] ? BigInt(rows[0].epoch) : null;
      if (current !== epoch) {
        throw new FencedError(`${tp.topic}/${tp.partition} is owned by epoch ${current}, this instance holds ${epoch}`);
      }
      if (upserts.length > 0) {
        await client.query(
          `INSERT INTO stream_parked (group_id, key, source_topic, source_partition, source_offset, rung, attempts_made)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[], $6::int[], $7::int[])
           ON CONFLICT (group_id, source_topic, source_partition, source_offset) DO UPDATE
             SET rung = EXCLUDED.rung, attempts_made = EXCLUDED.attempts_made, updated_at = now(),
                 completing_topic = NULL, completing_partition = NULL, completing_offset = NULL`,
          [
            this.group_id,
            upserts.map((r) => r.key),
            upserts.map((r) => r.source.topic),
            upserts.map((r) => r.source.partition),
            upserts.map((r) => r.source.offset.toString()),
            upserts.map((r) => r.rung),
            upserts.map((r) => r.attempts_made),
          ],
        );
      }
      if (completions.length > 0) {
        await client.query(
          `UPDATE stream_parked p SET completing_topic = $2, completing_partition = $3, completing_offset = $4, updated_at = now()
             FROM unnest($5::text[], $6::int[], $7::bigint[]) AS c(topic, partition, "offset")
            WHERE p.group_id = $1 AND p.source_topic = c.topic AND p.source_partition = c.partition AND p.source_offset = c."offset"`,
          [
            this.group_id,
            mark.topic,
            mark.partition,
            mark.next_offset.toString(),
            completions.map((c) => c.topic),
            completions.map((c) => c.partition),
            completions.map((c) => c.offset.toString()),
          ],
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Step 3: the Kafka transaction committed; the finished records' rows go. */
  async deleteCompleted(mark: CompletionMark): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM stream_parked WHERE group_id = $1 AND completing_topic = $2 AND completing_partition = $3 AND completing_offset = $4`,
      [this.group_id, mark.topic, mark.partition, mark.next_offset.toString()],
    );
    return result.rowCount ?? 0;
  }

  /** Resolves the marks an earlier owner of `tp` left, using the committed offset (null: none). */
  async resolveMarks(tp: TopicPartition, committed: bigint | null): Promise<{ deleted: number; cleared: number }> {
    const c = committed === null ? '-1' : committed.toString();
    const deleted = await this.pool.query(
      `DELETE FROM stream_parked WHERE group_id = $1 AND completing_topic = $2 AND completing_partition = $3 AND completing_offset <= $4::bigint`,
      [this.group_id, tp.topic, tp.partition, c],
    );
    const cleared = await this.pool.query(
      `UPDATE stream_parked SET completing_topic = NULL, completing_partition = NULL, completing_offset = NULL, updated_at = now()
        WHERE group_id = $1 AND completing_topic = $2 AND completing_partition = $3`,
      [this.group_id, tp.topic, tp.partition],
    );
    return { deleted: deleted.rowCount ?? 0, cleared: cleared.rowCount ?? 0 };
  }

  async parkedKeyCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(DISTINCT key) AS n FROM stream_parked WHERE group_id = $1', [
      this.group_id,
    ]);
    return Number(rows[0]?.n ?? 0);
  }

  async parkedRows(): Promise<ParkedRow[]> {
    const { rows } = await this.pool.query<RowRecord>(
      `SELECT key, source_topic, source_partition, source_offset, rung, attempts_made FROM stream_parked WHERE group_id = $1 ORDER BY key, source_offset`,
      [this.group_id],
    );
    return rows.map((r) => ({
      key: r.key,
      source: { topic: r.source_topic, partition: r.source_partition, offset: BigInt(r.source_offset) },
      rung: r.rung,
      attempts_made: r.attempts_made,
    }));
  }
}
