/**
 * The compliance-screening handler on the shared stream runtime:
 * events.unique.v1 (CanonicalEvent) → events.screened.v1 (ScreenedEvent), plus
 * compliance.alerts.v1 (ComplianceAlert) for REVIEW and BLOCK, plus an audit note.
 *
 * Order of work for one event, so that nothing reaches events.screened.v1 unscreened
 * and a replay gives the identical answer:
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
  type RiskAssessment,
} from './core/screen.js';
import type { RulesAndNames } from './reference/rules-source.js';
import type { RiskQuery } from './risk/risk-client.js';
import type { DecisionStore } from './store/decision-store.js';

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

export function createScreeningHandler(deps: ScreeningHandlerDeps): Handler<CanonicalEvent> {
  const clock = deps.clock ?? Date.now;

  async function decide(event: CanonicalEvent): Promise<{ screening: ScreeningDecision; replayed: boolean; trivial: boolean }> {
    const stored = await deps.store.find(event.provider, event.event_id);
    if (stored) return { screening: stored, replayed: true, trivial: !isTransactionEvent(event) };

    const sanctions = deps.sanctions();
    const { rules, names } = deps.reference();
    const window_key = windowKey(event);
    const trivial = !isTransactionEvent(event);
    let screening: ScreeningDecision;
    let amount_ref: string | null = null;
    if (trivial) {
      screening = trivialDecision({ rules, sanctions, screened_at_ms: clock() });
    } else {
      const problem = eventProblem(event);
      if (problem) throw new PermanentError(`event ${event.provider}:${event.event_id} cannot be screened: ${problem}`);
      // Risk first: if the API is down nothing else is worth doing, and nothing is stored.
      const risk = await Promise.all(riskAddresses(event).map((address) => deps.risk.assess({ address, network: event.network, asset: event.asset })));
      amount_ref = amountInReference(event, rules);
      const history =
        event.amount !== null && rules.history_window_ms > 0
          ? await deps.store.history(window_key, event.occurred_at_ms - rules.history_window_ms, event.occurred_at_ms, rules.history_rows_max)
          : { entries: [], truncated: false };
      screening = screen(event, {
        rules,
        sanctions,
        names,
        history: history.entries,
        history_truncated: history.truncated,
        risk,
        screened_at_ms: clock(),
      });
    }
    const saved = await deps.store.save({
      provider: event.provider,
      event_id: event.event_id,
      window_key,
      transaction_id: event.transaction_id,
      event_type: event.event_type,
      occurred_at_ms: event.occurred_at_ms,
      amount_ref,
      counts_in_windows: !trivial && event.amount !== null,
      screening,
    });
    return { screening: saved.decision, replayed: !saved.inserted, trivial };
  }

  return {
    service: SERVICE,
    input_topic: INPUT_TOPIC,
    async handle(record: InputRecord<CanonicalEvent>): Promise<HandlerResult> {
      const started_ms = performance.now();
      const event = record.value;
      if (!event || typeof event.provider !== 'string' || typeof event.event_id !== 'string') {
        throw new PermanentError('record is not a CanonicalEvent (no provider/event_id)');
      }
      const { screening, replayed, trivial } = await decide(event);
      deps.observe?.({ decision: screening.decision, replayed, trivial, duration_ms: performance.now() - started_ms });
      return { outputs: outputsFor(record.key, event, screening), audit: [auditFor(record.key, event, screening, replayed)] };
    },
  };
}
