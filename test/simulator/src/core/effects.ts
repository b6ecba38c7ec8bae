/**
 * DESIGN 3.3 ledger semantics, twice:
 *
 *  - `transactionEffect` says what a transaction contributes to its wallet's buckets
 *    given the *set* of its event types that have arrived — arrival order and repeats
 *    cannot matter by construction. The ground truth uses it.
 *  - `ReferenceLedger` applies events one at a time, in whatever order they arrive, as
 *    a per-transaction state machine with balanced double-entry postings, exactly as the
 *    table reads ("pending -= amount (if it was pending)" ...). Tests show both agree for
 *    every arrival order, so the truth is what a correct ledger must end up with.
 */
import type { Decision, EventType, TransactionKind } from './model.js';

export interface Buckets {
  pending: bigint;
  available: bigint;
  held: bigint;
}

export const ZERO_BUCKETS: Readonly<Buckets> = Object.freeze({ pending: 0n, available: 0n, held: 0n });

/** Where confirmed deposits land: REVIEW and BLOCK go to held. */
export function creditBucket(decision: Decision): 'available' | 'held' {
  return decision === 'ALLOW' ? 'available' : 'held';
}

export function transactionEffect(kind: TransactionKind, types: ReadonlySet<EventType>, amount: bigint, decision: Decision): Buckets {
  if (kind === 'deposit') {
    if (types.has('deposit.reversed')) return { ...ZERO_BUCKETS };
    if (types.has('deposit.confirmed')) {
      return creditBucket(decision) === 'available'
        ? { pending: 0n, available: amount, held: 0n }
        : { pending: 0n, available: 0n, held: amount };
    }
    if (types.has('deposit.failed')) return { ...ZERO_BUCKETS };
    if (types.has('deposit.detected')) return { pending: amount, available: 0n, held: 0n };
    return { ...ZERO_BUCKETS };
  }
  if (types.has('withdrawal.confirmed')) return { pending: 0n, available: -amount, held: 0n };
  if (types.has('withdrawal.failed')) return { ...ZERO_BUCKETS };
  if (types.has('withdrawal.requested') || types.has('withdrawal.broadcast')) {
    return { pending: 0n, available: -amount, held: amount };
  }
  return { ...ZERO_BUCKETS };
}

// --- incremental reference ledger ---------------------------------------------------------

type DepositState = 'none' | 'pending' | 'credited' | 'failed' | 'reversed';
type WithdrawalState = 'none' | 'held' | 'confirmed' | 'failed';

export interface LedgerEvent {
  id: string;
  type: EventType;
  transaction_id: string | null;
  wallet_id: string;
  asset: string | null;
  amount_units: bigint | null;
}

export interface Posting {
  event_id: string;
  /** `${wallet_id}|${asset}|${bucket}` or `external|${asset}` (the outside world's contra account). */
  account: string;
  units: bigint;
}

interface TxState {
  kind: TransactionKind;
  wallet_id: string;
  asset: string;
  amount: bigint;
  deposit: DepositState;
  withdrawal: WithdrawalState;
  credited_to: 'available' | 'held' | null;
}

export class ReferenceLedger {
  private readonly seen = new Set<string>();
  private readonly txs = new Map<string, TxState>();
  readonly postings: Posting[] = [];
  private readonly balances = new Map<string, bigint>();

  constructor(private readonly decide: (transaction_id: string) => Decision) {}

  /** Applies one arrival; returns false for a replay of an event already applied. */
  apply(event: LedgerEvent): boolean {
    if (this.seen.has(event.id)) return false;
    this.seen.add(event.id);
    if (event.transaction_id === null || event.asset === null || event.amount_units === null) return true; // KYC: no money
    const kind: TransactionKind = event.type.startsWith('deposit.') ? 'deposit' : 'withdrawal';
    let tx = this.txs.get(event.transaction_id);
    if (!tx) {
      tx = {
        kind,
        wallet_id: event.wallet_id,
        asset: event.asset,
        amount: event.amount_units,
        deposit: 'none',
        withdrawal: 'none',
        credited_to: null,
      };
      this.txs.set(event.transaction_id, tx);
    }
    if (tx.kind !== kind || tx.amount !== event.amount_units || tx.wallet_id !== event.wallet_id || tx.asset !== event.asset) {
      throw new Error(`invariant: event ${event.id} contradicts transaction ${event.transaction_id}`);
    }
    const moves: [bucket: keyof Buckets, units: bigint][] = [];
    if (kind === 'deposit') this.applyDeposit(tx, event, moves);
    else this.applyWithdrawal(tx, event.type, moves);
    this.post(event.id, tx, moves);
    return true;
  }

  private applyDeposit(tx: TxState, event: LedgerEvent, moves: [keyof Buckets, bigint][]): void {
    const a = tx.amount;
    switch (event.type) {
      case 'deposit.detected':
        if (tx.deposit === 'none') {
          moves.push(['pending', a]);
          tx.deposit = 'pending';
        }
        return;
      case 'deposit.confirmed':
        if (tx.deposit === 'none' || tx.deposit === 'pending') {
          if (tx.deposit === 'pending') moves.push(['pending', -a]);
          tx.credited_to = creditBucket(this.decide(event.transaction_id!));
          moves.push([tx.credited_to, a]);
          tx.deposit = 'credited';
        }
        return;
      case 'deposit.failed':
        if (tx.deposit === 'none' || tx.deposit === 'pending') {
          if (tx.deposit === 'pending') moves.push(['pending', -a]);
          tx.deposit = 'failed';
        }
        return;
      case 'deposit.reversed':
        // A reversal undoes a credited deposit; one that overtakes its confirmation leaves nothing to undo later.
        if (tx.deposit === 'pending') moves.push(['pending', -a]);
        if (tx.deposit === 'credited') moves.push([tx.credited_to!, -a]);
        if (tx.deposit !== 'failed') tx.deposit = 'reversed';
        return;
      default:
        throw new Error(`invariant: ${event.type} is not a deposit event`);
    }
  }

  private applyWithdrawal(tx: TxState, type: EventType, moves: [keyof Buckets, bigint][]): void {
    const a = tx.amount;
    switch (type) {
      case 'withdrawal.requested':
      case 'withdrawal.broadcast':
        if (tx.withdrawal === 'none') {
          moves.push(['available', -a], ['held', a]);
          tx.withdrawal = 'held';
        }
        return;
      case 'withdrawal.confirmed':
        if (tx.withdrawal === 'none') moves.push(['available', -a]);
        if (tx.withdrawal === 'held') moves.push(['held', -a]);
        if (tx.withdrawal === 'none' || tx.withdrawal === 'held') tx.withdrawal = 'confirmed';
        return;
      case 'withdrawal.failed':
        if (tx.withdrawal === 'held') moves.push(['held', -a], ['available', a]);
        if (tx.withdrawal === 'none' || tx.withdrawal === 'held') tx.withdrawal = 'failed';
        return;
      default:
        throw new Error(`invariant: ${type} is not a withdrawal event`);
    }
  }

  /** Every bucket move is balanced by the opposite move on the outside world's account. */
  private post(event_id: string, tx: TxState, moves: [keyof Buckets, bigint][]): void {
    let net = 0n;
    for (const [bucket, units] of moves) {
      this.addPosting({ event_id, account: `${tx.wallet_id}|${tx.asset}|${bucket}`, units });
      net += units;
    }
    if (net !== 0n) this.addPosting({ event_id, account: `external|${tx.asset}`, units: -net });
  }

  private addPosting(posting: Posting): void {
    this.postings.push(posting);
    this.balances.set(posting.account, (this.balances.get(posting.account) ?? 0n) + posting.units);
  }

  /** Sum of all postings of one asset; a balanced ledger gives 0. */
  assetSum(asset: string): bigint {
    let sum = 0n;
    for (const [account, units] of this.balances) if (account.split('|')[1] === asset) sum += units;
    return sum;
  }

  buckets(wallet_id: string, asset: string): Buckets {
    return {
      pending: this.balances.get(`${wallet_id}|${asset}|pending`) ?? 0n,
      available: this.balances.get(`${wallet_id}|${asset}|available`) ?? 0n,
      held: this.balances.get(`${wallet_id}|${asset}|held`) ?? 0n,
    };
  }

  /** Non-zero-or-touched (wallet, asset) pairs. */
  keys(): string[] {
    const out = new Set<string>();
    for (const account of this.balances.keys()) {
      const parts = account.split('|');
      if (parts.length === 3) out.add(`${parts[0]}|${parts[1]}`);
    }
    return [...out].sort();
  }
}
