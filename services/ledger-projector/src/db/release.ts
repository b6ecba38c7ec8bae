/**
 * Compliance release of a REVIEW deposit's held funds (POST .../release): one database
 * transaction that locks the transaction and its balance, applies the core's
 * `applyRelease`, writes the postings, the new balance, a history entry, and the
 * BalanceChanged + audit records into the outbox (published to Kafka after commit).
 */
import type { Pool, PoolClient } from 'pg';
import { type AuditRecord, buildAudit } from '@tidemark/common';
import { applyPostingsToBalance, balanceChanged, balanceKey, postingRows, txKey, zeroBalance } from '../core/batch.js';
import { applyRelease, txStatus } from '../core/transaction.js';
import { formatUnits } from '../core/amount.js';
import { KnownAccounts, insertAccounts, insertPostings, insertProcessed, lockBalances, lockStates, writeBalances, writeStates } from './statements.js';
import { AUDIT_TOPIC, LEDGER_BALANCES_TOPIC, SERVICE_NAME } from '../topics.js';
import { accountId } from '../core/accounts.js';
import { asInfrastructureError } from './errors.js';

export class TransactionNotFoundError extends Error {
  override readonly name = 'TransactionNotFoundError';
}

export interface ReleaseRequest {
  provider: string;
  transaction_id: string;
  /** Name of the compliance officer's token. */
  released_by: string;
  request_id: string;
  trace_id?: string | null;
  now_ms?: number;
}

export interface ReleaseOutcome {
  outcome: 'released' | 'already_released';
  wallet_id: string;
  asset: string;
  amount_released: string;
  balance_version: number | null;
}

export async function insertOutbox(client: PoolClient | Pool, records: Array<{ topic: string; key: string; value: unknown }>): Promise<void> {
  if (records.length === 0) return;
  await client.query(`INSERT INTO ledger.outbox (topic, key, value) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])`, [
    records.map((r) => r.topic),
    records.map((r) => r.key),
    records.map((r) => JSON.stringify(r.value)),
  ]);
}

export function releaseAudit(req: ReleaseRequest, action: string, details: Record<string, string>, reason: string | null, at_ms: number): AuditRecord {
  return buildAudit({
    stage: SERVICE_NAME,
    action,
    audit_id: action === 'released' ? `${SERVICE_NAME}:released:${req.provider}:${req.transaction_id}` : undefined,
    provider: req.provider,
    key: `${req.provider}:${req.transaction_id}`,
    reason,
    details: { transaction_id: req.transaction_id, released_by: req.released_by, request_id: req.request_id, ...details },
    trace_id: req.trace_id ?? null,
    at_ms,
  });
}

/**
 * Releases held funds. Throws TransactionNotFoundError, ReleaseRejectedError (from the core),
 * or InfrastructureError when Postgres is unreachable.
 */
export async function releaseTransaction(pool: Pool, req: ReleaseRequest, known: KnownAccounts = new KnownAccounts(16)): Promise<ReleaseOutcome> {
  const now_ms = req.now_ms ?? Date.now();
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw asInfrastructureError(err, 'ledger release: connecting to Postgres');
  }
  try {
    await client.query('BEGIN');
    const states = await lockStates(client, [{ provider: req.provider, transaction_id: req.transaction_id }]);
    const state = states.get(txKey(req.provider, req.transaction_id));
    if (!state) throw new TransactionNotFoundError(`transaction ${req.provider}/${req.transaction_id} is not in the ledger`);
    const released = applyRelease(state, { by: req.released_by, at_ms: now_ms });
    if (released.already_released) {
      await client.query('COMMIT');
      return { outcome: 'already_released', wallet_id: state.wallet_id, asset: state.asset, amount_released: '0', balance_version: null };
    }
    const bKey = balanceKey(state.wallet_id, state.asset);
    const locked = await lockBalances(client, [{ wallet_id: state.wallet_id, asset: state.asset }]);
    const balance = applyPostingsToBalance(locked.get(bKey) ?? zeroBalance(state.wallet_id, state.asset), released.postings);
    const event_id = `tidemark-release:${req.transaction_id}`;
    const accounts = new Map(released.postings.flatMap((p) => [[accountId(p.debit), p.debit] as const, [accountId(p.credit), p.credit] as const]));
    await insertAccounts(client, accounts, known);
    await insertPostings(client, postingRows(released.postings, { provider: req.provider, event_id, transaction_id: req.transaction_id }));
    const txKeyed = new Map([[`${state.provider}\u0000${state.transaction_id}`, released.newState]]);
    await writeStates(client, txKeyed, new Set(txKeyed.keys()), new Map());
    await writeBalances(client, new Map([[bKey, balance]]), new Set(locked.keys()));

    const change = balanceChanged(balance, { provider: req.provider, event_id, transaction_id: req.transaction_id }, now_ms);
    const amount = formatUnits(released.postings.reduce((sum, p) => sum + p.amount_units, 0n));
    const audit = releaseAudit(
      req,
      'released',
      { wallet_id: state.wallet_id, asset: state.asset, amount, balance_version: String(balance.version) },
      null,
      now_ms,
    );
    // The release appears in the transaction's history like an event (deduplicated by its id).
    await insertProcessed(
      client,
      [
        {
          meta: {
            provider: req.provider,
            event_id,
            event_type: 'ledger.released',
            partition_key: state.wallet_id,
            transaction_id: req.transaction_id,
            wallet_id: state.wallet_id,
            asset: state.asset,
            amount,
            occurred_at_ms: now_ms,
            received_at_ms: now_ms,
            source: 'OPERATOR',
            decision: released.newState.decision,
            reasons: [],
          },
          outcome: 'applied',
          status: txStatus(released.newState),
          postings_count: released.postings.length,
          anomalies: [],
          balance: { pending: change.pending, available: change.available, held: change.held, version: change.version, changed_at_ms: change.changed_at_ms },
        },
      ],
      now_ms,
    );
    await insertOutbox(client, [
      { topic: LEDGER_BALANCES_TOPIC, key: change.wallet_id, value: change },
      { topic: AUDIT_TOPIC, key: `${req.provider}:${req.transaction_id}`, value: audit },
    ]);
    await client.query('COMMIT');
    known.addAll(accounts.keys());
    return { outcome: 'released', wallet_id: state.wallet_id, asset: state.asset, amount_released: amount, balance_version: balance.version };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw asInfrastructureError(err, 'ledger release');
  } finally {
    client.release();
  }
}
