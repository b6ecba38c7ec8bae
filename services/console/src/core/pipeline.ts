/**
 * The Pipeline page's numbers, computed from a history of scrapes of every service's
 * /metrics and /readyz (pure: the scraping lives in ../pipeline-monitor.ts).
 */
import { bucketDelta, histogramsBy, observations, quantile, sumBy, sumOf, type Sample } from './prom.js';

export interface TargetScrape {
  /** /readyz answered 200 (null: unreachable). */
  ready: boolean | null;
  /** Parsed /metrics, or null when the scrape failed. */
  samples: Sample[] | null;
}

export interface Scrape {
  at_ms: number;
  targets: Record<string, TargetScrape>;
}

export interface LatencyPoint {
  at_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  count: number;
}

export interface PipelineView {
  at_ms: number | null;
  services: Array<{
    name: string;
    ready: boolean | null;
    checks: Record<string, boolean>;
    lag: number;
    ladder_depth: number;
    dlq_depth: number;
  }>;
  totals: { accepted: number; screened: number; projected: number };
  /** Per second over the rate window (null until two scrapes exist). */
  rates: { accepted: number | null; screened: number | null; projected: number | null };
  /** received → projected per event type, each point over the latency window ending at it. */
  latency: Record<string, LatencyPoint[]>;
  rate_window_ms: number;
  latency_window_ms: number;
}

/** Where each stage's counter lives. */
export const STAGE_COUNTERS = {
  accepted: { target: 'ingress', metric: 'tidemark_ingress_requests_total', match: { outcome: 'accepted' } },
  screened: { target: 'compliance-screening', metric: 'tidemark_screening_decisions_total', match: {} },
  projected: { target: 'ledger-projector', metric: 'ledger_events_total', match: {} },
} as const;

export const LATENCY_METRIC = 'tidemark_received_to_projected_seconds';
export const LATENCY_TARGET = 'ledger-projector';

function counter(scrape: Scrape, stage: keyof typeof STAGE_COUNTERS): number | null {
  const spec = STAGE_COUNTERS[stage];
  const samples = scrape.targets[spec.target]?.samples;
  return samples ? sumOf(samples, spec.metric, spec.match) : null;
}

/** The latest scrape at or before `at_ms`, searching backwards from index `from`. */
function atOrBefore(history: readonly Scrape[], from: number, at_ms: number): Scrape | undefined {
  for (let i = from; i >= 0; i--) if (history[i]!.at_ms <= at_ms) return history[i];
  return undefined;
}

export function summarize(
  history: readonly Scrape[],
  opts: { rate_window_ms: number; latency_window_ms: number; target_names: readonly string[] },
): PipelineView {
  const last = history.at(-1);
  const view: PipelineView = {
    at_ms: last?.at_ms ?? null,
    services: [],
    totals: { accepted: 0, screened: 0, projected: 0 },
    rates: { accepted: null, screened: null, projected: null },
    latency: {},
    rate_window_ms: opts.rate_window_ms,
    latency_window_ms: opts.latency_window_ms,
  };
  if (!last) {
    view.services = opts.target_names.map((name) => ({ name, ready: null, checks: {}, lag: 0, ladder_depth: 0, dlq_depth: 0 }));
    return view;
  }
  for (const name of opts.target_names) {
    const t = last.targets[name];
    const samples = t?.samples ?? [];
    const checks: Record<string, boolean> = {};
    for (const [check, value] of Object.entries(sumBy(samples, 'tidemark_ready_check', 'check'))) if (check) checks[check] = value > 0;
    view.services.push({
      name,
      ready: t?.ready ?? null,
      checks,
      lag: sumOf(samples, 'tidemark_stream_consumer_lag'),
      ladder_depth: sumOf(samples, 'tidemark_stream_ladder_depth'),
      dlq_depth: sumOf(samples, 'tidemark_stream_dlq_depth'),
    });
  }
  const earlier =
    atOrBefore(history, history.length - 2, last.at_ms - opts.rate_window_ms) ?? (history.length > 1 ? history[0] : undefined);
  for (const stage of Object.keys(STAGE_COUNTERS) as Array<keyof typeof STAGE_COUNTERS>) {
    const now = counter(last, stage);
    view.totals[stage] = now ?? 0;
    const before = earlier ? counter(earlier, stage) : null;
    if (earlier && now !== null && before !== null && last.at_ms > earlier.at_ms) {
      // A restarted service starts its counters from zero: count from there.
      view.rates[stage] = ((now >= before ? now - before : now) * 1000) / (last.at_ms - earlier.at_ms);
    }
  }
  for (let i = 1; i < history.length; i++) {
    const point = history[i]!;
    const base = atOrBefore(history, i - 1, point.at_ms - opts.latency_window_ms) ?? history[0]!;
    const now = point.targets[LATENCY_TARGET]?.samples;
    const then = base.targets[LATENCY_TARGET]?.samples;
    if (!now || base === point) continue;
    const before = then ? histogramsBy(then, LATENCY_METRIC, 'event_type') : new Map();
    for (const [event_type, buckets] of histogramsBy(now, LATENCY_METRIC, 'event_type')) {
      const delta = bucketDelta(buckets, before.get(event_type));
      const count = observations(delta);
      if (count <= 0) continue;
      const ms = (q: number) => Math.round((quantile(q, delta) ?? 0) * 1000);
      (view.latency[event_type] ??= []).push({ at_ms: point.at_ms, p50_ms: ms(0.5), p90_ms: ms(0.9), p99_ms: ms(0.99), count });
    }
  }
  return view;
}
