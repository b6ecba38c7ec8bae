/**
 * The provider statements API of DESIGN 3.5, as pure functions over the ground truth:
 * statement records (with injected discrepancies), keyset pagination with an opaque
 * cursor, and the "odd provider" knobs (capped pages, empty pages, repeated items).
 */
import type { EventType, SimTransaction, StatementStatus, TransactionKind } from './model.js';
import { formatFixed } from './money.js';
import type { Rng } from './rng.js';
import type { StatementKnobs } from './scenario.js';

export interface StatementRecord {
  transaction_id: string;
  wallet_id: string;
  asset: string;
  amount: string;
  direction: 'in' | 'out';
  status: StatementStatus;
  updated_at: string;
  /** Sort key; not part of the wire record. */
  updated_at_ms: number;
}

export type WireStatementRecord = Omit<StatementRecord, 'updated_at_ms'>;

/** The status a transaction's books show given the set of its events. */
export function effectiveStatus(kind: TransactionKind, types: ReadonlySet<EventType>): StatementStatus {
  if (kind === 'deposit') {
    if (types.has('deposit.reversed')) return 'reversed';
    if (types.has('deposit.confirmed')) return 'confirmed';
    if (types.has('deposit.failed')) return 'failed';
    return 'pending';
  }
  if (types.has('withdrawal.confirmed')) return 'confirmed';
  if (types.has('withdrawal.failed')) return 'failed';
  return 'pending';
}

/** A wrong status that is still plausible: what an `alter_status` discrepancy reports. */
export function alteredStatus(status: StatementStatus): StatementStatus {
  switch (status) {
    case 'pending':
      return 'confirmed';
    case 'confirmed':
      return 'failed';
    case 'failed':
      return 'confirmed';
    case 'reversed':
      return 'confirmed';
  }
}

/** An amount off by 10 % (at least one base unit): what an `alter_amount` discrepancy reports. */
export function alteredAmountUnits(units: bigint): bigint {
  const delta = units / 10n;
  return units + (delta > 0n ? delta : 1n);
}

/** The statement record the provider reports, or null when it leaves the transaction out. */
export function statementRecordOf(tx: SimTransaction, types: ReadonlySet<EventType>, updated_at_ms: number): StatementRecord | null {
  if (types.size === 0 || tx.discrepancy === 'omit_from_statements') return null;
  const status = effectiveStatus(tx.kind, types);
  const amount_units = tx.discrepancy === 'alter_amount' ? alteredAmountUnits(tx.amount_units) : tx.amount_units;
  return {
    transaction_id: tx.transaction_id,
    wallet_id: tx.wallet_id,
    asset: tx.asset,
    amount: formatFixed(amount_units, tx.decimals),
    direction: tx.kind === 'deposit' ? 'in' : 'out',
    status: tx.discrepancy === 'alter_status' ? alteredStatus(status) : status,
    updated_at: new Date(updated_at_ms).toISOString(),
    updated_at_ms,
  };
}

// --- pagination ----------------------------------------------------------------------------

/** Position after which the next page starts; `since_ms` travels with the cursor. */
export interface Cursor {
  since_ms: number | null;
  after_ms: number;
  after_id: string;
}

const CURSOR_VERSION = 1;
const CURSOR_LENGTH_MAX = 512;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, cursor.since_ms, cursor.after_ms, cursor.after_id]), 'utf8').toString('base64url');
}

export function decodeCursor(text: string): Cursor | null {
  if (text.length === 0 || text.length > CURSOR_LENGTH_MAX || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 4 || value[0] !== CURSOR_VERSION) return null;
    const [, since_ms, after_ms, after_id] = value as [number, unknown, unknown, unknown];
    if (since_ms !== null && !Number.isSafeInteger(since_ms)) return null;
    if (!Number.isSafeInteger(after_ms) || typeof after_id !== 'string') return null;
    return { since_ms: since_ms as number | null, after_ms: after_ms as number, after_id };
  } catch {
    return null;
  }
}

export interface PageQuery {
  updated_since_ms: number | null;
  cursor: Cursor | null;
  limit: number;
}

export interface Page {
  data: WireStatementRecord[];
  next_cursor: string | null;
}

/** Index of the first record strictly after (after_ms, after_id). */
function firstAfter(records: readonly StatementRecord[], after_ms: number, after_id: string): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = records[mid]!;
    const after = r.updated_at_ms > after_ms || (r.updated_at_ms === after_ms && r.transaction_id > after_id);
    if (after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Index of the first record with updated_at_ms >= since_ms. */
function firstSince(records: readonly StatementRecord[], since_ms: number): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (records[mid]!.updated_at_ms >= since_ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function toWire(r: StatementRecord): WireStatementRecord {
  return {
    transaction_id: r.transaction_id,
    wallet_id: r.wallet_id,
    asset: r.asset,
    amount: r.amount,
    direction: r.direction,
    status: r.status,
    updated_at: r.updated_at,
  };
}

/**
 * One page of `records` (sorted by updated_at_ms, transaction_id). `updated_since` is
 * inclusive; a cursor carries its own `updated_since`, which wins over the query's.
 * Knobs make the provider odd on purpose; `rng` makes that oddness reproducible.
 */
export function statementsPage(records: readonly StatementRecord[], query: PageQuery, knobs: StatementKnobs, rng: Rng): Page {
  const since_ms = query.cursor ? query.cursor.since_ms : query.updated_since_ms;
  const since_index = since_ms === null ? 0 : firstSince(records, since_ms);
  let start = since_index;
  if (query.cursor) {
    start = Math.max(start, firstAfter(records, query.cursor.after_ms, query.cursor.after_id));
    // At-least-once paging: some providers repeat the boundary item.
    if (start > since_index && rng.chance(knobs.repeat_last_item_rate)) start -= 1;
  }
  const here: Cursor = query.cursor ?? { since_ms, after_ms: Number.MIN_SAFE_INTEGER, after_id: '' };
  if (start < records.length && rng.chance(knobs.empty_page_rate)) {
    return { data: [], next_cursor: encodeCursor(here) };
  }
  const page_size = Math.min(query.limit, knobs.page_size_cap ?? Number.MAX_SAFE_INTEGER);
  const slice = records.slice(start, start + page_size);
  const last = slice[slice.length - 1];
  const more = start + slice.length < records.length;
  return {
    data: slice.map(toWire),
    next_cursor: more && last ? encodeCursor({ since_ms, after_ms: last.updated_at_ms, after_id: last.transaction_id }) : null,
  };
}
