/**
 * The ledger side, read from the ledger projector's Postgres schema through its public
 * entry point (@tidemark/ledger-projector): `listTransactions` for the window,
 * `listBalances` for the balances, and its status mapping (`statementStatus`,
 * `statementDirection`) and amount normalisation. The reconciler needs two reads the
 * read module does not offer — transactions looked up by a batch of ids with their
 * bucket contributions, and per-(wallet, asset) totals of those contributions — and
 * does them here against the documented `ledger.transactions` columns.
 *
 * All reads of one run happen in one REPEATABLE READ transaction on the run's own
 * connection: one consistent snapshot of a ledger that keeps moving while we read.
 */
import type { Pool, PoolClient } from 'pg';
import {
  listBalances,
  listTransactions,
  normalizeAmount,
  statementDirection,
  statementStatus,
  type LedgerStatementLine,
  type TxKind,
  type TxStatus,
} from '@tidemark/ledger-projector';
import { pairKey } from '../core/balance.js';
import type { PairLedgerFacts } from '../core/balance.js';
import type { Buckets, LedgerTx } from '../core/model.js';
import { parseSignedUnits } from '../core/units.js';

export class LedgerSchemaMissingError extends Error {
  override readonly name = 'LedgerSchemaMissingError';
}

/** The one query interface the ledger's read functions use, bound to our snapshot connection. */
function asPool(client: PoolClient): Pool {
  return { query: client.query.bind(client) } as unknown as Pool;
}

export class LedgerReader {
  private inSnapshot = false;

  constructor(
    private readonly client: PoolClient,
    readonly provider: string,
  ) {}

  /** Fails with a clear message when the ledger projector's schema is not there. */
  async assertSchema(): Promise<void> {
    const res = await this.client.query<{ t: string | null }>(`SELECT to_regclass('ledger.transactions')::text AS t`);
    if (!res.rows[0]?.t) {
      throw new LedgerSchemaMissingError('the ledger schema (ledger.transactions) does not exist in TIDEMARK_DATABASE_URL; start the ledger projector (it runs its migrations) or point the reconciler at the right database');
    }
  }

  /** Opens the run's consistent snapshot; every later read sees the ledger as of this moment. */
  async beginSnapshot(): Promise<void> {
    if (this.inSnapshot) return;
    await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    this.inSnapshot = true;
  }

  async endSnapshot(): Promise<void> {
    if (!this.inSnapshot) return;
    this.inSnapshot = false;
    await this.client.query('COMMIT');
  }

  /** Latest provider occurrence time the ledger has applied for this provider (its as-of). */
  async asOf(): Promise<string | null> {
    const res = await this.client.query<{ at: Date | null }>(`SELECT max(last_occurred_at) AS at FROM ledger.transactions WHERE provider = $1`, [this.provider]);
    return res.rows[0]?.at ? res.rows[0].at.toISOString() : null;
  }

  /** The provider's ledger transactions whose latest event occurred in [since, until). */
  window(since: Date, until: Date, page_size: number): AsyncGenerator<LedgerStatementLine> {
    return listTransactions(asPool(this.client), { provider: this.provider, since, until, page_size });
  }

  /** Ledger transactions by provider transaction id (absent ids: the ledger has none). */
  async byIds(ids: readonly string[]): Promise<Map<string, LedgerTx>> {
    const out = new Map<string, LedgerTx>();
    if (ids.length === 0) return out;
    const res = await this.client.query<LedgerTxRow>(
      `SELECT transaction_id, kind, wallet_id, asset, amount::text, status, decision, released_by,
              pending::text, available::text, held::text, last_occurred_at
         FROM ledger.transactions WHERE provider = $1 AND transaction_id = ANY($2::text[])`,
      [this.provider, ids],
    );
    for (const row of res.rows) out.set(row.transaction_id, toLedgerTx(row));
    return out;
  }

  /** Balance, transaction count and contribution totals of each (wallet, asset) pair. */
  async pairFacts(pairs: ReadonlyArray<{ wallet_id: string; asset: string }>): Promise<Map<string, PairLedgerFacts>> {
    const out = new Map<string, PairLedgerFacts>();
    if (pairs.length === 0) return out;
    for (const p of pairs) out.set(pairKey(p.wallet_id, p.asset), { balance: zero(), tx_count: 0, positions_total: zero() });
    const totals = await this.client.query<{ wallet_id: string; asset: string; n: string; pending: string; available: string; held: string }>(
      `SELECT t.wallet_id, t.asset, count(*)::text AS n, sum(t.pending)::text AS pending, sum(t.available)::text AS available, sum(t.held)::text AS held
         FROM ledger.transactions t
         JOIN unnest($1::text[], $2::text[]) AS u(wallet_id, asset) ON t.wallet_id = u.wallet_id AND t.asset = u.asset
        GROUP BY t.wallet_id, t.asset`,
      [pairs.map((p) => p.wallet_id), pairs.map((p) => p.asset)],
    );
    for (const r of totals.rows) {
      const facts = out.get(pairKey(r.wallet_id, r.asset));
      if (!facts) continue;
      facts.tx_count = Number(r.n);
      facts.positions_total = { pending: parseSignedUnits(r.pending), available: parseSignedUnits(r.available), held: parseSignedUnits(r.held) };
    }
    const wallet_ids = [...new Set(pairs.map((p) => p.wallet_id))];
    for (const b of await listBalances(asPool(this.client), { wallet_ids })) {
      const facts = out.get(pairKey(b.wallet_id, b.asset));
      if (!facts) continue;
      facts.balance = { pending: parseSignedUnits(b.pending), available: parseSignedUnits(b.available), held: parseSignedUnits(b.held) };
    }
    return out;
  }
}

interface LedgerTxRow {
  transaction_id: string;
  kind: TxKind;
  wallet_id: string;
  asset: string;
  amount: string;
  status: TxStatus;
  decision: 'ALLOW' | 'REVIEW' | 'BLOCK';
  released_by: string | null;
  pending: string;
  available: string;
  held: string;
  last_occurred_at: Date;
}

function zero(): Buckets {
  return { pending: 0n, available: 0n, held: 0n };
}

function toLedgerTx(row: LedgerTxRow): LedgerTx {
  return {
    transaction_id: row.transaction_id,
    wallet_id: row.wallet_id,
    asset: row.asset,
    direction: statementDirection(row.kind),
    status: statementStatus(row.status),
    amount: normalizeAmount(row.amount),
    position: { pending: parseSignedUnits(row.pending), available: parseSignedUnits(row.available), held: parseSignedUnits(row.held) },
    // The projector's hold rule: BLOCK always, REVIEW until a compliance officer releases it.
    held: row.decision === 'BLOCK' || (row.decision === 'REVIEW' && row.released_by === null),
    last_event_at_ms: row.last_occurred_at.getTime(),
  };
}
