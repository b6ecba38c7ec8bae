/**
 * The simulator's ground truth: every transaction and event it generated, what it
 * withheld or failed to deliver, what its statements will claim, and the balances a
 * correct ledger must show. Recording is idempotent per event id, so the order and
 * number of times events are recorded never change the result.
 */
import { effectiveStatus, statementRecordOf, type StatementRecord } from './statements.js';
import { transactionEffect, type Buckets } from './effects.js';
import type { Decision, DiscrepancyKind, EventType, KycStatus, SimEvent, SimTransaction, StatementStatus } from './model.js';
import { formatCanonical } from './money.js';
import type { Generated } from './generate.js';

export type DecisionFn = (tx: SimTransaction) => Decision;

/** Default screening assumption: sanctioned counterparty address → BLOCK (held); everything else ALLOW. */
export const sanctionedBlocks: DecisionFn = (tx) => (tx.sanctioned_address ? 'BLOCK' : 'ALLOW');

/** The simulator's intended decision, ALLOW where it has no opinion. */
export const expectedOrAllow: DecisionFn = (tx) => tx.expected_screening ?? 'ALLOW';

export const DECISION_POLICIES = {
  sanctioned_blocks: sanctionedBlocks,
  expected: expectedOrAllow,
} as const;
export type DecisionPolicy = keyof typeof DECISION_POLICIES;

/**
 * delivered: what the ledger must show once every webhook the provider means to send has
 * been acknowledged (withheld and abandoned events excluded).
 * complete: every event the provider generated (what a healed ledger must show).
 */
export type TruthView = 'delivered' | 'complete';

export interface EventRecord {
  id: string;
  type: EventType;
  occurred_at_ms: number;
  withheld: boolean;
  abandoned: boolean;
  acknowledged: boolean;
}

export interface TransactionRecord {
  tx: SimTransaction;
  events: EventRecord[];
  updated_at_ms: number;
}

export interface BalanceLine {
  wallet_id: string;
  asset: string;
  pending: string;
  available: string;
  held: string;
  /** Same values as base-unit integers (decimal strings) for exact comparisons. */
  units: { decimals: number; pending: string; available: string; held: string };
}

export interface WalletBalances {
  wallet_id: string;
  provider: string;
  balances: BalanceLine[];
}

export interface ExpectedDiscrepancy {
  kind: 'missing_in_ledger' | 'missing_at_provider' | 'amount_mismatch' | 'status_mismatch';
  /** What caused it: an injected discrepancy, or a delivery the simulator gave up on. */
  injected: DiscrepancyKind | 'abandoned_delivery';
  provider: string;
  transaction_id: string;
  wallet_id: string;
  asset: string;
  ledger_status: StatementStatus | null;
  ledger_amount: string | null;
  provider_status: StatementStatus | null;
  provider_amount: string | null;
}

export class GroundTruth {
  private readonly txs = new Map<string, TransactionRecord>();
  private readonly events = new Map<string, { record: EventRecord; tx_key: string | null }>();
  private readonly kyc = new Map<
    string,
    { provider: string; status: KycStatus; wallet_id: string; updated_at_ms: number; event_id: string }
  >();
  private readonly statement_cache = new Map<string, StatementRecord[]>();
  private generation = 0;

  /** Records a generated event (idempotent per event id). */
  record({ event, transaction }: Generated): void {
    if (this.events.has(event.id)) return;
    this.generation++;
    const record: EventRecord = {
      id: event.id,
      type: event.type,
      occurred_at_ms: event.occurred_at_ms,
      withheld: event.withheld,
      abandoned: false,
      acknowledged: false,
    };
    if (!transaction) {
      this.events.set(event.id, { record, tx_key: null });
      const current = this.kyc.get(event.customer_id);
      if (event.kyc_status && (!current || current.updated_at_ms <= event.occurred_at_ms)) {
        this.kyc.set(event.customer_id, {
          provider: event.provider,
          status: event.kyc_status,
          wallet_id: event.wallet_id,
          updated_at_ms: event.occurred_at_ms,
          event_id: event.id,
        });
      }
      return;
    }
    const key = txKey(transaction.provider, transaction.transaction_id);
    let tx_record = this.txs.get(key);
    if (!tx_record) {
      tx_record = { tx: transaction, events: [], updated_at_ms: event.occurred_at_ms };
      this.txs.set(key, tx_record);
    }
    tx_record.events.push(record);
    tx_record.events.sort((a, b) => a.occurred_at_ms - b.occurred_at_ms || a.id.localeCompare(b.id));
    tx_record.updated_at_ms = Math.max(tx_record.updated_at_ms, event.occurred_at_ms);
    this.events.set(event.id, { record, tx_key: key });
  }

  /** Delivery acknowledged by the receiver (2xx) at least once. */
  markAcknowledged(event_id: string): void {
    const entry = this.events.get(event_id);
    if (entry) entry.record.acknowledged = true;
  }

  /** Delivery gave up on an event that was never acknowledged: the ledger will not have it. */
  markAbandoned(event_id: string): void {
    const entry = this.events.get(event_id);
    if (entry && !entry.record.acknowledged) {
      entry.record.abandoned = true;
      this.generation++;
    }
  }

  /**
   * Makes the provider's statements disagree with its webhooks for one transaction at
   * run time (the webhooks are already out, so only statement-side kinds are possible).
   */
  injectStatementDiscrepancy(
    provider: string,
    transaction_id: string,
    kind: 'alter_amount' | 'alter_status' | 'omit_from_statements',
  ): boolean {
    const record = this.txs.get(txKey(provider, transaction_id));
    if (!record || record.tx.discrepancy !== null) return false;
    record.tx.discrepancy = kind;
    this.generation++;
    return true;
  }

  get transaction_count(): number {
    return this.txs.size;
  }

  get event_count(): number {
    return this.events.size;
  }

  transaction(provider: string, transaction_id: string): TransactionRecord | undefined {
    return this.txs.get(txKey(provider, transaction_id));
  }

  transactions(): TransactionRecord[] {
    return [...this.txs.values()];
  }

  kycStatuses(): {
    customer_id: string;
    provider: string;
    wallet_id: string;
    status: KycStatus;
    updated_at_ms: number;
    event_id: string;
  }[] {
    return [...this.kyc.entries()]
      .map(([customer_id, v]) => ({ customer_id, ...v }))
      .sort((a, b) => a.customer_id.localeCompare(b.customer_id));
  }

  /** Events of one view, as a set of types per transaction. */
  private typesOf(record: TransactionRecord, view: TruthView): Set<EventType> {
    const types = new Set<EventType>();
    for (const e of record.events) {
      if (view === 'delivered' && (e.withheld || e.abandoned)) continue;
      types.add(e.type);
    }
    return types;
  }

  /** Status the ledger should hold for a transaction under a view (null: it never heard of it). */
  ledgerStatus(record: TransactionRecord, view: TruthView = 'delivered'): StatementStatus | null {
    const types = this.typesOf(record, view);
    if (types.size === 0) return null;
    return effectiveStatus(record.tx.kind, types);
  }

  /** Expected balances per wallet and asset, under DESIGN 3.3 and the given screening decisions. */
  balances(opts: { view?: TruthView; decide?: DecisionFn } = {}): WalletBalances[] {
    const view = opts.view ?? 'delivered';
    const decide = opts.decide ?? sanctionedBlocks;
    const totals = new Map<string, { provider: string; wallet_id: string; asset: string; decimals: number; b: Buckets }>();
    for (const record of this.txs.values()) {
      const { tx } = record;
      const types = this.typesOf(record, view);
      if (types.size === 0) continue;
      const key = `${tx.wallet_id}|${tx.asset}`;
      let line = totals.get(key);
      if (!line) {
        line = {
          provider: tx.provider,
          wallet_id: tx.wallet_id,
          asset: tx.asset,
          decimals: tx.decimals,
          b: { pending: 0n, available: 0n, held: 0n },
        };
        totals.set(key, line);
      }
      const decision = tx.kind === 'deposit' ? decide(tx) : 'ALLOW';
      const effect = transactionEffect(tx.kind, types, tx.amount_units, decision);
      line.b.pending += effect.pending;
      line.b.available += effect.available;
      line.b.held += effect.held;
    }
    const wallets = new Map<string, WalletBalances>();
    for (const line of [...totals.values()].sort((a, b) => a.wallet_id.localeCompare(b.wallet_id) || a.asset.localeCompare(b.asset))) {
      if (line.b.pending < 0n || line.b.held < 0n) {
        throw new Error(`invariant: negative pending/held for ${line.wallet_id} ${line.asset}`);
      }
      let wallet = wallets.get(line.wallet_id);
      if (!wallet) {
        wallet = { wallet_id: line.wallet_id, provider: line.provider, balances: [] };
        wallets.set(line.wallet_id, wallet);
      }
      wallet.balances.push({
        wallet_id: line.wallet_id,
        asset: line.asset,
        pending: formatCanonical(line.b.pending, line.decimals),
        available: formatCanonical(line.b.available, line.decimals),
        held: formatCanonical(line.b.held, line.decimals),
        units: {
          decimals: line.decimals,
          pending: line.b.pending.toString(),
          available: line.b.available.toString(),
          held: line.b.held.toString(),
        },
      });
    }
    return [...wallets.values()];
  }

  /** The provider's statement records (DESIGN 3.5), sorted by (updated_at, transaction_id). */
  statementRecords(provider: string): readonly StatementRecord[] {
    const cache_key = `${provider}@${this.generation}`;
    const cached = this.statement_cache.get(cache_key);
    if (cached) return cached;
    const records: StatementRecord[] = [];
    for (const record of this.txs.values()) {
      if (record.tx.provider !== provider) continue;
      const statement = statementRecordOf(record.tx, this.typesOf(record, 'complete'), record.updated_at_ms);
      if (statement) records.push(statement);
    }
    records.sort(compareStatementRecords);
    this.statement_cache.clear();
    this.statement_cache.set(cache_key, records);
    return records;
  }

  /** The discrepancies a correct reconciler must report once delivery has finished. */
  expectedDiscrepancies(): ExpectedDiscrepancy[] {
    const out: ExpectedDiscrepancy[] = [];
    for (const record of this.txs.values()) {
      const { tx } = record;
      const complete_types = this.typesOf(record, 'complete');
      const statement = statementRecordOf(tx, complete_types, record.updated_at_ms);
      const ledger_status = this.ledgerStatus(record, 'delivered');
      const abandoned = record.events.some((e) => e.abandoned);
      if (!tx.discrepancy && !abandoned) continue;
      const base: Omit<ExpectedDiscrepancy, 'kind'> = {
        injected: tx.discrepancy ?? ('abandoned_delivery' as const),
        provider: tx.provider,
        transaction_id: tx.transaction_id,
        wallet_id: tx.wallet_id,
        asset: tx.asset,
        ledger_status,
        ledger_amount: ledger_status === null ? null : tx.amount,
        provider_status: statement?.status ?? null,
        provider_amount: statement?.amount ?? null,
      };
      if (ledger_status === null && statement) out.push({ ...base, kind: 'missing_in_ledger' });
      else if (!statement && ledger_status !== null) out.push({ ...base, kind: 'missing_at_provider' });
      else if (statement && statement.amount !== tx.amount) out.push({ ...base, kind: 'amount_mismatch' });
      else if (statement && statement.status !== ledger_status) out.push({ ...base, kind: 'status_mismatch' });
    }
    return out.sort((a, b) => a.transaction_id.localeCompare(b.transaction_id));
  }

  /** Counts for status endpoints. */
  summary(): { transactions: number; events: number; withheld: number; abandoned: number; acknowledged: number } {
    let withheld = 0;
    let abandoned = 0;
    let acknowledged = 0;
    for (const { record } of this.events.values()) {
      if (record.withheld) withheld++;
      if (record.abandoned) abandoned++;
      if (record.acknowledged) acknowledged++;
    }
    return { transactions: this.txs.size, events: this.events.size, withheld, abandoned, acknowledged };
  }
}

export function txKey(provider: string, transaction_id: string): string {
  return `${provider}|${transaction_id}`;
}

export function compareStatementRecords(a: StatementRecord, b: StatementRecord): number {
  return a.updated_at_ms - b.updated_at_ms || (a.transaction_id < b.transaction_id ? -1 : a.transaction_id > b.transaction_id ? 1 : 0);
}

/** The event facts the truth needs, for feeding a ReferenceLedger in tests. */
export function ledgerEventOf(event: SimEvent, tx: SimTransaction | null) {
  return {
    id: event.id,
    type: event.type,
    transaction_id: event.transaction_id,
    wallet_id: event.wallet_id,
    asset: event.asset,
    amount_units: tx ? tx.amount_units : null,
  };
}
