/**
 * @tidemark/ledger-projector — public entry point.
 *
 * For the operator CLI (`npx tidemark ledger check`): ledgerCheck(pool).
 * For the reconciler: listTransactions(pool, {provider, since, until}) (async iterator of
 * statement-shaped lines), getBalances(pool, wallet_id), listBalances(pool), getTransaction(...),
 * and the status mapping statementStatus()/statementDirection():
 *   deposit   pending → pending, confirmed → confirmed, failed → failed, reversed → reversed  (direction in)
 *   withdrawal requested|broadcast → pending, confirmed → confirmed, failed → failed         (direction out)
 * All of them read the `ledger` Postgres schema, created by runMigrations(database_url).
 */
export { ledgerCheck, type LedgerCheckReport, type LedgerFinding } from './db/check.js';
export {
  getBalances,
  getTransaction,
  listTransactions,
  listBalances,
  type AssetBalance,
  type WalletBalances,
  type TransactionView,
  type HistoryEntry,
  type LedgerStatementLine,
} from './db/read.js';
export { runMigrations, MIGRATIONS_DIR } from './db/migrate.js';
export { createLedgerHandler, INPUT_TOPIC, type LedgerHandler, type LedgerHandlerOptions } from './handler.js';
export {
  releaseTransaction,
  escalateTransaction,
  noteTransaction,
  TransactionNotFoundError,
  type ReleaseOutcome,
  type EscalationOutcome,
} from './db/release.js';
export { listComplianceQueue, listComplianceActions, listPostings, type QueueItem, type QueueFilter, type ComplianceActionView, type PostingView } from './db/read.js';
export { createApi, type ApiOptions } from './api.js';
export { parseApiTokens, generateApiTokens, authenticate, hasRole, API_ROLES, type ApiToken, type ApiRole } from './auth.js';
export { loadLedgerConfig, loadFourEyesPolicy, type LedgerConfig } from './config.js';
export { releaseNeedsSecondOfficer, type FourEyesPolicy } from './core/four-eyes.js';
export { createLedgerPool } from './db/pool.js';
export {
  statementStatus,
  statementDirection,
  txStatus,
  applyEvent,
  applyRelease,
  type TxState,
  type TxStatus,
  type StatementStatus,
  type TxKind,
  type Decision,
} from './core/transaction.js';
export { formatUnits, parseAmount, normalizeAmount } from './core/amount.js';
export { accountId, type AccountRef } from './core/accounts.js';
export { LEDGER_BALANCES_TOPIC, SERVICE_NAME } from './db/project.js';
