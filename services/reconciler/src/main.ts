/**
 * `npm start -w @tidemark/reconciler`: the scheduled reconciler as a long-running job,
 * configured from the environment (the operator CLI is the usual entry point):
 *   TIDEMARK_RECONCILE_PROVIDER (default generic), TIDEMARK_RECONCILE_SINCE (ISO-8601,
 *   default: 24 h before start), TIDEMARK_RECONCILE_SCHEDULE_S (default 300),
 *   TIDEMARK_RECONCILE_HEAL=1 to heal, plus everything config.ts reads.
 */
import { reconcileCommand } from './command.js';

const provider = process.env.TIDEMARK_RECONCILE_PROVIDER ?? 'generic';
const since = process.env.TIDEMARK_RECONCILE_SINCE ?? new Date(Date.now() - 24 * 3600_000).toISOString();
const schedule = Number.parseInt(process.env.TIDEMARK_RECONCILE_SCHEDULE_S ?? '300', 10);
const heal = process.env.TIDEMARK_RECONCILE_HEAL === '1';

process.exitCode = await reconcileCommand({ provider, since, schedule, heal });
