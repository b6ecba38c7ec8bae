/**
 * @tidemark/ledger-projector/read — the ledger's read contract: the row and view types and
 * the queries other services (the reconciler, the console, the CLI) use to read the ledger,
 * plus the status mapping that turns ledger states into provider-statement terms:
 *   deposit   pending → pending, confirmed → confirmed, failed → failed, reversed → reversed  (direction in)
 *   withdrawal requested|broadcast → pending, confirmed → confirmed, failed → failed         (direction out)
 * Loading it loads no Kafka client, no HTTP server and no telemetry SDK (only pg types).
 */
export {
  getBalances,
  getTransaction,
  getTransactionRows,
  ledgerAsOf,
  ledgerSchemaExists,
  listBalances,
  listTransactions,
  pairContributions,
  HISTORY_ENTRIES_MAX,
  LIST_PAGE_SIZE_DEFAULT,
  LIST_PAGE_SIZE_MAX,
  type AssetBalance,
  type HistoryEntry,
  type LedgerStatementLine,
  type LedgerTransactionRow,
  type PairContributions,
  type Queryable,
  type TransactionView,
  type WalletBalances,
} from './db/read.js';
export {
  statementDirection,
  statementStatus,
  type Decision,
  type StatementStatus,
  type TxKind,
  type TxStatus,
} from './core/transaction.js';
export { normalizeAmount } from './core/amount.js';
