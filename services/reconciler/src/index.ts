/**
 * @tidemark/reconciler — compares the ledger with providers' records and checks
 * conservation over the audit trail (DESIGN 3.5).
 *
 * For the operator CLI: reconcileCommand(opts) → exit code (0 clean, 1 discrepancies,
 * 2 could not run). For tests and tools: the pure core (compareTransaction, the balance
 * rule, heal planning, the conservation check) and the run itself.
 */
export { reconcileCommand, newRunId, EXIT_CLEAN, EXIT_DISCREPANCIES, EXIT_COULD_NOT_RUN, type ReconcileCommandOptions } from './command.js';
export { runReconciliation, type RunOptions, type RunDeps, type RunResult } from './run.js';
export { compareTransaction, MATCH_RULE, type Comparison } from './core/compare.js';
export { impliedPosition, judgePair, PairTallies, BALANCE_RULE } from './core/balance.js';
export { planHeal, healEventId, buildHealEvent, eventTypeFor, type HealPlan } from './core/heal.js';
export { ConservationCheck, type ConservationSummary } from './core/conservation.js';
export { renderText, type ReportSummary } from './core/report.js';
export { parseStatementPage, supersedes } from './core/statements.js';
export type { ProviderRecord, LedgerTx, Finding, Buckets, Direction, StatementStatus } from './core/model.js';
export { fetchStatementPages, ProviderUnreachableError } from './adapters/statements-client.js';
export { loadReconcilerConfig, resolveStatementsUrl } from './config.js';
