/** The simulator's domain: what a provider knows about its customers, wallets and transactions. */
import type { AssetSymbol, NetworkId } from './assets.js';
import type { ProviderId } from './scenario.js';

export { EVENT_TYPES, type EventType } from '@tidemark/common/events';
import type { EventType } from '@tidemark/common/events';

export type Decision = 'ALLOW' | 'REVIEW' | 'BLOCK';
export type TransactionKind = 'deposit' | 'withdrawal';
export type KycStatus = 'pending' | 'approved' | 'rejected' | 'review' | 'suspended';

export type DiscrepancyKind = 'drop_all' | 'drop_last' | 'alter_amount' | 'alter_status' | 'omit_from_statements';

export interface Counterparty {
  name: string;
  country: string;
}

export interface Customer {
  customer_id: string;
  provider: ProviderId;
  wallet_ids: string[];
}

export interface Wallet {
  wallet_id: string;
  customer_id: string;
  provider: ProviderId;
  network: NetworkId;
  address: string;
}

/** Everything the provider knows about one transaction, fixed when it starts. */
export interface SimTransaction {
  provider: ProviderId;
  transaction_id: string;
  kind: TransactionKind;
  wallet_id: string;
  customer_id: string;
  asset: AssetSymbol;
  network: NetworkId;
  decimals: number;
  amount_units: bigint;
  /** Provider-style amount with the asset's full decimals. */
  amount: string;
  tx_hash: string;
  from_address: string;
  to_address: string;
  counterparty: Counterparty | null;
  /** The counterparty address is on the OFAC SDN list. */
  sanctioned_address: string | null;
  high_risk_country: boolean;
  approx_usd_micro: bigint;
  /** What the simulator intends screening to decide (null: depends on rules it does not model). */
  expected_screening: Decision | null;
  screening_hints: string[];
  /** Event ids of the planned lifecycle, in occurrence order. */
  planned_event_ids: string[];
  /** The planned terminal event type. */
  final_type: EventType;
  discrepancy: DiscrepancyKind | null;
  created_at_ms: number;
  /**
   * Deposits: later withdrawals may spend this deposit (confirmed, expected ALLOW, not
   * flagged by the spend guard). Withdrawals: true when it deliberately overdraws (fault).
   */
  spendable?: boolean;
  overdraft?: boolean;
}

/** One provider event (the `generic` contract's fields; other profiles reshape it). */
export interface SimEvent {
  /** Order of generation (occurrence order), 0-based. */
  seq: number;
  id: string;
  provider: ProviderId;
  type: EventType;
  occurred_at_ms: number;
  transaction_id: string | null;
  wallet_id: string;
  customer_id: string;
  asset: AssetSymbol | null;
  network: NetworkId | null;
  amount: string | null;
  tx_hash: string | null;
  from_address: string | null;
  to_address: string | null;
  confirmations: number | null;
  counterparty: Counterparty | null;
  kyc_status: KycStatus | null;
  /** Index within its transaction's lifecycle (0-based); 0 for KYC events. */
  step: number;
  /** The transaction has more planned events after this one. */
  has_next: boolean;
  /** Withheld by an injected discrepancy: the provider never sends this webhook. */
  withheld: boolean;
}

/** Statement status of a transaction in the provider's own books (DESIGN 3.5). */
export type StatementStatus = 'pending' | 'confirmed' | 'failed' | 'reversed';
