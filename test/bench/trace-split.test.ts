import { describe, expect, it } from 'vitest';
import { formatHopSplit, hopSplit, traceSegments, type JaegerTrace } from './trace-split.js';

/** A trace with the pipeline's spans at the given [start, duration] in milliseconds. */
function trace(id: string, at: Record<'ingress' | 'dedupe' | 'screening' | 'ledger', [number, number]>, extra: JaegerTrace['spans'] = []) {
  const us = (ms: number) => ms * 1000;
  const span = (operationName: string, processID: string, [start, duration]: [number, number]) => ({
    operationName,
    processID,
    startTime: us(1_700_000_000_000 + start),
    duration: us(duration),
  });
  return {
    traceID: id,
    processes: {
      p1: { serviceName: 'ingress' },
      p2: { serviceName: 'dedupe' },
      p3: { serviceName: 'compliance-screening' },
      p4: { serviceName: 'ledger-projector' },
    },
    spans: [
      span('ledger-projector process', 'p4', at.ledger),
      span('POST /webhooks/{provider}', 'p1', at.ingress),
      span('dedupe process', 'p2', at.dedupe),
      span('compliance-screening process', 'p3', at.screening),
      ...extra,
    ],
  } satisfies JaegerTrace;
}

describe('traceSegments', () => {
  it('splits an event into its stages and the Kafka gaps between them', () => {
    const t = trace('a', { ingress: [0, 10], dedupe: [25, 5], screening: [40, 20], ledger: [70, 30] });
    expect(traceSegments(t)).toEqual({
      ingress: 10,
      to_dedupe: 15,
      dedupe: 5,
      to_screening: 10,
      screening: 20,
      to_ledger: 10,
      ledger: 30,
      total: 100,
    });
  });

  it('takes the first span of a stage (a retried chunk adds a later one) and ignores child spans', () => {
    const t = trace('b', { ingress: [0, 10], dedupe: [25, 5], screening: [40, 20], ledger: [70, 30] }, [
      { operationName: 'dedupe process', processID: 'p2', startTime: (1_700_000_000_000 + 500) * 1000, duration: 9_000 },
      { operationName: 'pg.project_batch', processID: 'p4', startTime: (1_700_000_000_000 + 71) * 1000, duration: 2_000 },
    ]);
    expect(traceSegments(t)).toMatchObject({ dedupe: 5, to_screening: 10, ledger: 30 });
  });

  it('is null for a trace without every stage (event still in flight)', () => {
    const t = trace('c', { ingress: [0, 10], dedupe: [25, 5], screening: [40, 20], ledger: [70, 30] });
    t.spans = t.spans.filter((s) => s.operationName !== 'compliance-screening process');
    expect(traceSegments(t)).toBeNull();
  });
});

describe('hopSplit', () => {
  it('gives percentiles per segment over the complete traces and counts the rest', () => {
    const traces = Array.from({ length: 100 }, (_, i) =>
      trace(`t${i}`, { ingress: [0, 1 + i], dedupe: [200, 5], screening: [300, 20], ledger: [400, 10] }),
    );
    const incomplete = trace('x', { ingress: [0, 1], dedupe: [2, 1], screening: [3, 1], ledger: [4, 1] });
    incomplete.spans = incomplete.spans.slice(1);
    const split = hopSplit([...traces, incomplete]);
    expect(split.traces).toBe(100);
    expect(split.skipped).toBe(1);
    expect(split.segments?.ingress).toEqual({ p50_ms: 51, p90_ms: 91, p99_ms: 100, mean_ms: 50.5 });
    expect(split.segments?.total).toMatchObject({ p50_ms: 410, p99_ms: 410 });
    expect(formatHopSplit(split)).toMatch(/^ingress 51\/100, to_dedupe 150\/199, .* total 410\/410 ms \(p50\/p99 of 100 traces\)$/);
  });

  it('says so when no trace is complete', () => {
    expect(hopSplit([])).toEqual({ traces: 0, skipped: 0, segments: null });
    expect(formatHopSplit(hopSplit([]))).toBe('no complete traces (0 incomplete)');
  });
});
