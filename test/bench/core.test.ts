import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { highestPassing, keptUp, meetsGoal, nextSearchRate, planFromEnv, steadyWindow, type RateResult } from './core.js';

const plan = { search_step_per_s: 250, search_resolution_per_s: 100, search_rate_max_per_s: 4000 };

function result(over: Partial<RateResult> = {}): RateResult {
  return {
    offered_rate_per_s: 1000,
    steady_s: 300,
    acknowledged_rate_per_s: 990,
    received_rate_steady_per_s: 1000,
    projected_rate_steady_per_s: 998,
    received_to_projected: { count: 300_000, p50_ms: 40, p90_ms: 90, p99_ms: 200, max_ms: 400 },
    backlog_at_send_end: 120,
    drain_s: 2,
    abandoned: 0,
    ...over,
  };
}

describe('planFromEnv', () => {
  it('defaults: full is 1000/s for 300 s steady; quick is 250, 500, 1000/s for 60 s', () => {
    expect(planFromEnv({}, false)).toMatchObject({ mode: 'full', rates_per_s: [1000], steady_s: 300, find_max: false });
    expect(planFromEnv({}, true)).toMatchObject({ mode: 'quick', rates_per_s: [250, 500, 1000], steady_s: 60 });
  });
  it('reads overrides and rejects bad values naming the key', () => {
    expect(
      planFromEnv({ TIDEMARK_BENCH_RATES: '300, 600', TIDEMARK_BENCH_DURATION_S: '20', TIDEMARK_BENCH_FIND_MAX: '1' }, false),
    ).toMatchObject({ rates_per_s: [300, 600], steady_s: 20, find_max: true, search_steady_s: 20 });
    expect(() => planFromEnv({ TIDEMARK_BENCH_RATES: '100,abc' }, false)).toThrow(/TIDEMARK_BENCH_RATES/);
    expect(() => planFromEnv({ TIDEMARK_BENCH_DURATION_S: '0' }, false)).toThrow(/TIDEMARK_BENCH_DURATION_S/);
  });
});

describe('steadyWindow', () => {
  it('starts after the ramp and lasts the steady time', () => {
    expect(steadyWindow(1_000, 20, 300)).toEqual({ from_ms: 21_000, to_ms: 321_000 });
  });
});

describe('keptUp / meetsGoal', () => {
  it('a pipeline that takes and projects the offered rate and drains keeps up', () => {
    expect(keptUp(result())).toEqual({ ok: true, reasons: [] });
    expect(meetsGoal(result())).toBe(true);
  });
  it('names each shortfall', () => {
    const k = keptUp(result({ received_rate_steady_per_s: 700, projected_rate_steady_per_s: 400, drain_s: null, abandoned: 3 }));
    expect(k.ok).toBe(false);
    expect(k.reasons).toHaveLength(4);
  });
  it('a p99 above the goal or a missing p99 misses the goal', () => {
    expect(meetsGoal(result({ received_to_projected: { count: 1, p50_ms: 1, p90_ms: 1, p99_ms: 251, max_ms: 300 } }))).toBe(false);
    expect(meetsGoal(result({ received_to_projected: { count: 0, p50_ms: null, p90_ms: null, p99_ms: null, max_ms: null } }))).toBe(false);
  });
});

describe('nextSearchRate', () => {
  it('steps up while passing, then bisects, then stops', () => {
    expect(nextSearchRate([{ rate_per_s: 1000, pass: true }], plan)).toBe(1250);
    expect(
      nextSearchRate(
        [
          { rate_per_s: 1000, pass: true },
          { rate_per_s: 1250, pass: false },
        ],
        plan,
      ),
    ).toBe(1100);
    expect(
      nextSearchRate(
        [
          { rate_per_s: 1000, pass: true },
          { rate_per_s: 1100, pass: false },
        ],
        plan,
      ),
    ).toBeNull();
    expect(nextSearchRate([{ rate_per_s: 1000, pass: false }], plan)).toBe(500);
    expect(nextSearchRate([], plan)).toBeNull();
  });
  it('always proposes an untried rate strictly between the highest pass and the lowest failure above it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ rate_per_s: fc.integer({ min: 1, max: 40 }).map((n) => n * 100), pass: fc.boolean() }), { maxLength: 8 }),
        (tried) => {
          const next = nextSearchRate(tried, plan);
          if (next === null) return;
          expect(tried.some((t) => t.rate_per_s === next)).toBe(false);
          const best = highestPassing(tried);
          if (best !== null) expect(next).toBeGreaterThan(best);
          const fails = tried.filter((t) => !t.pass && (best === null || t.rate_per_s > best)).map((t) => t.rate_per_s);
          if (fails.length) expect(next).toBeLessThan(Math.min(...fails));
          expect(next).toBeLessThanOrEqual(plan.search_rate_max_per_s);
        },
      ),
    );
  });
});

describe('sumMetrics', () => {
  it('sums a metric over its label sets and ignores comments and other metrics', async () => {
    const { sumMetrics } = await import('./measure.js');
    const text =
      '# HELP x\nprocess_cpu_seconds_total 1.5\ntidemark_stream_records_total{input="main",outcome="ok"} 10\ntidemark_stream_records_total{input="retry",outcome="ok"} 5\nother 3\n';
    expect(sumMetrics(text, ['process_cpu_seconds_total', 'tidemark_stream_records_total'])).toEqual({
      process_cpu_seconds_total: 1.5,
      tidemark_stream_records_total: 15,
    });
  });

  it('keeps the chunk phases apart, summed over their other labels', async () => {
    const { phaseSums } = await import('./measure.js');
    const text = [
      'tidemark_stream_chunk_phase_seconds_sum{service="dedupe",phase="commit"} 1.25',
      'tidemark_stream_chunk_phase_seconds_sum{phase="commit",service="other"} 0.75',
      'tidemark_stream_chunk_phase_seconds_sum{service="dedupe",phase="handle"} 2',
      'tidemark_stream_chunk_phase_seconds_count{service="dedupe",phase="handle"} 9',
    ].join('\n');
    expect(phaseSums(text)).toEqual({ chunk_phase_commit_seconds_sum: 2, chunk_phase_handle_seconds_sum: 2 });
  });
});
