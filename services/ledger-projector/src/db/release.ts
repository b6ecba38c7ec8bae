/**
 * Compliance decisions on a transaction: release of a REVIEW deposit's held funds
 * (POST .../release), escalation REVIEW -> BLOCK (POST .../escalate) and notes
 * (POST .../notes). Each is one database transaction that locks the transaction and its
 * balance, applies the core's decision, writes the postings, the new balance, a history
 * entry, a row of the decision history (ledger.compliance_actions: who, when, why) and
 * the BalanceChanged + audit records into the outbox (published to Kafka after commit).
 */
import type { Pool, PoolClient } from 'pg';
import { type AuditRecord, buildAudit } from '@tidemark/common';
import { applyPostingsToBalance, balanceChanged, balanceKey, postingRows, txKey, zeroBalance } from '../core/batch.js';
import { type ApplyResult, type TxState, applyEscalation, applyRelease, txStatus } from '../core/transaction.js';
import { formatUnits } from '../core/amount.js';
import {
  KnownAccounts,
  insertAccounts,
  insertPostings,
  insertProcessed,
  lockBalances,
  lockStates,
  writeBalances,
  writeStates,
} from './statements.js';
import { AUDIT_TOPIC, LEDGER_BALANCES_TOPIC, SERVICE_NAME } from '../topics.js';
import { accountId } from '../core/accounts.js';
import { asInfrastructureError } from './errors.js';
import { type FourEyesPolicy, releaseNeedsSecondOfficer } from '../core/four-eyes.js';

export class TransactionNotFoundError extends Error {
  override readonly name = 'TransactionNotFoundError';
}

/** Four-eyes: the officer who requested a release cannot also confirm it. */
export class FourEyesError extends Error {
  override readonly name = 'FourEyesError';
  readonly code = 'four_eyes_same_user';
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
  /** awaiting_second_approval: four-eyes; the request is recorded, a different officer must release. */
  outcome: 'released' | 'already_released' | 'awaiting_second_approval';
  /** Who asked first, for a four-eyes release. */
  requested_by?: string;
  wallet_id: string;
  asset: string;
  amount_released: string;
  balance_version: number | null;
}

export async function insertOutbox(
  client: PoolClient | Pool,
  records: Array<{ topic: string; key: string; value: unknown }>,
): Promise<void> {
  if (records.length === 0) return;
  await client.query(`INSERT INTO ledger.outbox (topic, key, value) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])`, [
    records.map((r) => r.topic),
    records.map((r) => r.key),
    records.map((r) => JSON.stringify(r.value)),
  ]);
}

export function releaseAudit(
  req: ReleaseRequest,
  action: string,
  details: Record<string, string>,
  reason: string | null,
  at_ms: number,
): AuditRecord {
  return buildAudit({
    stage: SERVICE_NAME,
    action,
    audit_id:
      action === 'released' || action === 'escalated' ? `${SERVICE_NAME}:${action}:${req.provider}:${req.transaction_id}` : undefined,
    provider: req.provider,
    key: `${req.provider}:${req.transaction_id}`,
    reason,
    details: { transaction_id: req.transaction_id, released_by: req.released_by, request_id: req.request_id, ...details },
    trace_id: req.trace_id ?? null,
    at_ms,
  });
}

/** A compliance decision recorded in ledger.compliance_actions (the decision history). */
export type ComplianceActionKind = 'released' | 'escalated' | 'noted' | 'release_requested';

export interface ComplianceAction {
  action_id: string;
  provider: string;
  transaction_id: string;
  action: ComplianceActionKind;
  actor: string;
  reason: string | null;
  request_id: string;
  at: string;
  details: Record<string, string>;
}

export async function insertComplianceAction(
  client: PoolClient | Pool,
  a: Omit<ComplianceAction, 'action_id' | 'at'> & { at_ms: number },
): Promise<void> {
  await client.query(
    `INSERT INTO ledger.compliance_actions (provider, transaction_id, action, actor, reason, request_id, at, details)
     VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::double precision / 1000), $8::jsonb)`,
    [a.provider, a.transaction_id, a.action, a.actor, a.reason, a.request_id, a.at_ms, JSON.stringify(a.details)],
  );
}

/**
 * Releases held funds. Throws TransactionNotFoundError, ReleaseRejectedError (from the core),
 * or InfrastructureError when Postgres is unreachable.
 */
export async function releaseTransaction(
  pool: Pool,
  req: ReleaseRequest & { reason?: string | null },
  known: KnownAccounts = new KnownAccounts(16),
  four_eyes: FourEyesPolicy | null = null,
): Promise<ReleaseOutcome> {
  let requested_by: string | undefined;
  const gate = async (client: PoolClient, state: TxState, now_ms: number): Promise<ReleaseOutcome | null> => {
    const check = applyRelease(state, { by: req.released_by, at_ms: now_ms }); // throws when not releasable
    if (check.already_released || !releaseNeedsSecondOfficer(four_eyes, state.asset, formatUnits(state.position.held))) return null;
    const last = await client.query<{ action: string; actor: string }>(
      `SELECT action, actor FROM ledger.compliance_actions WHERE provider = $1 AND transaction_id = $2
          AND action IN ('release_requested', 'released', 'escalated') ORDER BY action_id DESC LIMIT 1`,
      [req.provider, req.transaction_id],
    );
    const pending = last.rows[0]?.action === 'release_requested' ? last.rows[0] : null;
    if (pending && pending.actor === req.released_by) {
      throw new FourEyesError(
        `the release of ${req.provider}/${req.transaction_id} was requested by ${req.released_by}; a different compliance officer must confirm it`,
      );
    }
    if (pending) {
      requested_by = pending.actor;
      return null;
    }
    const amount = formatUnits(state.position.held);
    await insertComplianceAction(client, {
      provider: req.provider,
      transaction_id: req.transaction_id,
      action: 'release_requested',
      actor: req.released_by,
      reason: req.reason ?? null,
      request_id: req.request_id,
      at_ms: now_ms,
      details: { amount, asset: state.asset, wallet_id: state.wallet_id, threshold_usd: four_eyes!.threshold_usd },
    });
    const audit = releaseAudit(
      req,
      'release_requested',
      { wallet_id: state.wallet_id, asset: state.asset, amount, threshold_usd: four_eyes!.threshold_usd },
      req.reason ?? null,
      now_ms,
    );
    await insertOutbox(client, [{ topic: AUDIT_TOPIC, key: `${req.provider}:${req.transaction_id}`, value: audit }]);
    return {
      outcome: 'awaiting_second_approval',
      wallet_id: state.wallet_id,
      asset: state.asset,
      amount_released: '0',
      balance_version: null,
      requested_by: req.released_by,
    };
  };
  const result = await operatorChange(
    pool,
    req,
    'released',
    req.reason ?? null,
    (state, now_ms) => {
      const released = applyRelease(state, { by: req.released_by, at_ms: now_ms });
      return { result: released, unchanged: released.already_released };
    },
    known,
    gate,
    (): Record<string, string> => (requested_by ? { requested_by } : {}),
  );
  if ('outcome' in result) return result;
  return {
    ...(requested_by ? { requested_by } : {}),
    outcome: result.unchanged ? 'already_released' : 'released',
    wallet_id: result.wallet_id,
    asset: result.asset,
    amount_released: result.amount,
    balance_version: result.balance_version,
  };
}

export interface EscalationOutcome {
  outcome: 'escalated' | 'already_blocked';
  wallet_id: string;
  asset: string;
  /** Funds moved back from available to held (a released deposit), else 0. */
  amount_moved: string;
  balance_version: number | null;
}

/**
 * Escalates a REVIEW transaction to BLOCK (its funds stay, or go back to, held). Throws
 * TransactionNotFoundError, EscalationRejectedError, or InfrastructureError.
 */
export async function escalateTransaction(
  pool: Pool,
  req: ReleaseRequest & { reason: string },
  known: KnownAccounts = new KnownAccounts(16),
): Promise<EscalationOutcome> {
  const result = await operatorChange(
    pool,
    req,
    'escalated',
    req.reason,
    (state, now_ms) => {
      const escalated = applyEscalation(state, { by: req.released_by, at_ms: now_ms, reason: req.reason });
      return { result: escalated, unchanged: escalated.already_blocked };
    },
    known,
  );
  if (!('unchanged' in result)) throw new Error('unreachable: escalation has no gate');
  return {
    outcome: result.unchanged ? 'already_blocked' : 'escalated',
    wallet_id: result.wallet_id,
    asset: result.asset,
    amount_moved: result.amount,
    balance_version: result.balance_version,
  };
}

/** Adds an audited note to a transaction's decision history (no balance effect). */
export async function noteTransaction(pool: Pool, req: ReleaseRequest & { reason: string }): Promise<void> {
  const now_ms = req.now_ms ?? Date.now();
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw asInfrastructureError(err, 'ledger note: connecting to Postgres');
  }
  try {
    await client.query('BEGIN');
    const found = await client.query(`SELECT 1 FROM ledger.transactions WHERE provider = $1 AND transaction_id = $2`, [
      req.provider,
      req.transaction_id,
    ]);
    if (found.rowCount === 0) throw new TransactionNotFoundError(`transaction ${req.provider}/${req.transaction_id} is not in the ledger`);
    await insertComplianceAction(client, {
      provider: req.provider,
      transaction_id: req.transaction_id,
      action: 'noted',
      actor: req.released_by,
      reason: req.reason,
      request_id: req.request_id,
      at_ms: now_ms,
      details: {},
    });
    const audit = buildAudit({
      stage: SERVICE_NAME,
      action: 'noted',
      provider: req.provider,
      key: `${req.provider}:${req.transaction_id}`,
      reason: req.reason,
      details: { transaction_id: req.transaction_id, noted_by: req.released_by, request_id: req.request_id },
      trace_id: req.trace_id ?? null,
      at_ms: now_ms,
    });
    await insertOutbox(client, [{ topic: AUDIT_TOPIC, key: `${req.provider}:${req.transaction_id}`, value: audit }]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw asInfrastructureError(err, 'ledger note');
  } finally {
    client.release();
  }
}

type OperatorAction = 'released' | 'escalated';

/** Locks the transaction's state row (FOR UPDATE); TransactionNotFoundError when it is not in the ledger. */
async function lockTransaction(client: PoolClient, req: ReleaseRequest): Promise<TxState> {
  const states = await lockStates(client, [{ provider: req.provider, transaction_id: req.transaction_id }]);
  const state = states.get(txKey(req.provider, req.transaction_id));
  if (!state) throw new TransactionNotFoundError(`transaction ${req.provider}/${req.transaction_id} is not in the ledger`);
  return state;
}

/** Locks the balance and writes the accounts, postings, new state and new balance of an applied decision. */
async function writeOperatorChange(
  client: PoolClient,
  req: ReleaseRequest,
  state: TxState,
  result: ApplyResult,
  event_id: string,
  known: KnownAccounts,
) {
  const bKey = balanceKey(state.wallet_id, state.asset);
  const locked = await lockBalances(client, [{ wallet_id: state.wallet_id, asset: state.asset }]);
  const balance = applyPostingsToBalance(locked.get(bKey) ?? zeroBalance(state.wallet_id, state.asset), result.postings);
  const accounts = new Map(
    result.postings.flatMap((p) => [[accountId(p.debit), p.debit] as const, [accountId(p.credit), p.credit] as const]),
  );
  await insertAccounts(client, accounts, known);
  if (result.postings.length > 0)
    await insertPostings(client, postingRows(result.postings, { provider: req.provider, event_id, transaction_id: req.transaction_id }));
  const txKeyed = new Map([[`${state.provider}\u0000${state.transaction_id}`, result.newState]]);
  await writeStates(client, txKeyed, new Set(txKeyed.keys()), new Map());
  await writeBalances(client, new Map([[bKey, balance]]), new Set(locked.keys()));
  return { balance, accounts };
}

/**
 * Records an applied decision: the history entry (like an event, deduplicated by its id),
 * the decision-history row and the BalanceChanged + audit records into the outbox.
 */
async function recordOperatorDecision(
  client: PoolClient,
  req: ReleaseRequest,
  d: {
    action: OperatorAction;
    reason: string | null;
    state: TxState;
    result: ApplyResult;
    event_id: string;
    balance: ReturnType<typeof applyPostingsToBalance>;
    extra_details: () => Record<string, string>;
    now_ms: number;
  },
): Promise<string> {
  const { action, reason, state, result, event_id, balance, extra_details, now_ms } = d;
  const change = balanceChanged(balance, { provider: req.provider, event_id, transaction_id: req.transaction_id }, now_ms);
  const amount = formatUnits(result.postings.reduce((sum, p) => sum + p.amount_units, 0n));
  const audit = releaseAudit(
    req,
    action,
    { wallet_id: state.wallet_id, asset: state.asset, amount, balance_version: String(balance.version), ...extra_details() },
    reason,
    now_ms,
  );
  // The decision appears in the transaction's history like an event (deduplicated by its id).
  await insertProcessed(
    client,
    [
      {
        meta: {
          provider: req.provider,
          event_id,
          event_type: action === 'released' ? 'ledger.released' : 'ledger.escalated',
          partition_key: state.wallet_id,
          transaction_id: req.transaction_id,
          wallet_id: state.wallet_id,
          asset: state.asset,
          amount,
          occurred_at_ms: now_ms,
          received_at_ms: now_ms,
          source: 'OPERATOR',
          decision: result.newState.decision,
          reasons: [],
        },
        outcome: 'applied',
        status: txStatus(result.newState),
        postings_count: result.postings.length,
        anomalies: [],
        balance: {
          pending: change.pending,
          available: change.available,
          held: change.held,
          version: change.version,
          changed_at_ms: change.changed_at_ms,
        },
      },
    ],
    now_ms,
  );
  await insertComplianceAction(client, {
    provider: req.provider,
    transaction_id: req.transaction_id,
    action,
    actor: req.released_by,
    reason,
    request_id: req.request_id,
    at_ms: now_ms,
    details: { amount, wallet_id: state.wallet_id, asset: state.asset, ...extra_details() },
  });
  const records: Array<{ topic: string; key: string; value: unknown }> = [
    { topic: AUDIT_TOPIC, key: `${req.provider}:${req.transaction_id}`, value: audit },
  ];
  if (result.postings.length > 0) records.unshift({ topic: LEDGER_BALANCES_TOPIC, key: change.wallet_id, value: change });
  await insertOutbox(client, records);
  return amount;
}

/**
 * One compliance decision as one database transaction: lock the transaction and its
 * balance, apply the core's decision, write postings, state, balance, a history entry,
 * the decision-history row and the BalanceChanged + audit records into the outbox.
 */
async function operatorChange<G extends object = never>(
  pool: Pool,
  req: ReleaseRequest,
  action: OperatorAction,
  reason: string | null,
  apply: (state: TxState, now_ms: number) => { result: ApplyResult; unchanged: boolean },
  known: KnownAccounts,
  /** Runs on the locked transaction first; a non-null answer commits what it wrote and is returned instead. */
  gate?: (client: PoolClient, state: TxState, now_ms: number) => Promise<G | null>,
  extra_details: () => Record<string, string> = () => ({}),
): Promise<G | { unchanged: boolean; wallet_id: string; asset: string; amount: string; balance_version: number | null }> {
  const now_ms = req.now_ms ?? Date.now();
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw asInfrastructureError(err, `ledger ${action}: connecting to Postgres`);
  }
  try {
    await client.query('BEGIN');
    const state = await lockTransaction(client, req);
    const gated = gate ? await gate(client, state, now_ms) : null;
    if (gated !== null) {
      await client.query('COMMIT');
      return gated;
    }
    const { result, unchanged } = apply(state, now_ms);
    if (unchanged) {
      await client.query('COMMIT');
      return { unchanged: true, wallet_id: state.wallet_id, asset: state.asset, amount: '0', balance_version: null };
    }
    const event_id = action === 'released' ? `tidemark-release:${req.transaction_id}` : `tidemark-escalation:${req.transaction_id}`;
    const { balance, accounts } = await writeOperatorChange(client, req, state, result, event_id, known);
    const amount = await recordOperatorDecision(client, req, { action, reason, state, result, event_id, balance, extra_details, now_ms });
    await client.query('COMMIT');
    known.addAll(accounts.keys());
    return { unchanged: false, wallet_id: state.wallet_id, asset: state.asset, amount, balance_version: balance.version };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw asInfrastructureError(err, `ledger ${action}`);
  } finally {
    client.release();
  }
}
