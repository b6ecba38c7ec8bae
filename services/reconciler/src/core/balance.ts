/**
 * Balances implied by a provider's records under the ledger semantics of DESIGN 3.3,
 * and the rule that decides when a (wallet, asset) balance is a `balance_mismatch`.
 *
 * What a statement record implies for its wallet (amount a):
 *
 *   in  pending   -> pending += a            out pending   -> available -= a, held += a
 *   in  confirmed -> available += a          out confirmed -> available -= a
 *                    (held += a when the ledger's screening holds the deposit)
 *   in  failed    -> nothing                 out failed    -> nothing
 *   in  reversed  -> nothing                 out reversed  -> nothing (funds returned)
 *
 * The provider does not know Tidemark's screening, so for a confirmed deposit the split
 * between `available` and `held` is taken from the ledger's own hold flag; every other
 * bucket is fully determined by the provider's status and amount.
 *
 * The balance rule (sound for any window):
 *
 *   The ledger's balance of (w, a) covers its whole history, the window only part of it.
 *   For transactions outside the window we have no provider evidence, so their
 *   contribution is taken as the ledger has it; inside the window each transaction
 *   contributes what the provider's record implies. Differences caused by a transaction
 *   that already has its own finding (missing_in_ledger, missing_at_provider,
 *   amount_mismatch, status_mismatch, wallet/asset mismatch) are *explained* and not
 *   reported again. What remains is
 *
 *     residual(w, a) = balance(w, a) - sum(all ledger positions of (w, a))          [drift]
 *                    + sum over clean matched transactions of (ledger position - implied)
 *
 *   i.e. the balance table disagreeing with the ledger's own transactions, or a
 *   transaction whose status and amount agree with the provider while its money sits in
 *   the wrong bucket. A non-zero residual in any bucket is a `balance_mismatch`, reported
 *   with the ledger's balance and the provider-implied balance of the pair.
 *   When the ledger cannot give the positions total of a pair, the drift term is checked
 *   only for pairs whose every ledger transaction was inside the window (then the total
 *   is exactly what the run saw).
 */
import { toBaseUnits } from '@tidemark/common/money';
import { type Buckets, type Direction, type StatementStatus, ZERO_BUCKETS, LIMITS } from './model.js';
import { formatUnits } from './units.js';

export function impliedPosition(direction: Direction, status: StatementStatus, amount_units: bigint, held: boolean): Buckets {
  if (amount_units < 0n) throw new Error('invariant: amounts are non-negative');
  if (direction === 'in') {
    if (status === 'pending') return { pending: amount_units, available: 0n, held: 0n };
    if (status === 'confirmed')
      return held ? { pending: 0n, available: 0n, held: amount_units } : { pending: 0n, available: amount_units, held: 0n };
    return { ...ZERO_BUCKETS };
  }
  if (status === 'pending') return { pending: 0n, available: -amount_units, held: amount_units };
  if (status === 'confirmed') return { pending: 0n, available: -amount_units, held: 0n };
  return { ...ZERO_BUCKETS };
}

export function impliedPositionOf(record: { direction: Direction; status: StatementStatus; amount: string }, held: boolean): Buckets {
  return impliedPosition(record.direction, record.status, toBaseUnits(record.amount), held);
}

export function addBuckets(a: Buckets, b: Buckets): Buckets {
  return { pending: a.pending + b.pending, available: a.available + b.available, held: a.held + b.held };
}

export function subBuckets(a: Buckets, b: Buckets): Buckets {
  return { pending: a.pending - b.pending, available: a.available - b.available, held: a.held - b.held };
}

export function isZero(b: Buckets): boolean {
  return b.pending === 0n && b.available === 0n && b.held === 0n;
}

export function formatBuckets(b: Buckets): string {
  return `pending=${formatUnits(b.pending)} available=${formatUnits(b.available)} held=${formatUnits(b.held)}`;
}

export function pairKey(wallet_id: string, asset: string): string {
  return `${wallet_id}\u0000${asset}`;
}

export function splitPairKey(key: string): { wallet_id: string; asset: string } {
  const at = key.indexOf('\u0000');
  if (at < 0) throw new Error(`invariant: malformed pair key ${JSON.stringify(key)}`);
  return { wallet_id: key.slice(0, at), asset: key.slice(at + 1) };
}

/** Per-pair state one run keeps: small on purpose (most pairs never get a delta). */
interface PairTally {
  /** Ledger transactions of the pair the run compared (matched or ledger-only). */
  ledger_seen: number;
  /** Sum of those transactions' ledger positions. */
  ledger_positions: Buckets;
  /** Sum of (ledger position - implied position) over clean matched transactions. */
  unexplained: Buckets;
  /** Sum of the implied positions of the pair's provider records in the window (for the report's provider side). */
  implied: Buckets;
}

export class PairCapacityError extends Error {
  override readonly name = 'PairCapacityError';
}

/** Accumulates the per-pair facts of a run; bounded by LIMITS.pairs_tracked_max. */
export class PairTallies {
  private readonly tallies = new Map<string, PairTally>();

  constructor(private readonly pairs_max: number = LIMITS.pairs_tracked_max) {}

  get size(): number {
    return this.tallies.size;
  }

  private tally(wallet_id: string, asset: string): PairTally {
    const key = pairKey(wallet_id, asset);
    let t = this.tallies.get(key);
    if (!t) {
      if (this.tallies.size >= this.pairs_max) {
        throw new PairCapacityError(`more than ${this.pairs_max} (wallet, asset) pairs in one window; reconcile a shorter window`);
      }
      t = { ledger_seen: 0, ledger_positions: { ...ZERO_BUCKETS }, unexplained: { ...ZERO_BUCKETS }, implied: { ...ZERO_BUCKETS } };
      this.tallies.set(key, t);
    }
    return t;
  }

  noteLedger(wallet_id: string, asset: string, position: Buckets): void {
    const t = this.tally(wallet_id, asset);
    t.ledger_seen += 1;
    t.ledger_positions = addBuckets(t.ledger_positions, position);
  }

  noteImplied(wallet_id: string, asset: string, implied: Buckets): void {
    const t = this.tally(wallet_id, asset);
    t.implied = addBuckets(t.implied, implied);
  }

  noteUnexplained(wallet_id: string, asset: string, delta: Buckets): void {
    if (isZero(delta)) return;
    const t = this.tally(wallet_id, asset);
    t.unexplained = addBuckets(t.unexplained, delta);
  }

  /** Pair keys in a stable order (so the balance pass can page through them). */
  keys(): string[] {
    return [...this.tallies.keys()].sort();
  }

  get(key: string): Readonly<PairTally> | undefined {
    return this.tallies.get(key);
  }
}

/** What the ledger says about one pair, for the balance pass. */
export interface PairLedgerFacts {
  /** The balances table's row (zero when the ledger has none). */
  balance: Buckets;
  /** Number of ledger transactions of the pair, all time. */
  tx_count: number;
  /** Sum of all the pair's transaction positions, all time; null when the ledger cannot say. */
  positions_total: Buckets | null;
}

export interface BalanceVerdict {
  residual: Buckets;
  /** The provider-implied balance of the pair (outside-window transactions as the ledger has them). */
  provider_balance: Buckets;
  drift_checked: boolean;
}

/** The balance rule (see the module comment). */
export function judgePair(tally: Readonly<PairTally>, facts: PairLedgerFacts): BalanceVerdict {
  let total = facts.positions_total;
  let drift_checked = true;
  if (total === null) {
    // Without the ledger's total we know it exactly only when the run saw every transaction.
    if (tally.ledger_seen === facts.tx_count) total = tally.ledger_positions;
    else drift_checked = false;
  }
  const outside = total === null ? ZERO_BUCKETS : subBuckets(total, tally.ledger_positions);
  const provider_balance = addBuckets(outside, tally.implied);
  const drift = total === null ? ZERO_BUCKETS : subBuckets(facts.balance, total);
  const residual = addBuckets(drift, tally.unexplained);
  return { residual, provider_balance, drift_checked };
}

export const BALANCE_RULE =
  "per (wallet, asset): ledger balance vs provider-implied balance (in-window transactions as the provider records them under DESIGN 3.3, confirmed deposits split available/held by the ledger's screening hold; out-of-window transactions as the ledger has them); differences already explained by a transaction-level discrepancy are not reported again";
