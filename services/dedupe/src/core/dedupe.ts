/**
 * Dedupe decisions, pure. The dedupe key is (provider, provider event id); the claim
 * of a key stores the source coordinates of the delivery that first passed.
 */
import type { SourceCoordinates } from '@tidemark/stream/handler';

export const DEDUPE_WINDOW_DAYS_MIN = 30;
export const DEDUPE_WINDOW_DAYS_MAX = 3650;
export const PROVIDER_CHARS_MAX = 64;
export const EVENT_ID_CHARS_MAX = 256;
const DAY_MS = 24 * 3600_000;

export interface DedupeKey {
  provider: string;
  event_id: string;
}

export type KeyCheck = { ok: true; key: DedupeKey } | { ok: false; reason: string };

export function dedupeKey(event: { provider: unknown; event_id: unknown }): KeyCheck {
  const { provider, event_id } = event;
  if (typeof provider !== 'string' || provider.length === 0 || provider.length > PROVIDER_CHARS_MAX) {
    return { ok: false, reason: `provider must be 1..${PROVIDER_CHARS_MAX} characters` };
  }
  if (typeof event_id !== 'string' || event_id.length === 0 || event_id.length > EVENT_ID_CHARS_MAX) {
    return { ok: false, reason: `event_id must be 1..${EVENT_ID_CHARS_MAX} characters` };
  }
  return { ok: true, key: { provider, event_id } };
}

export function keyId(k: DedupeKey): string {
  return `${k.provider}\u0000${k.event_id}`;
}

export function sameSource(a: SourceCoordinates, b: SourceCoordinates): boolean {
  return a.topic === b.topic && a.partition === b.partition && BigInt(a.offset) === BigInt(b.offset);
}

export type Decision = { kind: 'pass' } | { kind: 'duplicate'; first: SourceCoordinates };

/**
 * A delivery passes iff the claim of its key holds its own source coordinates (it is
 * the first delivery, possibly re-processed after a crash), or — for an operator
 * replay of a dead letter — the coordinates of the record it replays.
 */
export function decide(claim: SourceCoordinates, record: SourceCoordinates, replay_source: SourceCoordinates | null): Decision {
  if (sameSource(claim, record)) return { kind: 'pass' };
  if (replay_source && sameSource(claim, replay_source)) return { kind: 'pass' };
  return { kind: 'duplicate', first: claim };
}

/** Parses `<topic>/<partition>/<offset>` (the replay-source header). */
export function parseCoordinates(text: string | undefined): SourceCoordinates | null {
  if (!text) return null;
  const m = /^(.+)\/(\d{1,10})\/(\d{1,19})$/.exec(text);
  return m ? { topic: m[1]!, partition: Number.parseInt(m[2]!, 10), offset: m[3]! } : null;
}

/** Claims first seen before this instant are past the window. */
export function windowCutoffMs(now_ms: number, window_days: number): number {
  if (!Number.isInteger(window_days) || window_days < DEDUPE_WINDOW_DAYS_MIN || window_days > DEDUPE_WINDOW_DAYS_MAX) {
    throw new Error(`dedupe window must be ${DEDUPE_WINDOW_DAYS_MIN}..${DEDUPE_WINDOW_DAYS_MAX} days, got ${window_days}`);
  }
  return now_ms - window_days * DAY_MS;
}
