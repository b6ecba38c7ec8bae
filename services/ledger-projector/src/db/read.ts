/**
 * Read side of the ledger: what the read API serves and what the reconciler reads — the
 * ledger's read contract, exported as `@tidemark/ledger-projector/read` (src/read.ts).
 * Nobody outside this service queries the `ledger` schema directly.
 */
import type { Pool, PoolClient } from 'pg';
import { normalizeAmount } from '../core/amount.js';
import {
  type Decision,
  type ReasonSummary,
  type StatementStatus,
  type TxKind,
  type TxStatus,
  statementDirection,
  statementStatus,
} from '../core/transaction.js';

/** A pool or one client (e.g. a reader's REPEATABLE READ snapshot connection). */
export type Queryable = Pool | PoolClient;

/** Most history entries returned for one transaction. */
export const HISTORY_ENTRIES_MAX = 1_000;
/** Default and largest page of listTransactions. */
export const LIST_PAGE_SIZE_DEFAULT = 1_000;
export const LIST_PAGE_SIZE_MAX = 10_000;

export interface AssetBalance {
  asset: string;
  pending: string;
  available: string;
  held: string;
}

export interface WalletBalances {
  wallet_id: string;
  balances: AssetBalance[];
}

/** Balances of one wallet, one entry per asset (decimal strings, normalised); unknown wallet → empty list. */
export async function getBalances(pool: Queryable, wallet_id: string): Promise<WalletBalances> {
  const res = await pool.query<{ asset: string; pending: string; available: string; held: string }>(
    `SELECT asset, pending::text, available::text, held::text FROM ledger.balances WHERE wallet_id = $1 ORDER BY asset`,
    [wallet_id],
  );
  return {
    wallet_id,
    balances: res.rows.map((r) => ({
      asset: r.asset,
      pending: normalizeAmount(r.pending),
      available: normalizeAmount(r.available),
      held: normalizeAmount(r.held),
    })),
  };
}

export interface HistoryEntry {
  event_id: string;
  event_type: string;
  occurred_at: string;
  received_at: string;
  projected_at: string;
  source: string;
  decision: string;
  outcome: string;
  status_after: string | null;
}

export interface TransactionView {
  provider: string;
  transaction_id: string;
  kind: TxKind;
  direction: 'in' | 'out';
  status: TxStatus;
  /** The same status in the provider statements' vocabulary (pending|confirmed|failed|reversed). */
  statement_status: StatementStatus;
  wallet_id: string;
  asset: string;
  amount: string;
  decision: Decision;
  reasons: ReasonSummary[];
  screening: { decision: Decision; reasons: ReasonSummary[] };
  released: { by: string; at: string } | null;
  /** What this transaction currently contributes to the wallet's buckets. */
  effect: { pending: string; available: string; held: string };
  anomalies: string[];
  history: HistoryEntry[];
  created_at: string;
  updated_at: string;
}

/** One row of `ledger.transactions` as read (amounts as decimal text, in base-unit-free decimal notation). */
export interface LedgerTransactionRow {
  provider: string;
  transaction_id: string;
  kind: TxKind;
  wallet_id: string;
  asset: string;
  amount: string;
  status: TxStatus;
  decision: Decision;
  reasons: ReasonSummary[];
  anomalies: string[];
  released_by: string | null;
  released_at: Date | null;
  pending: string;
  available: string;
  held: string;
  created_at: Date;
  updated_at: Date;
  last_occurred_at: Date;
}

const TX_COLUMNS = `provider, transaction_id, kind, wallet_id, asset, amount::text, status, decision, reasons, anomalies,
  released_by, released_at, pending::text, available::text, held::text, created_at, updated_at, last_occurred_at`;

export async function getTransaction(pool: Queryable, provider: string, transaction_id: string): Promise<TransactionView | null> {
  const tx = await pool.query<LedgerTransactionRow>(`SELECT ${TX_COLUMNS} FROM ledger.transactions WHERE provider = $1 AND transaction_id = $2`, [
    provider,
    transaction_id,
  ]);
  const row = tx.rows[0];
  if (!row) return null;
  const history = await pool.query<{
    event_id: string;
    event_type: string;
    occurred_at: Date;
    received_at: Date;
    projected_at: Date;
    source: string;
    decision: string;
    outcome: string;
    status_after: string | null;
  }>(
    `SELECT event_id, event_type, occurred_at, received_at, projected_at, source, decision, outcome, status_after
       FROM ledger.processed_events WHERE provider = $1 AND transaction_id = $2
      ORDER BY projected_at, occurred_at, event_id LIMIT ${HISTORY_ENTRIES_MAX}`,
    [provider, transaction_id],
  );
  return {
    provider: row.provider,
    transaction_id: row.transaction_id,
    kind: row.kind,
    direction: statementDirection(row.kind),
    status: row.status,
    statement_status: statementStatus(row.status),
    wallet_id: row.wallet_id,
    asset: row.asset,
    amount: normalizeAmount(row.amount),
    decision: row.decision,
    reasons: row.reasons,
    screening: { decision: row.decision, reasons: row.reasons },
    released: row.released_by && row.released_at ? { by: row.released_by, at: row.released_at.toISOString() } : null,
    effect: { pending: normalizeAmount(row.pending), available: normalizeAmount(row.available), held: normalizeAmount(row.held) },
    anomalies: row.anomalies,
    history: history.rows.map((h) => ({
      event_id: h.event_id,
      event_type: h.event_type,
      occurred_at: h.occurred_at.toISOString(),
      received_at: h.received_at.toISOString(),
      projected_at: h.projected_at.toISOString(),
      source: h.source,
      decision: h.decision,
      outcome: h.outcome,
      status_after: h.status_after,
    })),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** One ledger transaction in the shape of a provider statement line (DESIGN 3.5). */
export interface LedgerStatementLine {
  provider: string;
  transaction_id: string;
  wallet_id: string;
  asset: string;
  amount: string;
  direction: 'in' | 'out';
  /** pending|confirmed|failed|reversed (see statementStatus). */
  status: StatementStatus;
  /** The ledger's own lifecycle status. */
  ledger_status: TxStatus;
  decision: Decision;
  /** Occurrence time of the transaction's latest event (the provider's `updated_at` counterpart). */
  updated_at: string;
}

/**
 * Streams the ledger transactions of `provider` whose latest event occurred in
 * [since, until) (until open-ended when omitted), ordered by (updated_at, transaction_id),
 * fetched in keyset-paged queries of `page_size`.
 */
export async function* listTransactions(
  pool: Queryable,
  opts: { provider: string; since: Date; until?: Date; page_size?: number },
): AsyncGenerator<LedgerStatementLine> {
  const page_size = Math.min(Math.max(1, opts.page_size ?? LIST_PAGE_SIZE_DEFAULT), LIST_PAGE_SIZE_MAX);
  let after: { at: Date; id: string } | null = null;
  for (;;) {
    const res: { rows: LedgerTransactionRow[] } = await pool.query<LedgerTransactionRow>(
      `SELECT ${TX_COLUMNS} FROM ledger.transactions
        WHERE provider = $1 AND last_occurred_at >= $2 AND ($3::timestamptz IS NULL OR last_occurred_at < $3)
          AND ($4::timestamptz IS NULL OR (last_occurred_at, transaction_id) > ($4, $5::text))
        ORDER BY last_occurred_at, transaction_id LIMIT $6`,
      [opts.provider, opts.since, opts.until ?? null, after?.at ?? null, after?.id ?? null, page_size],
    );
    for (const row of res.rows) {
      yield {
        provider: row.provider,
        transaction_id: row.transaction_id,
        wallet_id: row.wallet_id,
        asset: row.asset,
        amount: normalizeAmount(row.amount),
        direction: statementDirection(row.kind),
        status: statementStatus(row.status),
        ledger_status: row.status,
        decision: row.decision,
        updated_at: row.last_occurred_at.toISOString(),
      };
    }
    const last = res.rows.at(-1);
    if (!last || res.rows.length < page_size) return;
    after = { at: last.last_occurred_at, id: last.transaction_id };
  }
}

/** Wallet balances of every wallet (optionally of one provider's transactions' wallets), for balance reconciliation. */
export async function listBalances(pool: Queryable, opts: { wallet_ids?: string[] } = {}): Promise<Array<AssetBalance & { wallet_id: string; version: number }>> {
  const res = await pool.query<{ wallet_id: string; asset: string; pending: string; available: string; held: string; version: string }>(
    `SELECT wallet_id, asset, pending::text, available::text, held::text, version::text FROM ledger.balances
      WHERE $1::text[] IS NULL OR wallet_id = ANY($1) ORDER BY wallet_id, asset`,
    [opts.wallet_ids ?? null],
  );
  return res.rows.map((r) => ({
    wallet_id: r.wallet_id,
    asset: r.asset,
    pending: normalizeAmount(r.pending),
    available: normalizeAmount(r.available),
    held: normalizeAmount(r.held),
    version: Number(r.version),
  }));
}

/** True when the ledger schema exists in the database (the projector ran its migrations). */
export async function ledgerSchemaExists(pool: Queryable): Promise<boolean> {
  const res = await pool.query<{ t: string | null }>(`SELECT to_regclass('ledger.transactions')::text AS t`);
  return Boolean(res.rows[0]?.t);
}

/** Latest provider occurrence time the ledger has applied for `provider` (its as-of), or null. */
export async function ledgerAsOf(pool: Queryable, provider: string): Promise<Date | null> {
  const res = await pool.query<{ at: Date | null }>(`SELECT max(last_occurred_at) AS at FROM ledger.transactions WHERE provider = $1`, [provider]);
  return res.rows[0]?.at ?? null;
}

/** The ledger transactions of `provider` with the given provider transaction ids (absent ids: none). */
export async function getTransactionRows(pool: Queryable, provider: string, transaction_ids: readonly string[]): Promise<LedgerTransactionRow[]> {
  if (transaction_ids.length === 0) return [];
  const res = await pool.query<LedgerTransactionRow>(`SELECT ${TX_COLUMNS} FROM ledger.transactions WHERE provider = $1 AND transaction_id = ANY($2::text[])`, [
    provider,
    transaction_ids,
  ]);
  return res.rows;
}

/** Per (wallet, asset): how many transactions and the sums of their bucket contributions (decimal text). */
export interface PairContributions {
  wallet_id: string;
  asset: string;
  tx_count: number;
  pending: string;
  available: string;
  held: string;
}

/** Transaction count and contribution totals of each (wallet, asset) pair that has transactions. */
export async function pairContributions(pool: Queryable, pairs: ReadonlyArray<{ wallet_id: string; asset: string }>): Promise<PairContributions[]> {
  if (pairs.length === 0) return [];
  const res = await pool.query<{ wallet_id: string; asset: string; n: string; pending: string; available: string; held: string }>(
    `SELECT t.wallet_id, t.asset, count(*)::text AS n, sum(t.pending)::text AS pending, sum(t.available)::text AS available, sum(t.held)::text AS held
       FROM ledger.transactions t
       JOIN unnest($1::text[], $2::text[]) AS u(wallet_id, asset) ON t.wallet_id = u.wallet_id AND t.asset = u.asset
      GROUP BY t.wallet_id, t.asset`,
    [pairs.map((p) => p.wallet_id), pairs.map((p) => p.asset)],
  );
  return res.rows.map((r) => ({ wallet_id: r.wallet_id, asset: r.asset, tx_count: Number(r.n), pending: r.pending, available: r.available, held: r.held }));
}
