import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketDelta, histogramsBy, parsePrometheus, quantile, sumBy, sumOf } from './prom.js';
import { summarize, type Scrape } from './pipeline.js';

const TEXT = `# HELP tidemark_ingress_requests_total Requests
# TYPE tidemark_ingress_requests_total counter
tidemark_ingress_requests_total{provider="generic",status="202",outcome="accepted",service="ingress"} 564
tidemark_ingress_requests_total{provider="generic",status="401",outcome="rejected",service="ingress"} 3
tidemark_received_to_projected_seconds_bucket{le="0.1",service="ledger-projector",event_type="deposit.detected"} 2
tidemark_received_to_projected_seconds_bucket{le="0.5",service="ledger-projector",event_type="deposit.detected"} 8
tidemark_received_to_projected_seconds_bucket{le="+Inf",service="ledger-projector",event_type="deposit.detected"} 10
odd_label{msg="a \\"quoted\\" value"} 1.5e3
`;

describe('prometheus text', () => {
  it('parses samples, labels with escapes, exponents and +Inf', () => {
    const samples = parsePrometheus(TEXT);
    expect(samples).toHaveLength(6);
    expect(samples.at(-1)).toEqual({ name: 'odd_label', labels: { msg: 'a "quoted" value' }, value: 1500 });
    expect(sumOf(samples, 'tidemark_ingress_requests_total', { outcome: 'accepted' })).toBe(564);
    expect(sumBy(samples, 'tidemark_ingress_requests_total', 'status')).toEqual({ '202': 564, '401': 3 });
    const h = histogramsBy(samples, 'tidemark_received_to_projected_seconds', 'event_type').get('deposit.detected')!;
    expect([...h]).toEqual([
      [0.1, 2],
      [0.5, 8],
      [Number.POSITIVE_INFINITY, 10],
    ]);
  });

  it('quantiles interpolate inside the bucket and cap at the last finite bound', () => {
    const h = new Map([
      [0.1, 2],
      [0.5, 8],
      [Number.POSITIVE_INFINITY, 10],
    ]);
    expect(quantile(0.5, h)).toBeCloseTo(0.1 + 0.4 * (3 / 6));
    expect(quantile(0.1, h)).toBeCloseTo(0.05);
    expect(quantile(0.99, h)).toBe(0.5);
    expect(
      quantile(
        0.5,
        new Map([
          [1, 0],
          [Number.POSITIVE_INFINITY, 0],
        ]),
      ),
    ).toBeNull();
  });

  it('property: quantiles are monotone in q and lie within the buckets', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 12 }), (increments) => {
        let cumulative = 0;
        const h = new Map<number, number>();
        increments.forEach((n, i) => h.set((i + 1) * 0.1, (cumulative += n)));
        h.set(Number.POSITIVE_INFINITY, cumulative);
        if (cumulative === 0) return;
        const qs = [0.01, 0.5, 0.9, 0.99].map((q) => quantile(q, h)!);
        for (let i = 1; i < qs.length; i++) expect(qs[i]!).toBeGreaterThanOrEqual(qs[i - 1]! - 1e-12);
        for (const v of qs) expect(v >= 0 && v <= increments.length * 0.1 + 1e-9).toBe(true);
      }),
    );
  });

  it('bucket deltas subtract the earlier scrape, and restart from zero after a counter reset', () => {
    const later = new Map([
      [0.1, 5],
      [Number.POSITIVE_INFINITY, 9],
    ]);
    expect([
      ...bucketDelta(
        later,
        new Map([
          [0.1, 2],
          [Number.POSITIVE_INFINITY, 3],
        ]),
      ),
    ]).toEqual([
      [0.1, 3],
      [Number.POSITIVE_INFINITY, 6],
    ]);
    expect([
      ...bucketDelta(
        later,
        new Map([
          [0.1, 7],
          [Number.POSITIVE_INFINITY, 20],
        ]),
      ),
    ]).toEqual([...later]);
  });
});

describe('pipeline summary', () => {
  const scrape = (at_ms: number, accepted: number, projected: number, fast: number, slow: number): Scrape => ({
    at_ms,
    targets: {
      ingress: { ready: true, samples: parsePrometheus(`tidemark_ingress_requests_total{outcome="accepted"} ${accepted}`) },
      'ledger-projector': {
        ready: true,
        samples: parsePrometheus(
          [
            `ledger_events_total{outcome="applied"} ${projected}`,
            `tidemark_stream_consumer_lag{partition="0"} 4`,
            `tidemark_stream_consumer_lag{partition="1"} 3`,
            `tidemark_stream_dlq_depth{topic="x"} 2`,
            `tidemark_ready_check{check="postgres"} 1`,
            `tidemark_received_to_projected_seconds_bucket{le="0.1",event_type="deposit.confirmed"} ${fast}`,
            `tidemark_received_to_projected_seconds_bucket{le="1",event_type="deposit.confirmed"} ${fast + slow}`,
            `tidemark_received_to_projected_seconds_bucket{le="+Inf",event_type="deposit.confirmed"} ${fast + slow}`,
          ].join('\n'),
        ),
      },
      dedupe: { ready: null, samples: null },
    },
  });

  it('rates over the window, depths, readiness and latency points over the latency window', () => {
    const history = [scrape(0, 0, 0, 0, 0), scrape(5_000, 50, 40, 40, 0), scrape(10_000, 100, 90, 80, 10)];
    const view = summarize(history, {
      rate_window_ms: 10_000,
      latency_window_ms: 5_000,
      target_names: ['ingress', 'dedupe', 'ledger-projector'],
    });
    expect(view.totals).toEqual({ accepted: 100, screened: 0, projected: 90 });
    expect(view.rates.accepted).toBe(10);
    expect(view.rates.projected).toBe(9);
    expect(view.rates.screened).toBeNull();
    expect(view.services.find((s) => s.name === 'ledger-projector')).toEqual({
      name: 'ledger-projector',
      ready: true,
      checks: { postgres: true },
      lag: 7,
      ladder_depth: 0,
      dlq_depth: 2,
    });
    expect(view.services.find((s) => s.name === 'dedupe')!.ready).toBeNull();
    const points = view.latency['deposit.confirmed']!;
    expect(points.map((p) => p.count)).toEqual([40, 50]);
    expect(points[0]!.p99_ms).toBeLessThanOrEqual(100);
    expect(points[1]!.p99_ms).toBeGreaterThan(100);
  });

  it('an empty history shows every service as unknown', () => {
    const view = summarize([], { rate_window_ms: 1, latency_window_ms: 1, target_names: ['ingress'] });
    expect(view.services).toEqual([{ name: 'ingress', ready: null, checks: {}, lag: 0, ladder_depth: 0, dlq_depth: 0 }]);
    expect(view.at_ms).toBeNull();
  });
});
