/**
 * Reconciler metrics (prom-client through @tidemark/common). One-shot runs write them
 * next to the JSON report as a Prometheus text file (the node_exporter textfile-collector
 * convention); scheduled mode also serves them on /metrics.
 */
import { type Metrics, createMetrics } from '@tidemark/common';
import type { ReportSummary } from './core/report.js';

export type ReconcilerMetrics = ReturnType<typeof createReconcilerMetrics>;

export function createReconcilerMetrics(metrics: Metrics = createMetrics('reconciler')) {
  const runs = metrics.counter('reconciler_runs_total', 'Reconciliation runs by outcome (ok, discrepancies, failed)', [
    'provider',
    'outcome',
  ]);
  const discrepancies = metrics.counter('reconciler_discrepancies_total', 'Discrepancies found, by kind', ['provider', 'kind']);
  const heal_events = metrics.counter('reconciler_heal_events_total', 'Events re-injected by --heal', ['provider']);
  const provider_records = metrics.counter('reconciler_provider_records_total', 'Statement records received from providers', ['provider']);
  const last_discrepancies = metrics.gauge('reconciler_last_run_discrepancies', 'Discrepancies found by the last run', ['provider']);
  const last_duration = metrics.gauge('reconciler_last_run_duration_seconds', 'Duration of the last run', ['provider']);
  const last_success = metrics.gauge('reconciler_last_run_timestamp_seconds', 'When the last run that completed finished (unix seconds)', [
    'provider',
  ]);
  const last_matched = metrics.gauge('reconciler_last_run_matched_transactions', 'Transactions matched cleanly by the last run', [
    'provider',
  ]);
  return {
    metrics,
    discrepancies,
    heal_events,
    provider_records,
    observeRun(provider: string, s: ReportSummary): void {
      runs.inc({ provider, outcome: s.ok ? 'ok' : 'discrepancies' });
      last_discrepancies.set({ provider }, s.discrepancies_total);
      last_duration.set({ provider }, (s.duration_ms ?? 0) / 1000);
      last_success.set({ provider }, Date.now() / 1000);
      last_matched.set({ provider }, s.matching.matched);
    },
    observeFailure(provider: string): void {
      runs.inc({ provider, outcome: 'failed' });
    },
  };
}
