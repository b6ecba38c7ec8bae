/** Ingress metrics on the shared prom-client registry (served at GET /metrics). */
import type { Metrics } from '@tidemark/common';
import { KNOWN_EVENT_TYPES } from '../core/canonical.js';

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5];
const LAG_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400, 259_200];
const KNOWN = new Set<string>(KNOWN_EVENT_TYPES);

export type IngressMetrics = ReturnType<typeof createIngressMetrics>;

export function createIngressMetrics(metrics: Metrics) {
  const requests = metrics.counter(
    'tidemark_ingress_requests_total',
    'Webhook requests by provider, HTTP status and outcome (accepted or the rejection code).',
    ['provider', 'status', 'outcome'],
  );
  const ack_latency = metrics.histogram(
    'tidemark_ingress_ack_latency_seconds',
    'Time from the Kafka write being queued to its acks=all acknowledgement, per accepted request.',
    ['provider'],
    LATENCY_BUCKETS_S,
  );
  const request_duration = metrics.histogram(
    'tidemark_ingress_request_duration_seconds',
    'Time from request start to response, by provider and status.',
    ['provider', 'status'],
    LATENCY_BUCKETS_S,
  );
  const event_lag = metrics.histogram(
    'tidemark_ingress_event_lag_seconds',
    "Lag between an event's occurred_at and its arrival at ingress, per provider and event type.",
    ['provider', 'event_type'],
    LAG_BUCKETS_S,
  );
  const batch_records = metrics.histogram(
    'tidemark_ingress_kafka_batch_records',
    'Records per Kafka sendBatch.',
    [],
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
  );
  const batch_failures = metrics.counter('tidemark_ingress_kafka_batch_failures_total', 'Kafka batches that failed.');
  const in_flight = metrics.gauge('tidemark_ingress_in_flight_requests', 'Webhook requests being processed.');
  const audit_dropped = metrics.counter(
    'tidemark_ingress_audit_dropped_total',
    'Audit records of rejected requests dropped because the audit queue was full (Kafka unavailable for long).',
  );
  const label_provider = (id: string | null) => id ?? 'unknown';
  return {
    request(provider: string | null, status: number, outcome: string, duration_s: number) {
      requests.inc({ provider: label_provider(provider), status: String(status), outcome });
      request_duration.observe({ provider: label_provider(provider), status: String(status) }, duration_s);
    },
    ack(provider: string, seconds: number) {
      ack_latency.observe({ provider }, seconds);
    },
    lag(provider: string, event_type: string, seconds: number) {
      // Unknown event types share one label so hostile input cannot grow the series count.
      event_lag.observe({ provider, event_type: KNOWN.has(event_type) ? event_type : 'other' }, Math.max(0, seconds));
    },
    batch(records: number, ok: boolean) {
      batch_records.observe(records);
      if (!ok) batch_failures.inc();
    },
    inFlight(delta: number) {
      in_flight.inc(delta);
    },
    auditDropped(count: number) {
      audit_dropped.inc(count);
    },
  };
}
