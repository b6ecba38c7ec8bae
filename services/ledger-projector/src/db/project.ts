/**
 * Postgres adapter of the projection: one database transaction per batch.
 *
 *  1. look up which (provider, event_id) were already projected → their stored results
 *     are returned verbatim (a redelivery after a crash re-emits the same records);
 *  2. lock the touched transactions and (wallet, asset) balances (FOR UPDATE, in key
 *     order, so concurrent batches cannot deadlock);
 *  3. run the pure core (`projectBatch`);
 *  4. write accounts, postings, transactions, balances, KYC statuses and processed events:
 *     one multi-row write per table, all sent as ONE statement (data-modifying WITH clauses;
 *     statements.ts runWrites): BEGIN, three reads, one write, COMMIT — six round trips whatever
 *     the batch holds (up to thirteen before);
 *  5. commit.
 * New rows are inserted without ON CONFLICT: if another instance created the same row
 * concurrently (a rebalance zombie) the unique violation aborts the batch and the caller
 * retries it against the committed state.
 */
import type { PoolClient } from 'pg';
import type { HandlerResult } from '@tidemark/stream';
import { balanceKey, eventKey, projectBatch, txKey } from '../core/batch.js';
import type { LedgerInput } from '../core/validate.js';
import { type ProcessedInsert, processedInsertOf, resultOf } from './results.js';
import {
  type KnownAccounts,
  type OccurredRange,
  accountsWrite,
  balancesWrites,
  kycWrite,
  loadProcessed,
  lockBalances,
  lockStates,
  postingsWrite,
  processedWrite,
  runWrites,
  statesWrites,
} from './statements.js';

export interface ProjectStats {
  fresh: number;
  replayed: number;
  postings: number;
}

/**
 * Projects `inputs` (in per-key order) inside the caller's open database transaction and
 * returns one handler result per input. The caller commits.
 */
export async function projectInTransaction(
  client: PoolClient,
  inputs: readonly LedgerInput[],
  now_ms: number,
  known: KnownAccounts,
): Promise<{ results: HandlerResult[]; stats: ProjectStats; new_accounts: string[] }> {
  const processed = await loadProcessed(
    client,
    inputs.map((i) => i.meta),
  );
  const fresh = inputs.filter((i) => !processed.has(eventKey(i.meta.provider, i.meta.event_id)));

  const txKeys = new Map<string, { provider: string; transaction_id: string }>();
  const balKeys = new Map<string, { wallet_id: string; asset: string }>();
  const occurred = new Map<string, OccurredRange>();
  for (const input of fresh) {
    if (input.class !== 'transaction') continue;
    const e = input.event;
    const key = txKey(e.provider, e.transaction_id);
    txKeys.set(key, { provider: e.provider, transaction_id: e.transaction_id });
    balKeys.set(balanceKey(e.wallet_id, e.asset), { wallet_id: e.wallet_id, asset: e.asset });
    const t = input.meta.occurred_at_ms;
    const range = occurred.get(key);
    occurred.set(key, range ? { first_ms: Math.min(range.first_ms, t), last_ms: Math.max(range.last_ms, t) } : { first_ms: t, last_ms: t });
  }
  const states = await lockStates(client, [...txKeys.values()]);
  const balances = await lockBalances(client, [...balKeys.values()]);
  const projection = projectBatch(fresh, { states, balances, now_ms });

  const accounts = accountsWrite(projection.accounts, known);

  const freshResults = new Map<string, HandlerResult>();
  const toInsert: ProcessedInsert[] = [];
  for (const p of projection.records) {
    if (p.outcome === 'duplicate_in_batch') continue;
    freshResults.set(eventKey(p.meta.provider, p.meta.event_id), resultOf(p));
    toInsert.push(processedInsertOf(p));
  }
  // Every write of the batch in one statement: one round trip instead of up to eight.
  await runWrites(client, [
    accounts.write,
    postingsWrite(projection.postings),
    ...statesWrites(projection.states, new Set(states.keys()), occurred),
    ...balancesWrites(projection.balances, new Set(balances.keys())),
    kycWrite(projection.kyc),
    processedWrite(toInsert, now_ms),
  ]);
  const new_accounts = accounts.fresh;

  const results = inputs.map((i) => {
    const key = eventKey(i.meta.provider, i.meta.event_id);
    const result = processed.get(key) ?? freshResults.get(key);
    if (!result) throw new Error(`ledger: no result for event ${i.meta.provider}/${i.meta.event_id}`);
    return result;
  });
  return {
    results,
    stats: { fresh: toInsert.length, replayed: inputs.length - toInsert.length, postings: projection.postings.length },
    new_accounts,
  };
}
