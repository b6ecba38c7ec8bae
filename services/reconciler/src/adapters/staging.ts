/**
 * Staging of the provider's records in a session-private Postgres temporary table, so a
 * window of any size is compared in bounded memory: pages are upserted as they arrive
 * (deduped by transaction id, the latest `updated_at` winning, as `supersedes` says),
 * then read back in transaction-id order in keyset pages. The temporary table lives and
 * dies with the reconciler's own connection; nothing is written to the ledger's schema.
 */
import type { PoolClient } from 'pg';
import type { ProviderRecord } from '../core/model.js';
import { dedupeBatch } from '../core/statements.js';
import type { WindowPosition } from '../core/window.js';

export const STAGING_TABLE = 'tidemark_recon_provider';

export interface StagedRecord extends ProviderRecord {
  seq: number;
  position: WindowPosition;
}

export class ProviderStaging {
  private seq = 0;

  constructor(private readonly client: PoolClient) {}

  async create(): Promise<void> {
    await this.client.query(`DROP TABLE IF EXISTS pg_temp.${STAGING_TABLE}`);
    // COLLATE "C": byte order, identical to the order the ledger adapter pages in.
    await this.client.query(`CREATE TEMPORARY TABLE ${STAGING_TABLE} (
      transaction_id TEXT COLLATE "C" PRIMARY KEY,
      wallet_id      TEXT NOT NULL,
      asset          TEXT NOT NULL,
      amount         TEXT NOT NULL,
      direction      TEXT NOT NULL,
      status         TEXT NOT NULL,
      updated_at     TEXT NOT NULL,
      updated_at_ms  BIGINT NOT NULL,
      seq            BIGINT NOT NULL,
      position       TEXT NOT NULL
    )`);
  }

  /**
   * Upserts one page. Returns how many ids were new (the rest were repeats: the latest
   * version of each is kept).
   */
  async upsert(records: ReadonlyArray<ProviderRecord & { position: WindowPosition }>): Promise<{ new_ids: number }> {
    if (records.length === 0) return { new_ids: 0 };
    const withSeq = records.map((r) => ({ ...r, seq: ++this.seq }));
    const { kept } = dedupeBatch(withSeq);
    const res = await this.client.query<{ inserted: boolean }>(
      `INSERT INTO ${STAGING_TABLE} AS t (transaction_id, wallet_id, asset, amount, direction, status, updated_at, updated_at_ms, seq, position)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[])
       ON CONFLICT (transaction_id) DO UPDATE SET
         wallet_id = excluded.wallet_id, asset = excluded.asset, amount = excluded.amount, direction = excluded.direction,
         status = excluded.status, updated_at = excluded.updated_at, updated_at_ms = excluded.updated_at_ms,
         seq = excluded.seq, position = excluded.position
       WHERE (excluded.updated_at_ms, excluded.seq) > (t.updated_at_ms, t.seq)
       RETURNING (xmax = 0) AS inserted`,
      [
        kept.map((r) => r.transaction_id),
        kept.map((r) => r.wallet_id),
        kept.map((r) => r.asset),
        kept.map((r) => r.amount),
        kept.map((r) => r.direction),
        kept.map((r) => r.status),
        kept.map((r) => r.updated_at),
        kept.map((r) => String(r.updated_at_ms)),
        kept.map((r) => String(r.seq)),
        kept.map((r) => r.position),
      ],
    );
    return { new_ids: res.rows.filter((r) => r.inserted).length };
  }

  /** In-window records in transaction-id order, `page_size` at a time. */
  async *inWindow(page_size: number): AsyncGenerator<StagedRecord[]> {
    let after: string | null = null;
    for (;;) {
      const res: { rows: StagedRow[] } = await this.client.query<StagedRow>(
        `SELECT transaction_id, wallet_id, asset, amount, direction, status, updated_at, updated_at_ms::text, seq::text, position
           FROM ${STAGING_TABLE}
          WHERE position = 'in' AND ($1::text IS NULL OR transaction_id > $1::text COLLATE "C")
          ORDER BY transaction_id LIMIT $2`,
        [after, page_size],
      );
      if (res.rows.length === 0) return;
      yield res.rows.map(fromRow);
      if (res.rows.length < page_size) return;
      after = res.rows[res.rows.length - 1]!.transaction_id;
    }
  }

  /** Window position of the staged record of each id (absent: the provider did not list it). */
  async positions(ids: readonly string[]): Promise<Map<string, WindowPosition>> {
    const out = new Map<string, WindowPosition>();
    if (ids.length === 0) return out;
    const res = await this.client.query<{ transaction_id: string; position: WindowPosition }>(
      `SELECT transaction_id, position FROM ${STAGING_TABLE} WHERE transaction_id = ANY($1::text[])`,
      [ids],
    );
    for (const r of res.rows) out.set(r.transaction_id, r.position);
    return out;
  }

  async counts(): Promise<Record<WindowPosition, number>> {
    const res = await this.client.query<{ position: WindowPosition; n: string }>(
      `SELECT position, count(*)::text AS n FROM ${STAGING_TABLE} GROUP BY position`,
    );
    const out: Record<WindowPosition, number> = { before: 0, in: 0, after: 0 };
    for (const r of res.rows) out[r.position] = Number(r.n);
    return out;
  }

  async drop(): Promise<void> {
    await this.client.query(`DROP TABLE IF EXISTS pg_temp.${STAGING_TABLE}`);
  }
}

/** A staged row as read back: the record, with its bigint columns as text. */
type StagedRow = Omit<StagedRecord, 'updated_at_ms' | 'seq'> & { updated_at_ms: string; seq: string };

function fromRow(r: StagedRow): StagedRecord {
  // bigint columns come back as text.
  return { ...r, updated_at_ms: Number(r.updated_at_ms), seq: Number(r.seq) };
}
