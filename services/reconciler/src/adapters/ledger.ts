/**
 * The ledger side, read through the ledger projector's read contract
 * (`@tidemark/ledger-projector/read`): the window of transactions, transactions by id, the
 * per-(wallet, asset) contribution totals and balances, and its status mapping and amount
 * normalisation. The reconciler runs no SQL against the ledger's tables itself and keeps
 * no copy of its row types.
 *
 * All reads of one run happen in one REPEATABLE READ transaction on the run's own
 * connection: one consistent snapshot of a ledger that keeps moving while we read.
 */
import type { PoolClient } from 'pg';
import {
  getTransactionRows,
  ledgerAsOf,
  ledgerSchemaExists,
  listBalances,
  listTransactions,
  normalizeAmount,
  pairContributions,
  statementDirection,
  statementStatus,
  type LedgerStatementLine,
  type LedgerTransactionRow,
} from '@tidemark/ledger-projector/read';
import { pairKey } from '../core/balance.js';
import type { PairLedgerFacts } from '../core/balance.js';
import type { Buckets, LedgerTx } from '../core/model.js';
import { parseSignedUnits } from '../core/units.js';

export class LedgerSchemaMissingError extends Error {
  override readonly name = 'LedgerSchemaMissingError';
}

export class LedgerReader {
  private inSnapshot = false;

  constructor(
    private readonly client: PoolClient,
    readonly provider: string,
  ) {}

  /** Fails with a clear message when the ledger projector's schema is not there. */
  async assertSchema(): Promise<void> {
    if (!(await ledgerSchemaExists(this.client))) {
      throw new LedgerSchemaMissingError(
        'the ledger schema (ledger.transactions) does not exist in TIDEMARK_DATABASE_URL; start the ledger projector (it runs its migrations) or point the reconciler at the right database',
      );
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
    return (await ledgerAsOf(this.client, this.provider))?.toISOString() ?? null;
  }

  /** The provider's ledger transactions whose latest event occurred in [since, until). */
  window(since: Date, until: Date, page_size: number): AsyncGenerator<LedgerStatementLine> {
    return listTransactions(this.client, { provider: this.provider, since, until, page_size });
  }

  /** Ledger transactions by provider transaction id (absent ids: the ledger has none). */
  async byIds(ids: readonly string[]): Promise<Map<string, LedgerTx>> {
    const out = new Map<string, LedgerTx>();
    for (const row of await getTransactionRows(this.client, this.provider, ids)) out.set(row.transaction_id, toLedgerTx(row));
    return out;
  }

  /** Balance, transaction count and contribution totals of each (wallet, asset) pair. */
  async pairFacts(pairs: ReadonlyArray<{ wallet_id: string; asset: string }>): Promise<Map<string, PairLedgerFacts>> {
    const out = new Map<string, PairLedgerFacts>();
    if (pairs.length === 0) return out;
    for (const p of pairs) out.set(pairKey(p.wallet_id, p.asset), { balance: zero(), tx_count: 0, positions_total: zero() });
    for (const r of await pairContributions(this.client, pairs)) {
      const facts = out.get(pairKey(r.wallet_id, r.asset));
      if (!facts) continue;
      facts.tx_count = r.tx_count;
      facts.positions_total = bucketsOf(r);
    }
    const wallet_ids = [...new Set(pairs.map((p) => p.wallet_id))];
    for (const b of await listBalances(this.client, { wallet_ids })) {
      const facts = out.get(pairKey(b.wallet_id, b.asset));
      if (!facts) continue;
      facts.balance = bucketsOf(b);
    }
    return out;
  }
}

function zero(): Buckets {
  return { pending: 0n, available: 0n, held: 0n };
}

function bucketsOf(amounts: { pending: string; available: string; held: string }): Buckets {
  return {
    pending: parseSignedUnits(amounts.pending),
    available: parseSignedUnits(amounts.available),
    held: parseSignedUnits(amounts.held),
  };
}

function toLedgerTx(row: LedgerTransactionRow): LedgerTx {
  return {
    transaction_id: row.transaction_id,
    wallet_id: row.wallet_id,
    asset: row.asset,
    direction: statementDirection(row.kind),
    status: statementStatus(row.status),
    amount: normalizeAmount(row.amount),
    position: bucketsOf(row),
    // The projector's hold rule: BLOCK always, REVIEW until a compliance officer releases it.
    held: row.decision === 'BLOCK' || (row.decision === 'REVIEW' && row.released_by === null),
    last_event_at_ms: row.last_occurred_at.getTime(),
  };
}
