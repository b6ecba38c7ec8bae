/** Rows of `ledger.transactions` and `ledger.balances` as the projector locks them, mapped to the core's state. */
import { parseSignedUnits } from '../core/amount.js';
import type { WalletBalance } from '../core/batch.js';
import { type TxState, type TxStateJson, stateFromJson } from '../core/transaction.js';

export interface TransactionStateRow {
  provider: string;
  transaction_id: string;
  kind: TxStateJson['kind'];
  wallet_id: string;
  asset: string;
  facts: TxStateJson['amounts'];
  decision: TxStateJson['decision'];
  reasons: TxStateJson['reasons'];
  anomalies: string[];
  released_by: string | null;
  released_at_ms: string | null;
  pending: string;
  available: string;
  held: string;
}

export const TX_STATE_COLUMNS = `provider, transaction_id, kind, wallet_id, asset, facts, decision, reasons, anomalies, released_by,
  (extract(epoch FROM released_at) * 1000)::bigint::text AS released_at_ms, pending::text, available::text, held::text`;

export function stateFromRow(row: TransactionStateRow): TxState {
  return stateFromJson({
    provider: row.provider,
    transaction_id: row.transaction_id,
    kind: row.kind,
    wallet_id: row.wallet_id,
    asset: row.asset,
    amounts: row.facts,
    decision: row.decision,
    reasons: row.reasons,
    release: row.released_by !== null && row.released_at_ms !== null ? { by: row.released_by, at_ms: Number(row.released_at_ms) } : null,
    position: { pending: row.pending, available: row.available, held: row.held },
    anomalies: row.anomalies,
  });
}

export interface BalanceRow {
  wallet_id: string;
  asset: string;
  pending: string;
  available: string;
  held: string;
  version: string;
}

export function balanceFromRow(row: BalanceRow): WalletBalance {
  return {
    wallet_id: row.wallet_id,
    asset: row.asset,
    pending: parseSignedUnits(row.pending),
    available: parseSignedUnits(row.available),
    held: parseSignedUnits(row.held),
    version: Number(row.version),
  };
}
