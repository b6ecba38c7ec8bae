/**
 * The compliance-screening handler on the shared stream runtime:
 * events.unique.v1 (CanonicalEvent) → events.screened.v1 (ScreenedEvent), plus
 * compliance.alerts.v1 (ComplianceAlert) for REVIEW and BLOCK, plus an audit note.
 *
 * Order of work for one event (handle; handleBatch does the same for many events
 * with a few queries per batch), so that nothing reaches events.screened.v1
 * unscreened and a replay gives the identical answer:
 *  1. a decision stored for (provider, event_id) is returned as is (replay, redelivery);
 *  2. external risk scores are fetched — any failure throws TransientError and the
 *     event waits in the retry ladder (later events of the wallet wait behind it);
 *  3. the wallet's window history is read and the pure core decides;
 *  4. the decision is stored (first writer wins) and published.
 */
import type { CanonicalEvent, ComplianceAlert, ScreenedEvent, ScreeningDecision } from '@tidemark/common';
import { PermanentError, type AuditNote, type Handler, type HandlerResult, type InputRecord, type OutputRecord } from '@tidemark/stream';
import type { SanctionsList } from './core/addresses.js';
import {
  amountInReference,
  eventProblem,
  isTransactionEvent,
  riskAddresses,
  screen,
  trivialDecision,
  windowKey,
  type HistoryEntry,
  type RiskAssessment,
} from './core/screen.js';
import type { RulesAndNames } from './reference/rules-source.js';
import type { RiskQuery } from './risk/risk-client.js';
import type { DecisionStore, StoredRow } from './store/decision-store.js';

export const SERVICE = 'compliance-screening';
export const INPUT_TOPIC = 'events.unique.v1';
export const SCREENED_TOPIC = 'events.screened.v1';
export const ALERTS_TOPIC = 'compliance.alerts.v1';

export interface RiskAssessor {
  assess(query: RiskQuery): Promise<RiskAssessment>;
}

export interface ScreeningObservation {
  decision: ScreeningDecision['decision'];
  replayed: boolean;
  trivial: boolean;
  duration_ms: number;
  /** The event's canonical type (metric label). */
  event_type: string;
  /** Ingress arrival (received_at_ms) to this decision, by the handler's clock. */
  received_to_screened_ms: number;
}

export interface ScreeningHandlerDeps {
  store: DecisionStore;
  risk: RiskAssessor;
  sanctions: () => SanctionsList;
  reference: () => RulesAndNames;
  clock?: () => number;
  observe?: (o: ScreeningObservation) => void;
}

export function alertId(event: Pick<CanonicalEvent, 'provider' | 'event_id'>): string {
  return `alert:${event.provider}:${event.event_id}`;
}

/** Records to publish for one screened event (pure; identical for a replay). */
export function outputsFor(key: string, event: CanonicalEvent, screening: ScreeningDecision): OutputRecord[] {
  const screened: ScreenedEvent = { event, screening };
  const outputs: OutputRecord[] = [{ topic: SCREENED_TOPIC, key, value: screened }];
  if (screening.decision !== 'ALLOW') {
    const alert: ComplianceAlert = { alert_id: alertId(event), severity: screening.decision, event, screening };
    outputs.push({ topic: ALERTS_TOPIC, key, value: alert });
  }
  return outputs;
}

function auditFor(key: string, event: CanonicalEvent, screening: ScreeningDecision, replayed: boolean): AuditNote {
  return {
    action: 'screened',
    provider: event.provider,
    event_id: event.event_id,
    event_type: event.event_type,
    key,
    reason: screening.decision === 'ALLOW' ? null : [...new Set(screening.reasons.map((r) => r.code))].join(','),
    details: {
      decision: screening.decision,
      rule_ids: screening.reasons.map((r) => r.rule_id).join(','),
      rules_version: screening.rules_version,
      sanctions_list_version: screening.sanctions_list_version,
      replayed: String(replayed),
      ...(screening.decision === 'ALLOW' ? {} : { alert_id: alertId(event) }),
    },
  };
}

/** Most history rows one batch loads for one wallet; beyond that the batch falls back to record by record. */
export const BATCH_HISTORY_ROWS_MAX = 20_000;
/** Concurrent risk API calls of one batch. */
export const BATCH_RISK_CONCURRENCY_MAX = 32;

const idOf = (e: Pick<CanonicalEvent, 'provider' | 'event_id'>) => `${e.provider}\u0000${e.event_id}`;

async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function assertEvent(record: InputRecord<CanonicalEvent>): CanonicalEvent {
  const event = record.value;
  if (!event || typeof event.provider !== 'string' || typeof event.event_id !== 'string') {
    throw new PermanentError('record is not a CanonicalEvent (no provider/event_id)');
  }
  return event;
}

function assertScreenable(event: CanonicalEvent): void {
  const problem = eventProblem(event);
  if (problem) throw new PermanentError(`event ${event.provider}:${event.event_id} cannot be screened: ${problem}`);
}

function storedRow(event: CanonicalEvent, screening: ScreeningDecision, amount_ref: string | null): StoredRow {
  const trivial = !isTransactionEvent(event);
  return {
    provider: event.provider,
    event_id: event.event_id,
    window_key: windowKey(event),
    transaction_id: event.transaction_id,
    event_type: event.event_type,
    occurred_at_ms: event.occurred_at_ms,
    amount_ref,
    counts_in_windows: !trivial && event.amount !== null,
    screening,
  };
}

/** History of one record from a wallet's rows: (t - window, t], newest first, at most rows_max (like DecisionStore.history). */
function historyAt(
  rows: HistoryEntry[],
  t_ms: number,
  window_ms: number,
  rows_max: number,
): { entries: HistoryEntry[]; truncated: boolean } {
  const inWindow = rows.filter((h) => h.occurred_at_ms > t_ms - window_ms && h.occurred_at_ms <= t_ms);
  if (inWindow.length <= rows_max) return { entries: inWindow, truncated: false };
  inWindow.sort(
    (a, b) =>
      b.occurred_at_ms - a.occurred_at_ms ||
      (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : a.event_id < b.event_id ? -1 : 1),
  );
  return { entries: inWindow.slice(0, rows_max), truncated: true };
}

async function decide(
  deps: ScreeningHandlerDeps,
  clock: () => number,
  event: CanonicalEvent,
): Promise<{ screening: ScreeningDecision; replayed: boolean; trivial: boolean }> {
  const stored = await deps.store.find(event.provider, event.event_id);
  const trivial = !isTransactionEvent(event);
  if (stored) return { screening: stored, replayed: true, trivial };

  const sanctions = deps.sanctions();
  const { rules, names } = deps.reference();
  let screening: ScreeningDecision;
  let amount_ref: string | null = null;
  if (trivial) {
    screening = trivialDecision({ rules, sanctions, screened_at_ms: clock() });
  } else {
    assertScreenable(event);
    // Risk first: if the API is down nothing else is worth doing, and nothing is stored.
    const risk = await Promise.all(
      riskAddresses(event).map((address) => deps.risk.assess({ address, network: event.network, asset: event.asset })),
    );
    amount_ref = amountInReference(event, rules);
    const history =
      event.amount !== null && rules.history_window_ms > 0
        ? await deps.store.history(
            windowKey(event),
            event.occurred_at_ms - rules.history_window_ms,
            event.occurred_at_ms,
            rules.history_rows_max,
          )
        : { entries: [], truncated: false };
    screening = screenAgainst(event, { rules, sanctions, names }, history, risk, clock());
  }
  const saved = await deps.store.save(storedRow(event, screening, amount_ref));
  return { screening: saved.decision, replayed: !saved.inserted, trivial };
}

type ScreenInput = Parameters<typeof screen>[1];

/** The pure screening of a transaction event, given the reference data, its wallet's history window and its addresses' risk. */
function screenAgainst(
  event: CanonicalEvent,
  reference: Pick<ScreenInput, 'rules' | 'sanctions' | 'names'>,
  history: { entries: ScreenInput['history']; truncated: boolean },
  risk: ScreenInput['risk'],
  screened_at_ms: number,
): ScreeningDecision {
  return screen(event, { ...reference, history: history.entries, history_truncated: history.truncated, risk, screened_at_ms });
}

const riskKey = (network: string | null, address: string) => `${network ?? ''}\u0000${address}`;

/** One risk assessment per distinct (network, address) of the batch, keyed by `riskKey`. */
async function assessBatchRisk(deps: ScreeningHandlerDeps, screenable: CanonicalEvent[]): Promise<Map<string, RiskAssessment>> {
  const queries = new Map<string, { address: string; network: string | null; asset: string | null }>();
  for (const e of screenable)
    for (const address of riskAddresses(e)) queries.set(riskKey(e.network, address), { address, network: e.network, asset: e.asset });
  const assessed = await mapBounded(
    [...queries.entries()],
    BATCH_RISK_CONCURRENCY_MAX,
    async ([k, q]) => [k, await deps.risk.assess(q)] as const,
  );
  return new Map(assessed);
}

/** Every wallet's window of the batch, covering all its events' windows, read in one statement. */
async function loadBatchWindows(
  deps: ScreeningHandlerDeps,
  history_window_ms: number,
  screenable: CanonicalEvent[],
): Promise<Map<string, { from_ms: number; to_ms: number; rows: HistoryEntry[] }>> {
  const windows = new Map<string, { from_ms: number; to_ms: number; rows: HistoryEntry[] }>();
  if (history_window_ms > 0) {
    for (const e of screenable) {
      if (e.amount === null) continue;
      const w = windows.get(windowKey(e));
      if (w) {
        w.from_ms = Math.min(w.from_ms, e.occurred_at_ms - history_window_ms);
        w.to_ms = Math.max(w.to_ms, e.occurred_at_ms);
      } else {
        windows.set(windowKey(e), { from_ms: e.occurred_at_ms - history_window_ms, to_ms: e.occurred_at_ms, rows: [] });
      }
    }
    const loaded = await deps.store.histories(
      [...windows].map(([window_key, w]) => ({ window_key, from_ms_exclusive: w.from_ms, to_ms_inclusive: w.to_ms })),
      BATCH_HISTORY_ROWS_MAX,
    );
    for (const [key, w] of windows) {
      const history = loaded.get(key)!;
      if (history.truncated)
        throw new Error(`wallet ${key} has more than ${BATCH_HISTORY_ROWS_MAX} rows in its window; screening record by record`);
      w.rows = history.entries;
    }
  }
  return windows;
}

/**
 * The same decisions as `decide` record by record, with a few queries per batch
 * instead of three per record: stored decisions in one query, every wallet's window
 * in one query, one insert. Anything unusual (a failure, a huge window, a concurrent
 * writer) throws, and the runtime falls back to `handle` record by record.
 */
async function decideBatch(
  deps: ScreeningHandlerDeps,
  clock: () => number,
  events: CanonicalEvent[],
): Promise<Array<{ screening: ScreeningDecision; replayed: boolean; trivial: boolean }>> {
  const stored = await deps.store.findMany(events.map((e) => ({ provider: e.provider, event_id: e.event_id })));
  const sanctions = deps.sanctions();
  const { rules, names } = deps.reference();

  // The first occurrence of each unscreened event is screened; later duplicates reuse it.
  const pending: CanonicalEvent[] = [];
  const pendingIds = new Set<string>();
  for (const e of events) {
    const id = idOf(e);
    if (stored.has(id) || pendingIds.has(id)) continue;
    pendingIds.add(id);
    pending.push(e);
  }
  const screenable = pending.filter(isTransactionEvent);
  for (const e of screenable) assertScreenable(e);

  const riskByKey = await assessBatchRisk(deps, screenable);
  const windows = await loadBatchWindows(deps, rules.history_window_ms, screenable);

  const decided = new Map<string, ScreeningDecision>();
  const rows: StoredRow[] = [];
  for (const e of pending) {
    let screening: ScreeningDecision;
    let amount_ref: string | null = null;
    if (!isTransactionEvent(e)) {
      screening = trivialDecision({ rules, sanctions, screened_at_ms: clock() });
    } else {
      amount_ref = amountInReference(e, rules);
      const w = windows.get(windowKey(e));
      const history =
        e.amount !== null && w
          ? historyAt(w.rows, e.occurred_at_ms, rules.history_window_ms, rules.history_rows_max)
          : { entries: [], truncated: false };
      const risk = riskAddresses(e).map((address) => riskByKey.get(riskKey(e.network, address)) as RiskAssessment);
      screening = screenAgainst(e, { rules, sanctions, names }, history, risk, clock());
    }
    const row = storedRow(e, screening, amount_ref);
    if (row.counts_in_windows)
      windows.get(row.window_key)?.rows.push({
        provider: e.provider,
        event_id: e.event_id,
        transaction_id: e.transaction_id as string,
        occurred_at_ms: e.occurred_at_ms,
        amount_ref,
      });
    decided.set(idOf(e), screening);
    rows.push(row);
  }
  const inserted = await deps.store.insertMany(rows);
  if (inserted !== rows.length)
    throw new Error(
      `${rows.length - inserted} of ${rows.length} decisions were stored concurrently by another instance; screening record by record`,
    );

  return batchResults(events, stored, decided);
}

function batchResults(
  events: CanonicalEvent[],
  stored: Map<string, ScreeningDecision>,
  decided: Map<string, ScreeningDecision>,
): Array<{ screening: ScreeningDecision; replayed: boolean; trivial: boolean }> {
  const first = new Set<string>();
  return events.map((e) => {
    const id = idOf(e);
    const trivial = !isTransactionEvent(e);
    const previous = stored.get(id);
    if (previous) return { screening: previous, replayed: true, trivial };
    const replayed = first.has(id);
    first.add(id);
    return { screening: decided.get(id) as ScreeningDecision, replayed, trivial };
  });
}

export function createScreeningHandler(deps: ScreeningHandlerDeps): Handler<CanonicalEvent> {
  const clock = deps.clock ?? Date.now;
  return {
    service: SERVICE,
    input_topic: INPUT_TOPIC,
    async handle(record: InputRecord<CanonicalEvent>): Promise<HandlerResult> {
      const started_ms = performance.now();
      const event = assertEvent(record);
      const { screening, replayed, trivial } = await decide(deps, clock, event);
      deps.observe?.({
        decision: screening.decision,
        replayed,
        trivial,
        duration_ms: performance.now() - started_ms,
        event_type: event.event_type,
        received_to_screened_ms: clock() - event.received_at_ms,
      });
      return { outputs: outputsFor(record.key, event, screening), audit: [auditFor(record.key, event, screening, replayed)] };
    },
    async handleBatch(records: InputRecord<CanonicalEvent>[]): Promise<HandlerResult[]> {
      const started_ms = performance.now();
      const events = records.map(assertEvent);
      const results = await decideBatch(deps, clock, events);
      const per_record_ms = (performance.now() - started_ms) / Math.max(1, records.length);
      const decided_at_ms = clock();
      return records.map((record, i) => {
        const { screening, replayed, trivial } = results[i] as { screening: ScreeningDecision; replayed: boolean; trivial: boolean };
        const event = events[i] as CanonicalEvent;
        deps.observe?.({
          decision: screening.decision,
          replayed,
          trivial,
          duration_ms: per_record_ms,
          event_type: event.event_type,
          received_to_screened_ms: decided_at_ms - event.received_at_ms,
        });
        return { outputs: outputsFor(record.key, event, screening), audit: [auditFor(record.key, event, screening, replayed)] };
      });
    },
  };
}
