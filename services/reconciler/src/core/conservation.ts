/**
 * Conservation inside the platform, over the audit trail (audit.v1): every event that
 * entered Tidemark is accounted for — projected by the ledger (or recorded as not
 * projectable, e.g. an unknown type), rejected with a reason by a stage after ingress,
 * or dead-lettered. Nothing vanishes between stages.
 *
 * Rules (per provider event, keyed `provider:event_id`, the audit topic's own key, so all
 * of an event's records sit in one partition):
 *  - Entry: ingress `accepted` (every delivery; redeliveries share the key) or a
 *    reconciler `healed` injection.
 *  - Accounted for: a terminal outcome for the key from any stage after ingress (see
 *    TERMINAL_*). A redelivery that dedupe calls `duplicate` is accounted for exactly
 *    when the first delivery is (same key).
 *  - Only entries inside the window and older than the settle time are judged, so events
 *    still in flight are not false positives.
 *  - An entry without an outcome whose first `retried` is older than the stuck threshold
 *    is `stuck_in_retry`; one with a younger retry is in flight; one with no retry and no
 *    outcome is `not_conserved`.
 * Memory: resolved events are dropped as soon as both ends are seen; only open events are
 * kept, bounded by `tracks_max`.
 */
import type { AuditRecord } from '@tidemark/common/records';
import type { Finding } from './model.js';
import { type Window, windowPosition } from './window.js';

export const ENTRY_ACTIONS: ReadonlyArray<{ stage: string; action: string }> = [
  { stage: 'ingress', action: 'accepted' },
  { stage: 'reconciler', action: 'healed' },
];

/** Ledger-projector actions that end an event's journey (applied, or recorded as not projectable). */
export const TERMINAL_PROJECTOR_ACTIONS: ReadonlySet<string> = new Set([
  'projected',
  'recorded',
  'not_projected',
  'skipped',
  'ignored',
  'unknown_type',
]);
export const PROJECTOR_STAGE = 'ledger-projector';
/** Any stage: the event went to a dead-letter topic. */
export const DEAD_LETTER_ACTION = 'dead_lettered';
/** Any stage after ingress: refused with a reason (ingress's own rejections are of requests never accepted). */
export const REJECT_ACTION = 'rejected';
export const RETRY_ACTION = 'retried';

export type EventOutcome = 'projected' | 'rejected' | 'dead_lettered';

interface Track {
  entered_at_ms: number | null;
  deliveries: number;
  event_type: string | null;
  key: string | null;
  outcome: EventOutcome | null;
  first_retry_at_ms: number | null;
  retries: number;
}

export interface ConservationOptions {
  provider: string;
  window: Window;
  /** Entries at or after this instant are still settling and not judged. */
  settled_before_ms: number;
  /** An event first retried before this instant and still without outcome is stuck. */
  stuck_before_ms: number;
  tracks_max: number;
}

export interface ConservationSummary {
  audit_records_read: number;
  events_entered: number;
  deliveries: number;
  healed_entries: number;
  projected: number;
  rejected: number;
  dead_lettered: number;
  duplicates: number;
  in_flight: number;
  not_conserved: number;
  stuck_in_retry: number;
  ok: boolean;
}

export class ConservationCapacityError extends Error {
  override readonly name = 'ConservationCapacityError';
}

export class ConservationCheck {
  private readonly open = new Map<string, Track>();
  private records = 0;
  private duplicates = 0;
  private healed = 0;
  private deliveries = 0;
  private readonly resolved = { projected: 0, rejected: 0, dead_lettered: 0 };
  /**
   * Events already resolved and forgotten, as 52-bit hashes of their keys (a number in a Set
   * costs a fraction of the key string): a later redelivery must not reopen them. A hash
   * collision only means one later redelivery of another event is not judged.
   */
  private readonly settledKeys = new Set<number>();

  constructor(private readonly opts: ConservationOptions) {}

  observe(record: AuditRecord): void {
    this.records += 1;
    if (record.provider !== this.opts.provider || !record.event_id) return;
    const key = `${record.provider}:${record.event_id}`;
    const isEntry = ENTRY_ACTIONS.some((e) => e.stage === record.stage && e.action === record.action);
    const outcome = outcomeOf(record);
    const isRetry = record.action === RETRY_ACTION;
    if (record.action === 'duplicate') this.duplicates += 1;
    if (!isEntry && outcome === null && !isRetry) return;
    const entryInWindow = isEntry && windowPosition(this.opts.window, record.at_ms) === 'in';
    if (entryInWindow) this.deliveries += 1;

    const hashed = keyHash(key);
    if (this.settledKeys.has(hashed)) return;
    let track = this.open.get(key);
    if (!track) {
      if (this.open.size >= this.opts.tracks_max) {
        throw new ConservationCapacityError(`more than ${this.opts.tracks_max} open events in the audit trail; check a shorter window`);
      }
      track = { entered_at_ms: null, deliveries: 0, event_type: null, key: null, outcome: null, first_retry_at_ms: null, retries: 0 };
      this.open.set(key, track);
    }
    if (isEntry) {
      if (!entryInWindow) {
        // Entered outside the window: not judged by this run.
        if (track.entered_at_ms === null) {
          this.open.delete(key);
          this.settle(hashed);
        }
        return;
      }
      track.deliveries += 1;
      if (record.stage === 'reconciler') this.healed += 1;
      if (track.entered_at_ms === null || record.at_ms < track.entered_at_ms) track.entered_at_ms = record.at_ms;
      track.event_type = track.event_type ?? record.event_type;
      track.key = track.key ?? record.key;
    }
    if (outcome !== null && track.outcome === null) track.outcome = outcome;
    if (isRetry) {
      track.retries += 1;
      if (track.first_retry_at_ms === null) track.first_retry_at_ms = record.at_ms;
    }
    if (track.entered_at_ms !== null && track.outcome !== null) {
      this.resolved[track.outcome] += 1;
      this.open.delete(key);
      this.settle(hashed);
    }
  }

  /** Remembers a settled event, forgetting the oldest beyond the bound (a much later redelivery is then judged on its own). */
  private settle(hashed: number): void {
    this.settledKeys.add(hashed);
    if (this.settledKeys.size <= this.opts.tracks_max) return;
    const first = this.settledKeys.values().next();
    if (!first.done) this.settledKeys.delete(first.value);
  }

  get open_count(): number {
    return this.open.size;
  }

  finish(): { summary: ConservationSummary; findings: Finding[] } {
    const findings: Finding[] = [];
    let in_flight = 0;
    let entered_open = 0;
    for (const [eventKey, t] of this.open) {
      if (t.entered_at_ms === null) continue; // outcome of an event entered before the window
      entered_open += 1;
      if (t.entered_at_ms >= this.opts.settled_before_ms) {
        in_flight += 1;
        continue;
      }
      const entered = new Date(t.entered_at_ms).toISOString();
      // A finding about one event of a wallet: no transaction, asset or values to compare.
      const eventFinding = {
        transaction_id: null,
        wallet_id: t.key,
        asset: null,
        ledger_value: null,
        provider_value: null,
        event_key: eventKey,
      };
      if (t.first_retry_at_ms !== null) {
        if (t.first_retry_at_ms >= this.opts.stuck_before_ms) {
          in_flight += 1;
          continue;
        }
        findings.push({
          ...eventFinding,
          kind: 'stuck_in_retry',
          detail: `event ${eventKey} (${t.event_type ?? 'unknown type'}) entered at ${entered} has been in the retry ladder since ${new Date(t.first_retry_at_ms).toISOString()} (${t.retries} retries) without being projected, rejected or dead-lettered`,
        });
        continue;
      }
      findings.push({
        ...eventFinding,
        kind: 'not_conserved',
        detail: `event ${eventKey} (${t.event_type ?? 'unknown type'}) entered at ${entered} (${t.deliveries} deliveries) was never projected, rejected with a reason or dead-lettered`,
      });
    }
    const resolved_total = this.resolved.projected + this.resolved.rejected + this.resolved.dead_lettered;
    const summary: ConservationSummary = {
      audit_records_read: this.records,
      events_entered: resolved_total + entered_open,
      deliveries: this.deliveries,
      healed_entries: this.healed,
      projected: this.resolved.projected,
      rejected: this.resolved.rejected,
      dead_lettered: this.resolved.dead_lettered,
      duplicates: this.duplicates,
      in_flight,
      not_conserved: findings.filter((f) => f.kind === 'not_conserved').length,
      stuck_in_retry: findings.filter((f) => f.kind === 'stuck_in_retry').length,
      ok: findings.length === 0,
    };
    return { summary, findings };
  }
}

/** 52-bit FNV-1a-style hash of a key (two 32-bit lanes), exact as a JS number. */
export function keyHash(key: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i += 1) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}

function outcomeOf(record: AuditRecord): EventOutcome | null {
  if (record.action === DEAD_LETTER_ACTION) return 'dead_lettered';
  if (record.stage === PROJECTOR_STAGE && TERMINAL_PROJECTOR_ACTIONS.has(record.action)) return 'projected';
  if (record.action === REJECT_ACTION && record.stage !== 'ingress' && record.reason) return 'rejected';
  return null;
}
