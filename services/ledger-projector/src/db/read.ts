/**
 * Read side of the ledger: what the read API serves and what the reconciler reads — the
 * ledger's read contract, exported as `@tidemark/ledger-projector/read` (src/read.ts).
 * Nobody outside this service queries the `ledger` schema directly.
 */
import type { Pool, PoolClient } from 'pg';
import { formatUnits, normalizeAmount, parseSignedUnits } from '../core/amount.js';
import { walletAccount } from '../core/accounts.js';
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
  const tx = await pool.query<LedgerTransactionRow>(
    `SELECT ${TX_COLUMNS} FROM ledger.transactions WHERE provider = $1 AND transaction_id = $2`,
    [provider, transaction_id],
  );
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
export async function listBalances(
  pool: Queryable,
  opts: { wallet_ids?: string[] } = {},
): Promise<Array<AssetBalance & { wallet_id: string; version: number }>> {
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
  const res = await pool.query<{ at: Date | null }>(`SELECT max(last_occurred_at) AS at FROM ledger.transactions WHERE provider = $1`, [
    provider,
  ]);
  return res.rows[0]?.at ?? null;
}

/** The ledger transactions of `provider` with the given provider transaction ids (absent ids: none). */
export async function getTransactionRows(
  pool: Queryable,
  provider: string,
  transaction_ids: readonly string[],
): Promise<LedgerTransactionRow[]> {
  if (transaction_ids.length === 0) return [];
  const res = await pool.query<LedgerTransactionRow>(
    `SELECT ${TX_COLUMNS} FROM ledger.transactions WHERE provider = $1 AND transaction_id = ANY($2::text[])`,
    [provider, transaction_ids],
  );
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
export async function pairContributions(
  pool: Queryable,
  pairs: ReadonlyArray<{ wallet_id: string; asset: string }>,
): Promise<PairContributions[]> {
  if (pairs.length === 0) return [];
  const res = await pool.query<{ wallet_id: string; asset: string; n: string; pending: string; available: string; held: string }>(
    `SELECT t.wallet_id, t.asset, count(*)::text AS n, sum(t.pending)::text AS pending, sum(t.available)::text AS available, sum(t.held)::text AS held
       FROM ledger.transactions t
       JOIN unnest($1::text[], $2::text[]) AS u(wallet_id, asset) ON t.wallet_id = u.wallet_id AND t.asset = u.asset
      GROUP BY t.wallet_id, t.asset`,
    [pairs.map((p) => p.wallet_id), pairs.map((p) => p.asset)],
  );
  return res.rows.map((r) => ({
    wallet_id: r.wallet_id,
    asset: r.asset,
    tx_count: Number(r.n),
    pending: r.pending,
    available: r.available,
    held: r.held,
  }));
}

// ---- compliance queue, decision history, postings (console; additions to DESIGN 3.3) ----

/** Largest page of the compliance queue. */
export const QUEUE_PAGE_SIZE_MAX = 500;
export const ACTIONS_MAX = 500;
export const POSTINGS_MAX = 1_000;

export interface QueueFilter {
  /** open (default): REVIEW not released, and BLOCK, with money still held or pending; all: every non-ALLOW transaction. */
  state?: 'open' | 'all';
  decision?: Decision;
  wallet_id?: string;
  asset?: string;
  /** A reason's rule_id (e.g. `velocity.1h`) or code (e.g. `HIGH_RISK_JURISDICTION`). */
  rule?: string;
  /** Only transactions first seen at least this long ago. */
  min_age_s?: number;
  limit?: number;
}

/** A queue item: the transaction's row facts, its held amount and when it was released, times as ISO text. */
export interface QueueItem extends Pick<
  LedgerTransactionRow,
  'provider' | 'transaction_id' | 'kind' | 'wallet_id' | 'asset' | 'amount' | 'status' | 'decision' | 'reasons' | 'held'
> {
  released: { by: string; at: string } | null;
  created_at: string;
  updated_at: string;
}

/** Transactions screening did not ALLOW, newest first. */
export async function listComplianceQueue(pool: Pool, filter: QueueFilter = {}): Promise<QueueItem[]> {
  const limit = Math.min(Math.max(1, filter.limit ?? 100), QUEUE_PAGE_SIZE_MAX);
  const res = await pool.query<LedgerTransactionRow>(
    `SELECT ${TX_COLUMNS} FROM ledger.transactions
      WHERE decision <> 'ALLOW'
        AND ($1::text <> 'open' OR ((decision = 'BLOCK' OR released_by IS NULL) AND (held > 0 OR pending > 0)))
        AND ($2::text IS NULL OR decision = $2)
        AND ($3::text IS NULL OR wallet_id = $3)
        AND ($4::text IS NULL OR asset = $4)
        AND ($5::text IS NULL OR reasons @> jsonb_build_array(jsonb_build_object('rule_id', $5::text))
                              OR reasons @> jsonb_build_array(jsonb_build_object('code', $5::text)))
        AND ($6::double precision IS NULL OR created_at <= now() - make_interval(secs => $6))
      ORDER BY created_at DESC, transaction_id LIMIT $7`,
    [
      filter.state ?? 'open',
      filter.decision ?? null,
      filter.wallet_id ?? null,
      filter.asset ?? null,
      filter.rule ?? null,
      filter.min_age_s ?? null,
      limit,
    ],
  );
  return res.rows.map((row) => ({
    provider: row.provider,
    transaction_id: row.transaction_id,
    kind: row.kind,
    wallet_id: row.wallet_id,
    asset: row.asset,
    amount: normalizeAmount(row.amount),
    status: row.status,
    decision: row.decision,
    reasons: row.reasons,
    released: row.released_by && row.released_at ? { by: row.released_by, at: row.released_at.toISOString() } : null,
    held: normalizeAmount(row.held),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }));
}

export interface ComplianceActionView {
  provider: string;
  transaction_id: string;
  action: string;
  actor: string;
  reason: string | null;
  request_id: string;
  at: string;
  details: Record<string, string>;
}

/** The decision history of one transaction (oldest first), or the latest decisions overall (newest first). */
export async function listComplianceActions(
  pool: Pool,
  opts: { provider?: string; transaction_id?: string; limit?: number } = {},
): Promise<ComplianceActionView[]> {
  const limit = Math.min(Math.max(1, opts.limit ?? 100), ACTIONS_MAX);
  const one = opts.provider !== undefined && opts.transaction_id !== undefined;
  const res = await pool.query<Omit<ComplianceActionView, 'at'> & { at: Date }>(
    one
      ? `SELECT provider, transaction_id, action, actor, reason, request_id, at, details FROM ledger.compliance_actions
          WHERE provider = $1 AND transaction_id = $2 ORDER BY action_id LIMIT $3`
      : `SELECT provider, transaction_id, action, actor, reason, request_id, at, details FROM ledger.compliance_actions
          ORDER BY action_id DESC LIMIT $1`,
    one ? [opts.provider, opts.transaction_id, limit] : [limit],
  );
  return res.rows.map((r) => ({ ...r, at: r.at.toISOString() }));
}

export interface PostingView {
  event_id: string;
  debit_account_id: string;
  credit_account_id: string;
  asset: string;
  amount: string;
  created_at: string;
}

/** The postings of one transaction, in the order they were written. */
export async function listPostings(pool: Pool, provider: string, transaction_id: string): Promise<PostingView[]> {
  const res = await pool.query<{
    event_id: string;
    debit_account_id: string;
    credit_account_id: string;
    asset: string;
    amount: string;
    created_at: Date;
  }>(
    `SELECT event_id, debit_account_id, credit_account_id, asset, amount::text, created_at FROM ledger.postings
      WHERE provider = $1 AND transaction_id = $2 ORDER BY posting_id LIMIT ${POSTINGS_MAX}`,
    [provider, transaction_id],
  );
  return res.rows.map((r) => ({ ...r, amount: normalizeAmount(r.amount), created_at: r.created_at.toISOString() }));
}

export interface BalanceChangeView {
  event_id: string;
  event_type: string;
  /** The wallet's balance in the transaction's asset right after this event (null: the event changed nothing). */
  balance_after: { pending: string; available: string; held: string; version: number } | null;
  /** The same balance right before it (after minus this event's postings on the wallet's buckets). */
  balance_before: { pending: string; available: string; held: string } | null;
}

/** Per history entry of one transaction: the wallet's balance before and after it. */
export async function listBalanceChanges(pool: Pool, provider: string, transaction_id: string): Promise<BalanceChangeView[]> {
  const rows = await pool.query<{
    event_id: string;
    event_type: string;
    wallet_id: string | null;
    asset: string | null;
    balance_pending: string | null;
    balance_available: string | null;
    balance_held: string | null;
    balance_version: string | null;
  }>(
    `SELECT event_id, event_type, wallet_id, asset, balance_pending, balance_available, balance_held, balance_version::text
       FROM ledger.processed_events WHERE provider = $1 AND transaction_id = $2
      ORDER BY projected_at, occurred_at, event_id LIMIT ${HISTORY_ENTRIES_MAX}`,
    [provider, transaction_id],
  );
  const postings = await listPostings(pool, provider, transaction_id);
  return rows.rows.map((r) => {
    if (
      r.balance_version === null ||
      r.balance_pending === null ||
      r.balance_available === null ||
      r.balance_held === null ||
      !r.wallet_id ||
      !r.asset
    ) {
      return { event_id: r.event_id, event_type: r.event_type, balance_after: null, balance_before: null };
    }
    const after = {
      pending: parseSignedUnits(r.balance_pending),
      available: parseSignedUnits(r.balance_available),
      held: parseSignedUnits(r.balance_held),
    };
    const before = { ...after };
    const buckets = (['pending', 'available', 'held'] as const).map((b) => [walletAccount(r.wallet_id!, r.asset!, b).id, b] as const);
    for (const p of postings) {
      if (p.event_id !== r.event_id) continue;
      const units = parseSignedUnits(p.amount);
      for (const [id, bucket] of buckets) {
        if (p.debit_account_id === id) before[bucket] -= units;
        if (p.credit_account_id === id) before[bucket] += units;
      }
    }
    const fmt = (b: { pending: bigint; available: bigint; held: bigint }) => ({
      pending: formatUnits(b.pending),
      available: formatUnits(b.available),
      held: formatUnits(b.held),
    });
    return {
      event_id: r.event_id,
      event_type: r.event_type,
      balance_after: { ...fmt(after), version: Number(r.balance_version) },
      balance_before: fmt(before),
    };
  });
}
