/**
 * @tidemark/ledger-projector — public entry point.
 *
 * For the operator CLI (`npx tidemark ledger check`): ledgerCheck(pool).
 * For readers (the reconciler, the console): the read contract of ./read.ts, also exported
 * alone as `@tidemark/ledger-projector/read`. It reads the `ledger` Postgres schema, created
 * by runMigrations(database_url).
 */
export { ledgerCheck, type LedgerCheckReport, type LedgerFinding } from './db/check.js';
/** The read contract (also alone, without the projector's runtime: `@tidemark/ledger-projector/read`). */
export * from './read.js';
export { runMigrations, MIGRATIONS_DIR } from './db/migrate.js';
export { createLedgerHandler, type LedgerHandler, type LedgerHandlerOptions } from './handler.js';
export {
  releaseTransaction,
  escalateTransaction,
  noteTransaction,
  TransactionNotFoundError,
  type ReleaseOutcome,
  type EscalationOutcome,
} from './db/release.js';
export {
  listComplianceQueue,
  listComplianceActions,
  listPostings,
  type QueueItem,
  type QueueFilter,
  type ComplianceActionView,
  type PostingView,
} from './db/read.js';
export { createApi, type ApiOptions } from './api.js';
export { parseApiTokens, generateApiTokens, authenticate, hasRole, API_ROLES, type ApiToken, type ApiRole } from './auth.js';
export { loadLedgerConfig, loadFourEyesPolicy, type LedgerConfig } from './config.js';
export { releaseNeedsSecondOfficer, type FourEyesPolicy } from './core/four-eyes.js';
export { createLedgerPool } from './db/pool.js';
export { txStatus, applyEvent, applyRelease, type TxState } from './core/transaction.js';
export { formatUnits, parseAmount } from './core/amount.js';
export { accountId, type AccountRef } from './core/accounts.js';
export { AUDIT_TOPIC, INPUT_TOPIC, LEDGER_BALANCES_TOPIC, SERVICE_NAME } from './topics.js';
