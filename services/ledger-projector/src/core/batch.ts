/**
 * Projects an ordered batch of ledger inputs onto the transaction states and wallet
 * balances loaded (and locked) by the adapter. Pure: it returns everything the adapter
 * must write and the records to publish, one projection per input, in input order.
 */
import type { BalanceChanged } from '@tidemark/common/records';
import { type AccountRef, accountId } from './accounts.js';
import { formatUnits } from './amount.js';
import { type Posting, type TxState, type TxStatus, LedgerInvariantError, applyEvent, txStatus } from './transaction.js';
import type { EventMeta, LedgerInput } from './validate.js';

export interface WalletBalance {
  wallet_id: string;
  asset: string;
  pending: bigint;
  available: bigint;
  held: bigint;
  /** Number of changes so far; BalanceChanged.version. */
  version: number;
}

export type RecordOutcome = 'applied' | 'recorded' | 'kyc_recorded' | 'unknown_type' | 'duplicate_in_batch';

export interface RecordProjection {
  meta: EventMeta;
  outcome: RecordOutcome;
  /** ledger.balances.v1 records this event produced (0 or 1: one transaction touches one wallet/asset). */
  balance_changes: BalanceChanged[];
  status: TxStatus | null;
  postings_count: number;
  anomalies: string[];
}

export interface PostingRow {
  /** Cause of the posting: provider event id, or a ledger action id such as 'tidemark-release:...'. */
  provider: string;
  event_id: string;
  transaction_id: string;
  asset: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
}

export interface KycUpdate {
  customer_id: string;
  kyc_status: string;
  provider: string;
  event_id: string;
  occurred_at_ms: number;
}

export interface BatchProjection {
  records: RecordProjection[];
  postings: PostingRow[];
  /** Every account a posting touches (the adapter creates missing ones). */
  accounts: Map<string, AccountRef>;
  /** Final state of every transaction an input touched. */
  states: Map<string, TxState>;
  /** Final balance of every (wallet, asset) that changed. */
  balances: Map<string, WalletBalance>;
  kyc: KycUpdate[];
}

/** Most inputs one projection accepts; the runtime's batches are smaller. */
export const BATCH_INPUTS_MAX = 10_000;

export function txKey(provider: string, transaction_id: string): string {
  return `${provider}\u0000${transaction_id}`;
}

export function balanceKey(wallet_id: string, asset: string): string {
  return `${wallet_id}\u0000${asset}`;
}

export function eventKey(provider: string, event_id: string): string {
  return `${provider}\u0000${event_id}`;
}

export function zeroBalance(wallet_id: string, asset: string): WalletBalance {
  return { wallet_id, asset, pending: 0n, available: 0n, held: 0n, version: 0 };
}

/** Applies postings to a wallet balance (only this wallet's accounts count). */
export function applyPostingsToBalance(balance: WalletBalance, postings: Posting[]): WalletBalance {
  const next = { ...balance };
  const move = (ref: AccountRef, delta: bigint) => {
    if (ref.kind !== 'wallet') return;
    if (ref.wallet_id !== balance.wallet_id || ref.asset !== balance.asset) {
      throw new LedgerInvariantError(`posting on ${accountId(ref)} applied to balance ${balance.wallet_id}/${balance.asset}`);
    }
    next[ref.bucket] += delta;
  };
  for (const p of postings) {
    move(p.debit, p.amount_units);
    move(p.credit, -p.amount_units);
  }
  if (next.pending < 0n || next.held < 0n) {
    throw new LedgerInvariantError(`balance ${balance.wallet_id}/${balance.asset} would get a negative pending or held bucket`);
  }
  next.version = balance.version + 1;
  return next;
}

export function balanceChanged(
  balance: WalletBalance,
  cause: { provider: string; event_id: string; transaction_id: string | null },
  changed_at_ms: number,
): BalanceChanged {
  return {
    wallet_id: balance.wallet_id,
    asset: balance.asset,
    pending: formatUnits(balance.pending),
    available: formatUnits(balance.available),
    held: formatUnits(balance.held),
    version: balance.version,
    provider: cause.provider,
    event_id: cause.event_id,
    transaction_id: cause.transaction_id,
    changed_at_ms,
  };
}

export function postingRows(postings: Posting[], cause: { provider: string; event_id: string; transaction_id: string }): PostingRow[] {
  return postings.map((p) => ({
    provider: cause.provider,
    event_id: cause.event_id,
    transaction_id: cause.transaction_id,
    asset: p.asset,
    debit_account_id: accountId(p.debit),
    credit_account_id: accountId(p.credit),
    amount: formatUnits(p.amount_units),
  }));
}

export interface BatchContext {
  /** Loaded states, by txKey; absent = transaction not seen yet. */
  states: ReadonlyMap<string, TxState>;
  /** Loaded balances, by balanceKey; absent = zero at version 0. */
  balances: ReadonlyMap<string, WalletBalance>;
  /** Commit time stamped on every BalanceChanged of the batch. */
  now_ms: number;
}

export function projectBatch(inputs: readonly LedgerInput[], ctx: BatchContext): BatchProjection {
  if (inputs.length > BATCH_INPUTS_MAX) throw new LedgerInvariantError(`batch of ${inputs.length} inputs exceeds ${BATCH_INPUTS_MAX}`);
  const out: BatchProjection = { records: [], postings: [], accounts: new Map(), states: new Map(), balances: new Map(), kyc: [] };
  const states = new Map(ctx.states);
  const balances = new Map(ctx.balances);
  const seen = new Map<string, RecordProjection>();

  for (const input of inputs) {
    const meta = input.meta;
    const first = seen.get(eventKey(meta.provider, meta.event_id));
    if (first) {
      out.records.push({ ...first, outcome: 'duplicate_in_batch' });
      continue;
    }
    let projection: RecordProjection;
    if (input.class === 'unknown') {
      projection = { meta, outcome: 'unknown_type', balance_changes: [], status: null, postings_count: 0, anomalies: [] };
    } else if (input.class === 'kyc') {
      out.kyc.push({
        customer_id: input.customer_id,
        kyc_status: input.kyc_status,
        provider: meta.provider,
        event_id: meta.event_id,
        occurred_at_ms: meta.occurred_at_ms,
      });
      projection = { meta, outcome: 'kyc_recorded', balance_changes: [], status: null, postings_count: 0, anomalies: [] };
    } else {
      const event = input.event;
      const key = txKey(event.provider, event.transaction_id);
      const before = states.get(key) ?? null;
      const { newState, postings } = applyEvent(before, event, input.screening);
      states.set(key, newState);
      out.states.set(key, newState);
      const balance_changes: BalanceChanged[] = [];
      if (postings.length > 0) {
        const bKey = balanceKey(event.wallet_id, event.asset);
        const balance = applyPostingsToBalance(balances.get(bKey) ?? zeroBalance(event.wallet_id, event.asset), postings);
        balances.set(bKey, balance);
        out.balances.set(bKey, balance);
        balance_changes.push(balanceChanged(balance, event, ctx.now_ms));
        out.postings.push(...postingRows(postings, event));
        for (const p of postings) {
          out.accounts.set(accountId(p.debit), p.debit);
          out.accounts.set(accountId(p.credit), p.credit);
        }
      }
      const anomalies = newState.anomalies.filter((a) => !(before?.anomalies ?? []).includes(a));
      projection = {
        meta,
        outcome: postings.length > 0 ? 'applied' : 'recorded',
        balance_changes,
        status: txStatus(newState),
        postings_count: postings.length,
        anomalies,
      };
    }
    seen.set(eventKey(meta.provider, meta.event_id), projection);
    out.records.push(projection);
  }
  return out;
}
