/**
 * The per-transaction state machine of the ledger (DESIGN 3.3), as pure functions.
 *
 * Design: a transaction's state is the *set of facts* seen so far (which event types
 * arrived, with their amounts, the strictest screening decision, a compliance release)
 * plus its current *position*: how much this transaction currently contributes to the
 * wallet's pending / available / held buckets. Applying an event adds a fact, computes
 * the target position from the facts alone, and posts the difference between the
 * current and the target position as balanced double-entry postings.
 *
 * Because the target depends only on the set of facts (never on their order) and adding
 * a fact twice changes nothing, the final balances after any arrival order, with any
 * duplicates, equal those of in-order delivery; on in-order delivery each step has
 * exactly the effect of the DESIGN 3.3 table.
 *
 * Precedence rules (the facts -> target mapping), chosen so late events can't undo a
 * more final state:
 *   deposit:    reversed  -> nothing (a reversal undoes the credit, whenever it arrives;
 *                            a later `confirmed` does not credit again)
 *               confirmed -> amount in `available`, or in `held` when the strictest
 *                            screening decision of the transaction is BLOCK, or REVIEW
 *                            without a compliance release
 *               failed    -> nothing (a `detected` arriving after it adds no pending)
 *               detected  -> amount in `pending`
 *               (confirmed beats failed: per the table, `failed` only removes pending, so
 *               both orders of confirmed/failed end credited.)
 *   withdrawal: confirmed -> amount left custody: `available` -= amount (hold released)
 *               failed    -> nothing (hold returned to available)
 *               requested or broadcast -> `available` -= amount, `held` += amount
 *               (a `broadcast` implies the request; confirmed beats failed: funds that
 *               left custody are gone, the conflict is recorded as an anomaly)
 *   The amount of a transaction is that of its most authoritative event (confirmed first);
 *   differing amounts between events are recorded as anomalies.
 *
 * Screening: the decision applied to a deposit is the strictest of all its events'
 * decisions (BLOCK > REVIEW > ALLOW), which is order-independent and conservative.
 * A REVIEW deposit's held funds can be released by a compliance officer (`applyRelease`);
 * BLOCK is never releasable here (it goes to case management), and if a transaction
 * escalates to BLOCK after a release, its funds go back to `held`.
 */
import { type AccountRef, externalAccount, walletAccount, accountId } from './accounts.js';
import { formatUnits } from './amount.js';

export const DEPOSIT_EVENT_TYPES = ['deposit.detected', 'deposit.confirmed', 'deposit.failed', 'deposit.reversed'] as const;
export const WITHDRAWAL_EVENT_TYPES = [
  'withdrawal.requested',
  'withdrawal.broadcast',
  'withdrawal.confirmed',
  'withdrawal.failed',
] as const;
export const KYC_EVENT_TYPE = 'kyc.status_changed';

export type DepositEventType = (typeof DEPOSIT_EVENT_TYPES)[number];
export type WithdrawalEventType = (typeof WITHDRAWAL_EVENT_TYPES)[number];
export type TxEventType = DepositEventType | WithdrawalEventType;
export type TxKind = 'deposit' | 'withdrawal';
export type Decision = 'ALLOW' | 'REVIEW' | 'BLOCK';

/** Limits on what one transaction's state may accumulate (it is stored as one row). */
export const TX_REASONS_MAX = 32;
export const TX_ANOMALIES_MAX = 32;
export const REASON_MESSAGE_LENGTH_MAX = 500;

export type EventClass = TxKind | 'kyc' | 'unknown';

export function classifyEventType(event_type: string): EventClass {
  if ((DEPOSIT_EVENT_TYPES as readonly string[]).includes(event_type)) return 'deposit';
  if ((WITHDRAWAL_EVENT_TYPES as readonly string[]).includes(event_type)) return 'withdrawal';
  if (event_type === KYC_EVENT_TYPE) return 'kyc';
  return 'unknown';
}

/** A validated transaction event (see `toTxEvent` in validate.ts). */
export interface TxEvent {
  provider: string;
  event_id: string;
  event_type: TxEventType;
  transaction_id: string;
  wallet_id: string;
  asset: string;
  amount_units: bigint;
  /**
   * Set for RECONCILIATION-sourced events (the reconciler's --heal): the provider's own
   * records, authoritative for the whole transaction. Its fact replaces the transaction's
   * facts (status and amount as the provider books them); the difference to the current
   * position is posted as new balanced postings (an adjustment, never an edit).
   */
  authoritative?: boolean;
}

export interface ReasonSummary {
  code: string;
  rule_id: string;
  outcome: Decision;
  message: string;
}

export interface ScreeningInput {
  decision: Decision;
  reasons: ReadonlyArray<ReasonSummary>;
}

/** What this transaction currently contributes to its wallet's buckets (external = -(sum)). */
export interface Position {
  pending: bigint;
  available: bigint;
  held: bigint;
}

export interface TxState {
  provider: string;
  transaction_id: string;
  kind: TxKind;
  wallet_id: string;
  asset: string;
  /** Facts: the event types seen, each with the amount of its first occurrence. */
  amounts: Partial<Record<TxEventType, bigint>>;
  /** Strictest screening decision over all events applied. */
  decision: Decision;
  reasons: ReasonSummary[];
  release: { by: string; at_ms: number } | null;
  position: Position;
  anomalies: string[];
}

export interface Posting {
  asset: string;
  debit: AccountRef;
  credit: AccountRef;
  amount_units: bigint;
}

export interface ApplyResult {
  newState: TxState;
  postings: Posting[];
}

/** The event contradicts the transaction it names (other kind, wallet or asset): it can never apply. */
export class LedgerConflictError extends Error {
  override readonly name = 'LedgerConflictError';
}

/** A ledger invariant does not hold: a bug, never a condition to log and continue from. */
export class LedgerInvariantError extends Error {
  override readonly name = 'LedgerInvariantError';
}

export type ReleaseRejection = 'not_a_deposit' | 'blocked_not_releasable' | 'not_under_review' | 'nothing_held';

export class ReleaseRejectedError extends Error {
  override readonly name = 'ReleaseRejectedError';
  constructor(
    readonly code: ReleaseRejection,
    message: string,
  ) {
    super(message);
  }
}

const ZERO_POSITION: Position = Object.freeze({ pending: 0n, available: 0n, held: 0n });
const DECISION_RANK: Record<Decision, number> = { ALLOW: 0, REVIEW: 1, BLOCK: 2 };

export function kindOf(event_type: TxEventType): TxKind {
  return event_type.startsWith('deposit.') ? 'deposit' : 'withdrawal';
}

export function strictestDecision(a: Decision, b: Decision): Decision {
  return DECISION_RANK[a] >= DECISION_RANK[b] ? a : b;
}

function has(state: TxState, type: TxEventType): boolean {
  return state.amounts[type] !== undefined;
}

const AMOUNT_PRECEDENCE: Record<TxKind, readonly TxEventType[]> = {
  deposit: ['deposit.confirmed', 'deposit.detected', 'deposit.reversed', 'deposit.failed'],
  withdrawal: ['withdrawal.confirmed', 'withdrawal.requested', 'withdrawal.broadcast', 'withdrawal.failed'],
};

/** The transaction's amount: that of its most authoritative event. */
export function effectiveAmount(state: TxState): bigint {
  for (const type of AMOUNT_PRECEDENCE[state.kind]) {
    const amount = state.amounts[type];
    if (amount !== undefined) return amount;
  }
  throw new LedgerInvariantError(`transaction ${state.provider}/${state.transaction_id} has no facts`);
}

/** True when a deposit's credited funds must sit in `held`. */
export function isHeld(state: TxState): boolean {
  if (state.decision === 'BLOCK') return true;
  return state.decision === 'REVIEW' && state.release === null;
}

/** Where the facts say this transaction's money should be. */
export function targetPosition(state: TxState): Position {
  const amount = effectiveAmount(state);
  if (state.kind === 'deposit') {
    if (has(state, 'deposit.reversed')) return ZERO_POSITION;
    if (has(state, 'deposit.confirmed')) {
      return isHeld(state) ? { pending: 0n, available: 0n, held: amount } : { pending: 0n, available: amount, held: 0n };
    }
    if (has(state, 'deposit.failed')) return ZERO_POSITION;
    return { pending: amount, available: 0n, held: 0n };
  }
  if (has(state, 'withdrawal.confirmed')) return { pending: 0n, available: -amount, held: 0n };
  if (has(state, 'withdrawal.failed')) return ZERO_POSITION;
  return { pending: 0n, available: -amount, held: amount };
}

export type TxStatus = 'pending' | 'confirmed' | 'failed' | 'reversed' | 'requested' | 'broadcast';

/** Lifecycle status shown by the read API. */
export function txStatus(state: TxState): TxStatus {
  if (state.kind === 'deposit') {
    if (has(state, 'deposit.reversed')) return 'reversed';
    if (has(state, 'deposit.confirmed')) return 'confirmed';
    if (has(state, 'deposit.failed')) return 'failed';
    return 'pending';
  }
  if (has(state, 'withdrawal.confirmed')) return 'confirmed';
  if (has(state, 'withdrawal.failed')) return 'failed';
  if (has(state, 'withdrawal.broadcast')) return 'broadcast';
  return 'requested';
}

export type StatementStatus = 'pending' | 'confirmed' | 'failed' | 'reversed';

/**
 * Maps a ledger transaction to the provider statements' status vocabulary (DESIGN 3.5):
 * deposit pending -> pending; withdrawal requested/broadcast -> pending; confirmed,
 * failed and reversed map to themselves. Direction: deposit = in, withdrawal = out.
 */
export function statementStatus(status: TxStatus): StatementStatus {
  return status === 'requested' || status === 'broadcast' ? 'pending' : status;
}

export function statementDirection(kind: TxKind): 'in' | 'out' {
  return kind === 'deposit' ? 'in' : 'out';
}

function mergeReasons(current: ReasonSummary[], incoming: ReadonlyArray<ReasonSummary>): ReasonSummary[] {
  const out = [...current];
  for (const reason of incoming) {
    if (out.length >= TX_REASONS_MAX) break;
    if (out.some((r) => r.code === reason.code && r.rule_id === reason.rule_id)) continue;
    out.push({
      code: reason.code,
      rule_id: reason.rule_id,
      outcome: reason.outcome,
      message: reason.message.slice(0, REASON_MESSAGE_LENGTH_MAX),
    });
  }
  return out;
}

function addAnomaly(anomalies: string[], anomaly: string): string[] {
  if (anomalies.includes(anomaly) || anomalies.length >= TX_ANOMALIES_MAX) return anomalies;
  return [...anomalies, anomaly];
}

function newState(event: TxEvent): TxState {
  return {
    provider: event.provider,
    transaction_id: event.transaction_id,
    kind: kindOf(event.event_type),
    wallet_id: event.wallet_id,
    asset: event.asset,
    amounts: {},
    decision: 'ALLOW',
    reasons: [],
    release: null,
    position: { ...ZERO_POSITION },
    anomalies: [],
  };
}

function assertSameTransaction(state: TxState, event: TxEvent): void {
  const where = `transaction ${event.provider}/${event.transaction_id}`;
  if (state.provider !== event.provider || state.transaction_id !== event.transaction_id) {
    throw new LedgerInvariantError(`${where}: event applied to the state of ${state.provider}/${state.transaction_id}`);
  }
  if (state.kind !== kindOf(event.event_type)) {
    throw new LedgerConflictError(`${where} is a ${state.kind}; event ${event.event_id} (${event.event_type}) cannot apply to it`);
  }
  if (state.wallet_id !== event.wallet_id) {
    throw new LedgerConflictError(`${where} belongs to wallet ${state.wallet_id}; event ${event.event_id} names wallet ${event.wallet_id}`);
  }
  if (state.asset !== event.asset) {
    throw new LedgerConflictError(`${where} is in ${state.asset}; event ${event.event_id} names asset ${event.asset}`);
  }
}

function detectAnomalies(state: TxState, event: TxEvent): string[] {
  let anomalies = state.anomalies;
  for (const [type, amount] of Object.entries(state.amounts)) {
    if (amount !== undefined && amount !== event.amount_units) {
      anomalies = addAnomaly(
        anomalies,
        `amount_mismatch:${type}=${formatUnits(amount)}:${event.event_type}=${formatUnits(event.amount_units)}`,
      );
    }
  }
  const outcomes =
    state.kind === 'deposit'
      ? (['deposit.confirmed', 'deposit.failed'] as const)
      : (['withdrawal.confirmed', 'withdrawal.failed'] as const);
  const seen = (type: TxEventType) => type === event.event_type || has(state, type);
  if (seen(outcomes[0]) && seen(outcomes[1])) anomalies = addAnomaly(anomalies, `conflicting_outcomes:${outcomes[0]}+${outcomes[1]}`);
  return anomalies;
}

/** Moves `state` from its current position to its target, returning the balanced postings. */
function settle(state: TxState): ApplyResult {
  const target = targetPosition(state);
  const postings = postingsBetween(state, state.position, target);
  const next: TxState = { ...state, position: target };
  assertPositionInvariants(next);
  return { newState: next, postings };
}

/**
 * Applies one event of a transaction. `state` is null for a transaction not seen yet.
 * Pure: returns the new state and the postings to record; never mutates its inputs.
 * Applying the same event again is a no-op (no postings, equal state).
 */
export function applyEvent(state: TxState | null, event: TxEvent, screening: ScreeningInput): ApplyResult {
  if (event.amount_units < 0n) throw new LedgerInvariantError(`event ${event.event_id}: negative amount`);
  const current = state ?? newState(event);
  assertSameTransaction(current, event);
  const withFact: TxState = {
    ...current,
    amounts: event.authoritative
      ? { [event.event_type]: event.amount_units }
      : has(current, event.event_type)
        ? current.amounts
        : { ...current.amounts, [event.event_type]: event.amount_units },
    decision: strictestDecision(current.decision, screening.decision),
    reasons: mergeReasons(current.reasons, screening.reasons),
    anomalies: event.authoritative
      ? addAnomaly(current.anomalies, `reconciled:${event.event_type}=${formatUnits(event.amount_units)}`)
      : detectAnomalies(current, event),
  };
  return settle(withFact);
}

/**
 * A compliance officer releases the held funds of a REVIEW deposit (held -> available).
 * Idempotent: releasing an already released transaction returns it unchanged.
 * Throws ReleaseRejectedError when there is nothing releasable.
 */
export function applyRelease(state: TxState, release: { by: string; at_ms: number }): ApplyResult & { already_released: boolean } {
  const where = `transaction ${state.provider}/${state.transaction_id}`;
  if (state.kind !== 'deposit') throw new ReleaseRejectedError('not_a_deposit', `${where} is a withdrawal; only deposits are released`);
  if (state.decision === 'BLOCK') {
    throw new ReleaseRejectedError('blocked_not_releasable', `${where} was BLOCKed by screening; blocked funds are not releasable here`);
  }
  if (state.decision !== 'REVIEW') throw new ReleaseRejectedError('not_under_review', `${where} is not under compliance review`);
  if (state.release !== null) return { newState: state, postings: [], already_released: true };
  if (state.position.held <= 0n) throw new ReleaseRejectedError('nothing_held', `${where} has no held funds (status ${txStatus(state)})`);
  return { ...settle({ ...state, release: { by: release.by, at_ms: release.at_ms } }), already_released: false };
}

export type EscalationRejection = 'not_under_review';

export class EscalationRejectedError extends Error {
  override readonly name = 'EscalationRejectedError';
  constructor(
    readonly code: EscalationRejection,
    message: string,
  ) {
    super(message);
  }
}

/** The reason code a compliance escalation adds to the transaction's reasons. */
export const ESCALATION_REASON_CODE = 'COMPLIANCE_ESCALATED';
export const ESCALATION_RULE_ID = 'compliance.manual';

/**
 * A compliance officer escalates a REVIEW transaction to BLOCK: its funds stay held (a
 * released deposit's funds go back to held) and it can no longer be released here.
 * Idempotent: escalating a BLOCKed transaction changes nothing.
 */
export function applyEscalation(
  state: TxState,
  escalation: { by: string; at_ms: number; reason: string },
): ApplyResult & { already_blocked: boolean } {
  const where = `transaction ${state.provider}/${state.transaction_id}`;
  if (state.decision === 'BLOCK') return { newState: state, postings: [], already_blocked: true };
  if (state.decision !== 'REVIEW')
    throw new EscalationRejectedError('not_under_review', `${where} is not under compliance review (decision ${state.decision})`);
  const reasons = mergeReasons(state.reasons, [
    {
      code: ESCALATION_REASON_CODE,
      rule_id: ESCALATION_RULE_ID,
      outcome: 'BLOCK',
      message: `escalated by ${escalation.by}: ${escalation.reason}`,
    },
  ]);
  return { ...settle({ ...state, decision: 'BLOCK', reasons }), already_blocked: false };
}

function accountFor(state: TxState, bucket: 'pending' | 'available' | 'held' | 'external'): AccountRef {
  return bucket === 'external' ? externalAccount(state.provider, state.asset) : walletAccount(state.wallet_id, state.asset, bucket);
}

const ZERO_DELTA = 0n;

/**
 * Decomposes the move from `from` to `to` into debit/credit pairs: each account whose
 * balance must rise is debited, each that must fall is credited; the external clearing
 * account takes the difference so the postings balance. Deterministic account order.
 */
export function postingsBetween(state: TxState, from: Position, to: Position): Posting[] {
  const walletDeltas = {
    pending: to.pending - from.pending,
    held: to.held - from.held,
    available: to.available - from.available,
  };
  const externalDelta = -(walletDeltas.pending + walletDeltas.held + walletDeltas.available);
  const deltas: Array<[AccountRef, bigint]> = [];
  if (walletDeltas.pending !== ZERO_DELTA) deltas.push([accountFor(state, 'pending'), walletDeltas.pending]);
  if (walletDeltas.held !== ZERO_DELTA) deltas.push([accountFor(state, 'held'), walletDeltas.held]);
  if (walletDeltas.available !== ZERO_DELTA) deltas.push([accountFor(state, 'available'), walletDeltas.available]);
  if (externalDelta !== ZERO_DELTA) deltas.push([accountFor(state, 'external'), externalDelta]);
  const debits = deltas.filter(([, d]) => d > 0n).map(([a, d]) => ({ account: a, left: d }));
  const credits = deltas.filter(([, d]) => d < 0n).map(([a, d]) => ({ account: a, left: -d }));
  const postings: Posting[] = [];
  let i = 0;
  let j = 0;
  while (i < debits.length && j < credits.length) {
    const debit = debits[i]!;
    const credit = credits[j]!;
    const amount = debit.left < credit.left ? debit.left : credit.left;
    postings.push({ asset: state.asset, debit: debit.account, credit: credit.account, amount_units: amount });
    debit.left -= amount;
    credit.left -= amount;
    if (debit.left === 0n) i += 1;
    if (credit.left === 0n) j += 1;
  }
  assertPostingsBalance(postings, deltas);
  return postings;
}

/** Every posting positive, between two distinct accounts of one asset, and together exactly the deltas. */
export function assertPostingsBalance(postings: Posting[], deltas: Array<[AccountRef, bigint]>): void {
  const effect = new Map<string, bigint>();
  for (const p of postings) {
    if (p.amount_units <= 0n) throw new LedgerInvariantError(`posting amount must be positive, got ${p.amount_units}`);
    if (p.debit.asset !== p.asset || p.credit.asset !== p.asset) throw new LedgerInvariantError('posting mixes assets');
    const debitId = accountId(p.debit);
    const creditId = accountId(p.credit);
    if (debitId === creditId) throw new LedgerInvariantError(`posting debits and credits the same account ${debitId}`);
    effect.set(debitId, (effect.get(debitId) ?? 0n) + p.amount_units);
    effect.set(creditId, (effect.get(creditId) ?? 0n) - p.amount_units);
  }
  let sum = 0n;
  for (const [account, delta] of deltas) {
    sum += delta;
    if ((effect.get(accountId(account)) ?? 0n) !== delta) {
      throw new LedgerInvariantError(`postings do not produce the required movement on ${accountId(account)}`);
    }
  }
  if (sum !== 0n) throw new LedgerInvariantError(`movement does not balance: sum ${sum}`);
  let moved = 0;
  for (const v of effect.values()) if (v !== 0n) moved += 1;
  if (moved !== deltas.filter(([, d]) => d !== 0n).length)
    throw new LedgerInvariantError('postings move an account the movement does not name');
}

function assertPositionInvariants(state: TxState): void {
  if (state.position.pending < 0n || state.position.held < 0n) {
    throw new LedgerInvariantError(`transaction ${state.provider}/${state.transaction_id}: negative pending or held contribution`);
  }
}

// Serialization lives in tx-state-json.ts; re-exported so the state machine's module stays the one entry point.
export { factsToJson, stateFromJson, stateToJson, type TxStateJson } from './tx-state-json.js';
