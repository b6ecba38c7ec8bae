/**
 * The reconciler's domain: a provider's statement record, the ledger's view of the same
 * provider transaction, and the discrepancies between them. Pure types and limits; no I/O.
 *
 * Money is a decimal string at every boundary and bigint units of 10^-18 inside tallies
 * (the ledger's own scale); never a JS number.
 */
import type { Discrepancy } from '@tidemark/common/records';

export type Direction = 'in' | 'out';
export type StatementStatus = 'pending' | 'confirmed' | 'failed' | 'reversed';
export const DIRECTIONS: readonly Direction[] = ['in', 'out'];
export const STATEMENT_STATUSES: readonly StatementStatus[] = ['pending', 'confirmed', 'failed', 'reversed'];

/** One transaction as the provider's statements API reports it (DESIGN 3.5). */
export interface ProviderRecord {
  transaction_id: string;
  wallet_id: string;
  asset: string;
  /** Decimal string as the provider sent it (validated: non-negative, <= 18 decimals). */
  amount: string;
  direction: Direction;
  status: StatementStatus;
  /** ISO-8601 text as sent, and its instant. */
  updated_at: string;
  updated_at_ms: number;
}

/** Money buckets of one (wallet, asset), or one transaction's contribution to them; units of 10^-18. */
export interface Buckets {
  pending: bigint;
  available: bigint;
  held: bigint;
}

export const ZERO_BUCKETS: Readonly<Buckets> = Object.freeze({ pending: 0n, available: 0n, held: 0n });

/** One provider transaction as the ledger has it, in the statements' vocabulary. */
export interface LedgerTx {
  transaction_id: string;
  wallet_id: string;
  asset: string;
  direction: Direction;
  /** Ledger status mapped to the statements' vocabulary (requested/broadcast withdrawals are `pending`). */
  status: StatementStatus;
  /** The transaction's effective amount, decimal string. */
  amount: string;
  /** What this transaction currently contributes to its wallet's buckets. */
  position: Buckets;
  /** The ledger keeps a confirmed deposit of this transaction in `held` (screening REVIEW/BLOCK, not released). */
  held: boolean;
  /** Provider time of the latest event the ledger applied (ms), for windowing; null when unknown. */
  last_event_at_ms: number | null;
}

/** One difference found by a run (the Discrepancy record minus run-level fields). */
export type Finding = Omit<Discrepancy, 'run_id' | 'provider' | 'detected_at_ms'> & {
  /** Audit key of a conservation finding (provider:event_id). */
  event_key?: string | null;
};

/** Limits (names carry their unit and qualifier). */
export const LIMITS = {
  /** Longest transaction / wallet id accepted from a provider. */
  identifier_length_max: 256,
  asset_length_max: 32,
  /** Items accepted in one statements page. */
  page_items_max: 100_000,
  /** Distinct (wallet, asset) pairs one run tracks for the balance check. */
  pairs_tracked_max: 2_000_000,
  /** Findings kept in memory for the terminal report (all are streamed to the JSON file and Kafka). */
  findings_kept_max: 1_000,
  /** Examples kept per category of the report (status divergences etc.). */
  examples_per_category_max: 20,
} as const;
