/**
 * The retry ladder and parking rules, as pure functions (no I/O).
 *
 * Vocabulary
 * - source offset: a record's offset in the service's main input topic; it never
 *   changes while the record moves through the ladder, so it totally orders the
 *   records of one key (one key always maps to one input partition).
 * - parked row: "record (key, source offset) currently sits in the ladder at rung r".
 *   Rows live in Postgres (see parking/store.ts); here they are plain values.
 * - head of key K: K's parked row with the smallest source offset.
 *
 * The one ordering rule (used for records from the main topic AND from rungs):
 *   a record is processed only if no parked row of its key has a smaller source
 *   offset; otherwise it FOLLOWS: it is parked and forwarded to the rung where the
 *   head of its key sits, behind it.
 * Rows are removed only after the record finished (handled, or dead-lettered) and
 * that outcome is committed in Kafka, so the next record of the key cannot overtake.
 */

import {
  H_ATTEMPT,
  H_DUE_AT_MS,
  H_FIRST_FAILURE_AT_MS,
  H_LAST_ERROR,
  H_RUNG,
  H_SOURCE_OFFSET,
  H_SOURCE_PARTITION,
  H_SOURCE_TOPIC,
} from './headers.js';

export type ErrorClass = 'TRANSIENT' | 'PERMANENT' | 'POISON';

/** Rungs are numbered 1..n; `retry_delays_ms[r - 1]` is rung r's delay. */
export interface LadderPolicy {
  retry_delays_ms: readonly number[];
}

export const RUNG_DELAY_MS_MAX = 24 * 3600_000;
export const RUNG_COUNT_MAX = 16;

export function validatePolicy(policy: LadderPolicy): void {
  const n = policy.retry_delays_ms.length;
  if (n < 1 || n > RUNG_COUNT_MAX) throw new Error(`retry ladder needs 1..${RUNG_COUNT_MAX} rungs, got ${n}`);
  for (const d of policy.retry_delays_ms) {
    if (!Number.isInteger(d) || d < 0 || d > RUNG_DELAY_MS_MAX) {
      throw new Error(`retry delay ${d} ms is out of range 0..${RUNG_DELAY_MS_MAX}`);
    }
  }
}

export interface ParkedView {
  source_offset: bigint;
  rung: number;
}

export type Route = { kind: 'process' } | { kind: 'follow'; rung: number; head_offset: bigint };

/** Decides whether the record at `source_offset` may be processed now, given its key's parked rows. */
export function routeRecord(source_offset: bigint, parked_of_key: Iterable<ParkedView>): Route {
  let head: ParkedView | null = null;
  for (const row of parked_of_key) {
    if (row.source_offset < source_offset && (head === null || row.source_offset < head.source_offset)) head = row;
  }
  return head === null ? { kind: 'process' } : { kind: 'follow', rung: head.rung, head_offset: head.source_offset };
}

export type AfterFailure = { kind: 'retry'; rung: number } | { kind: 'dead_letter'; error_class: ErrorClass };

/**
 * Where a record goes after its `attempts_made`-th attempt failed with `error_class`.
 * Transient failures climb one rung per attempt (attempt 1 fails → rung 1); past the
 * last rung, or for permanent/poison failures, the record is dead-lettered.
 */
export function afterFailure(error_class: ErrorClass, attempts_made: number, policy: LadderPolicy): AfterFailure {
  if (!Number.isInteger(attempts_made) || attempts_made < 1) throw new Error(`attempts_made must be >= 1, got ${attempts_made}`);
  if (error_class !== 'TRANSIENT') return { kind: 'dead_letter', error_class };
  if (attempts_made <= policy.retry_delays_ms.length) return { kind: 'retry', rung: attempts_made };
  return { kind: 'dead_letter', error_class: 'TRANSIENT' };
}

export function rungDelayMs(rung: number, policy: LadderPolicy): number {
  const delay = policy.retry_delays_ms[rung - 1];
  if (delay === undefined) throw new Error(`rung ${rung} does not exist (ladder has ${policy.retry_delays_ms.length})`);
  return delay;
}

export function dueAtMs(now_ms: number, rung: number, policy: LadderPolicy): number {
  return now_ms + rungDelayMs(rung, policy);
}

/**
 * How long a rung partition stays paused for a record due at `due_at_ms`; clamped to
 * the rung's delay so a skewed clock or a bad header cannot park a partition for long.
 */
export function pauseForMs(due_at_ms: number, now_ms: number, rung: number, policy: LadderPolicy): number {
  const wait = due_at_ms - now_ms;
  if (wait <= 0) return 0;
  return Math.min(wait, rungDelayMs(rung, policy));
}

/** Exponential backoff for failures that block in place (infrastructure down). */
export function blockBackoffMs(consecutive_failures: number, min_ms = 100, max_ms = 30_000): number {
  const n = Math.max(0, Math.min(consecutive_failures, 30));
  return Math.min(max_ms, min_ms * 2 ** n);
}

// ---------------------------------------------------------------------------
// Ladder record headers (names in headers.ts)
// ---------------------------------------------------------------------------

export * from './headers.js';

const LADDER_HEADERS = [
  H_SOURCE_TOPIC,
  H_SOURCE_PARTITION,
  H_SOURCE_OFFSET,
  H_ATTEMPT,
  H_DUE_AT_MS,
  H_FIRST_FAILURE_AT_MS,
  H_LAST_ERROR,
  H_RUNG,
];
export const LAST_ERROR_CHARS_MAX = 300;

export interface LadderState {
  source_topic: string;
  source_partition: number;
  source_offset: bigint;
  attempts_made: number;
  due_at_ms: number;
  first_failure_at_ms: number | null;
  last_error: string | null;
  rung: number;
}

export class LadderHeaderError extends Error {
  override readonly name = 'LadderHeaderError';
}

/** Headers of a record forwarded into the ladder: the original headers, ladder ones rewritten. */
export function ladderHeaders(original: Record<string, string>, state: LadderState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(original)) if (!LADDER_HEADERS.includes(k)) out[k] = v;
  out[H_SOURCE_TOPIC] = state.source_topic;
  out[H_SOURCE_PARTITION] = String(state.source_partition);
  out[H_SOURCE_OFFSET] = state.source_offset.toString();
  out[H_ATTEMPT] = String(state.attempts_made);
  out[H_DUE_AT_MS] = String(state.due_at_ms);
  out[H_RUNG] = String(state.rung);
  if (state.first_failure_at_ms !== null) out[H_FIRST_FAILURE_AT_MS] = String(state.first_failure_at_ms);
  if (state.last_error !== null) out[H_LAST_ERROR] = truncate(state.last_error, LAST_ERROR_CHARS_MAX);
  return out;
}

/** Reads the ladder state of a record read from a rung topic. */
export function parseLadderHeaders(headers: Record<string, string>): LadderState {
  const topic = headers[H_SOURCE_TOPIC];
  const partition = parseIntHeader(headers, H_SOURCE_PARTITION);
  const offsetText = headers[H_SOURCE_OFFSET];
  if (!topic) throw new LadderHeaderError(`ladder record lacks header ${H_SOURCE_TOPIC}`);
  if (!offsetText || !/^\d{1,19}$/.test(offsetText))
    throw new LadderHeaderError(`ladder record has a bad ${H_SOURCE_OFFSET}: ${offsetText}`);
  const first = headers[H_FIRST_FAILURE_AT_MS];
  return {
    source_topic: topic,
    source_partition: partition,
    source_offset: BigInt(offsetText),
    attempts_made: parseIntHeader(headers, H_ATTEMPT),
    due_at_ms: parseIntHeader(headers, H_DUE_AT_MS),
    first_failure_at_ms: first === undefined ? null : Number.parseInt(first, 10),
    last_error: headers[H_LAST_ERROR] ?? null,
    rung: parseIntHeader(headers, H_RUNG),
  };
}

/** The original headers with the ladder's own removed (for DLQ records and replays). */
export function stripLadderHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!LADDER_HEADERS.includes(k)) out[k] = v;
  return out;
}

function parseIntHeader(headers: Record<string, string>, name: string): number {
  const text = headers[name];
  if (text === undefined || !/^-?\d{1,16}$/.test(text)) throw new LadderHeaderError(`ladder record has a bad ${name}: ${text}`);
  return Number.parseInt(text, 10);
}

export function truncate(text: string, chars_max: number): string {
  return text.length <= chars_max ? text : `${text.slice(0, chars_max - 1)}…`;
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

export function rungTopicBase(service: string, rung: number): string {
  return `${service}.retry.${rung}`;
}

export function dlqTopicBase(service: string): string {
  return `${service}.dlq`;
}

/** Rung number of a base topic name `<service>.retry.<n>`, or null for the main topic. */
export function rungOfTopic(base_topic: string, service: string): number | null {
  const prefix = `${service}.retry.`;
  if (!base_topic.startsWith(prefix)) return null;
  const n = Number.parseInt(base_topic.slice(prefix.length), 10);
  return Number.isInteger(n) && n >= 1 ? n : null;
}
