/**
 * Pure core of the end-to-end benchmark: the plan (rates, ramp, steady window), the
 * steady-state window of one rate, whether the pipeline kept up, and the search for the
 * highest rate that meets the latency goal. No I/O; the runner (e2e.bench.ts) measures.
 */

/** The goal of issue 9: p99 received→projected at most this, sustained. */
export const P99_GOAL_MS = 250;
/** Acknowledged and projected rates within this share of the offered rate count as "kept up". */
export const KEPT_UP_SHARE_MIN = 0.97;
export const RATE_PER_S_MAX = 20_000;
export const STEADY_S_MAX = 3_600;
export const SEARCH_PROBES_MAX = 4;

export interface BenchPlan {
  mode: 'quick' | 'full';
  /** Fixed rates, run in this order on one stack. */
  rates_per_s: number[];
  ramp_s: number;
  /** Unmeasured warm-up at the first rate after the stack starts (JIT, connections, caches). */
  warmup_s: number;
  /** Steady-state seconds per rate (after the ramp); latency percentiles are taken over this window. */
  steady_s: number;
  /** After sending stops, wait at most this long for the pipeline to project the backlog. */
  drain_timeout_s: number;
  /** Search for the highest rate whose p99 received→projected is ≤ P99_GOAL_MS. */
  find_max: boolean;
  /** Steady seconds of each search probe (shorter than the fixed rates). */
  search_steady_s: number;
  search_step_per_s: number;
  search_resolution_per_s: number;
  search_rate_max_per_s: number;
}

function positiveInt(env: Record<string, string | undefined>, key: string, fallback: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new Error(`${key} must be an integer in 1..${max} (got ${JSON.stringify(raw)})`);
  return n;
}

/**
 * The plan from the environment. Full mode (default): 1000/s, 20 s ramp, 300 s steady
 * (TIDEMARK_BENCH_DURATION_S). Quick mode: 250, 500, 1000/s at 10 s ramp + 60 s steady.
 * Both start with an unmeasured warm-up (TIDEMARK_BENCH_WARMUP_S, 30 s / 15 s quick).
 * TIDEMARK_BENCH_RATES (comma-separated), TIDEMARK_BENCH_RAMP_S, TIDEMARK_BENCH_DRAIN_TIMEOUT_S
 * and TIDEMARK_BENCH_FIND_MAX=1 override either mode.
 */
export function planFromEnv(env: Record<string, string | undefined>, quick: boolean, find_max_flag = false): BenchPlan {
  const rates_raw = env.TIDEMARK_BENCH_RATES;
  const rates_per_s =
    rates_raw && rates_raw.trim() !== ''
      ? rates_raw.split(',').map((s) => {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n <= 0 || n > RATE_PER_S_MAX)
            throw new Error(`TIDEMARK_BENCH_RATES: each rate must be an integer in 1..${RATE_PER_S_MAX} (got ${JSON.stringify(s)})`);
          return n;
        })
      : quick
        ? [250, 500, 1000]
        : [1000];
  const steady_s = positiveInt(env, 'TIDEMARK_BENCH_DURATION_S', quick ? 60 : 300, STEADY_S_MAX);
  return {
    mode: quick ? 'quick' : 'full',
    rates_per_s,
    ramp_s: positiveInt(env, 'TIDEMARK_BENCH_RAMP_S', quick ? 10 : 20, 600),
    warmup_s: positiveInt(env, 'TIDEMARK_BENCH_WARMUP_S', quick ? 15 : 30, 600),
    steady_s,
    drain_timeout_s: positiveInt(env, 'TIDEMARK_BENCH_DRAIN_TIMEOUT_S', 120, 1_800),
    find_max: find_max_flag || env.TIDEMARK_BENCH_FIND_MAX === '1',
    search_steady_s: Math.min(steady_s, 60),
    search_step_per_s: 250,
    search_resolution_per_s: 100,
    search_rate_max_per_s: positiveInt(env, 'TIDEMARK_BENCH_RATE_MAX', 4_000, RATE_PER_S_MAX),
  };
}

/** The steady-state window of one rate: from the end of the ramp to the end of sending new events. */
export function steadyWindow(send_started_ms: number, ramp_s: number, steady_s: number): { from_ms: number; to_ms: number } {
  const from_ms = send_started_ms + ramp_s * 1000;
  return { from_ms, to_ms: from_ms + steady_s * 1000 };
}

export interface Percentiles {
  count: number;
  p50_ms: number | null;
  p90_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

export interface RateResult {
  offered_rate_per_s: number;
  steady_s: number;
  /** Distinct events acknowledged by ingress per second, over the whole send (ramp included). */
  acknowledged_rate_per_s: number;
  /** Events whose received_at falls in the steady window, per second (what ingress took in). */
  received_rate_steady_per_s: number;
  /** Events projected during the steady window, per second (what the ledger kept up with). */
  projected_rate_steady_per_s: number;
  received_to_projected: Percentiles;
  /** Events acknowledged but not yet projected when sending stopped. */
  backlog_at_send_end: number;
  /** Seconds from the end of sending until every acknowledged event was projected; null: not within the drain timeout. */
  drain_s: number | null;
  abandoned: number;
}

/** Did the pipeline keep up with the offered rate? Reasons are empty when it did. */
export function keptUp(r: RateResult): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  const floor = r.offered_rate_per_s * KEPT_UP_SHARE_MIN;
  if (r.received_rate_steady_per_s < floor)
    reasons.push(`ingress took ${r.received_rate_steady_per_s.toFixed(0)}/s of ${r.offered_rate_per_s}/s offered`);
  if (r.projected_rate_steady_per_s < r.received_rate_steady_per_s * KEPT_UP_SHARE_MIN) {
    reasons.push(`ledger projected ${r.projected_rate_steady_per_s.toFixed(0)}/s of ${r.received_rate_steady_per_s.toFixed(0)}/s received`);
  }
  if (r.drain_s === null) reasons.push('backlog not drained within the drain timeout');
  if (r.abandoned > 0) reasons.push(`${r.abandoned} webhooks abandoned by the simulator`);
  return { ok: reasons.length === 0, reasons };
}

/** Meets the goal: kept up and p99 received→projected ≤ P99_GOAL_MS. */
export function meetsGoal(r: RateResult): boolean {
  return keptUp(r).ok && r.received_to_projected.p99_ms !== null && r.received_to_projected.p99_ms <= P99_GOAL_MS;
}

/**
 * Next rate to probe in the search for the highest rate meeting the goal, or null when
 * done: step up from the highest pass until a failure, then bisect between the highest
 * pass and the lowest failure down to the resolution; halve when nothing passed yet.
 */
export function nextSearchRate(
  tried: Array<{ rate_per_s: number; pass: boolean }>,
  plan: Pick<BenchPlan, 'search_step_per_s' | 'search_resolution_per_s' | 'search_rate_max_per_s'>,
): number | null {
  const passes = tried.filter((t) => t.pass).map((t) => t.rate_per_s);
  const fails = tried.filter((t) => !t.pass).map((t) => t.rate_per_s);
  const best = passes.length ? Math.max(...passes) : null;
  const worst = fails.filter((f) => best === null || f > best);
  const lowest_fail = worst.length ? Math.min(...worst) : null;
  const round = (n: number) =>
    Math.max(plan.search_resolution_per_s, Math.round(n / plan.search_resolution_per_s) * plan.search_resolution_per_s);
  let next: number;
  if (lowest_fail === null) {
    if (best === null) return null;
    next = best + plan.search_step_per_s;
    if (next > plan.search_rate_max_per_s) return null;
  } else if (best === null) {
    next = round(lowest_fail / 2);
    if (next >= lowest_fail) return null;
  } else {
    if (lowest_fail - best <= plan.search_resolution_per_s) return null;
    next = round((best + lowest_fail) / 2);
    if (next <= best || next >= lowest_fail) return null;
  }
  return tried.some((t) => t.rate_per_s === next) ? null : next;
}

/** Highest rate that met the goal among those tried, or null. */
export function highestPassing(tried: Array<{ rate_per_s: number; pass: boolean }>): number | null {
  const passes = tried.filter((t) => t.pass).map((t) => t.rate_per_s);
  return passes.length ? Math.max(...passes) : null;
}
