/**
 * The reconciliation window [since, until): half-open, so consecutive windows never
 * compare a transaction twice and never miss one.
 */

export interface Window {
  since_ms: number;
  until_ms: number;
}

export type WindowPosition = 'before' | 'in' | 'after';

export class WindowError extends Error {
  override readonly name = 'WindowError';
}

/** Date-time with an explicit zone (Z or ±hh:mm), or a plain date (UTC midnight). */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Parses a strict ISO-8601 instant; `what` names the flag or field in the error. */
export function parseInstant(text: string, what: string): number {
  const trimmed = text.trim();
  if (!ISO_DATE_TIME.test(trimmed) && !ISO_DATE.test(trimmed)) {
    throw new WindowError(`${what} must be an ISO-8601 date-time with a zone, e.g. 2026-11-23T10:00:00Z (got ${JSON.stringify(text)})`);
  }
  // Date.parse accepts more than 9 fractional digits poorly; trim to milliseconds first.
  const ms = Date.parse(trimmed.replace(/(\.\d{3})\d+/, '$1'));
  if (!Number.isFinite(ms)) throw new WindowError(`${what} is not a valid date-time: ${JSON.stringify(text)}`);
  return ms;
}

export function makeWindow(since: string, until: string | undefined, now_ms: number): Window {
  const since_ms = parseInstant(since, '--since');
  const until_ms = until === undefined ? now_ms : parseInstant(until, '--until');
  if (since_ms >= until_ms) {
    throw new WindowError(
      `the window is empty: --since ${new Date(since_ms).toISOString()} must be before --until ${new Date(until_ms).toISOString()}`,
    );
  }
  return { since_ms, until_ms };
}

export function windowPosition(window: Window, at_ms: number): WindowPosition {
  if (at_ms < window.since_ms) return 'before';
  if (at_ms >= window.until_ms) return 'after';
  return 'in';
}
