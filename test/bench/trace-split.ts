/**
 * Where an event's end-to-end time goes, hop by hop, read from its OpenTelemetry trace in
 * Jaeger: ingress's HTTP span (receive → acknowledged once in Kafka), each consumer's
 * `<service> process` span (chunk start → its Kafka transaction committed), and the gaps
 * between them (a record's way through Kafka to the next consumer: the upstream commit's
 * markers, the fetch, waiting for the partition's previous chunk).
 *
 * `hopSplit` is pure (tested in trace-split.test.ts); `fetchTraces` reads Jaeger's query API.
 */

/** The pipeline's spans in order: [segment name, service, operation-name test]. */
const STAGES = [
  ['ingress', 'ingress', (op: string) => op.startsWith('POST /webhooks')],
  ['dedupe', 'dedupe', (op: string) => op === 'dedupe process'],
  ['screening', 'compliance-screening', (op: string) => op === 'compliance-screening process'],
  ['ledger', 'ledger-projector', (op: string) => op === 'ledger-projector process'],
] as const;

/** Segments in pipeline order: each stage's span, and the Kafka gap before every stage after the first. */
export const SEGMENTS = ['ingress', 'to_dedupe', 'dedupe', 'to_screening', 'screening', 'to_ledger', 'ledger', 'total'] as const;
export type Segment = (typeof SEGMENTS)[number];

/** The parts of a Jaeger trace (GET /api/traces) this module reads. Times in microseconds. */
export interface JaegerTrace {
  traceID: string;
  spans: Array<{ operationName: string; startTime: number; duration: number; processID: string }>;
  processes: Record<string, { serviceName: string }>;
}

export interface SegmentStats {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  mean_ms: number;
}

export interface HopSplit {
  /** Traces that held every stage's span (others, e.g. still in flight or sampled out, are skipped). */
  traces: number;
  skipped: number;
  segments: Record<Segment, SegmentStats> | null;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Per-event milliseconds of every segment of one trace, or null when a stage's span is missing. */
export function traceSegments(trace: JaegerTrace): Record<Segment, number> | null {
  const firsts: Array<{ start: number; end: number }> = [];
  for (const [, service, isOp] of STAGES) {
    let first: { start: number; end: number } | null = null;
    for (const s of trace.spans) {
      if (trace.processes[s.processID]?.serviceName !== service || !isOp(s.operationName)) continue;
      if (!first || s.startTime < first.start) first = { start: s.startTime, end: s.startTime + s.duration };
    }
    if (!first) return null;
    firsts.push(first);
  }
  const [ing, ded, scr, led] = firsts as [(typeof firsts)[0], (typeof firsts)[0], (typeof firsts)[0], (typeof firsts)[0]];
  const ms = (us: number) => us / 1000;
  return {
    ingress: ms(ing.end - ing.start),
    to_dedupe: ms(ded.start - ing.end),
    dedupe: ms(ded.end - ded.start),
    to_screening: ms(scr.start - ded.end),
    screening: ms(scr.end - scr.start),
    to_ledger: ms(led.start - scr.end),
    ledger: ms(led.end - led.start),
    total: ms(led.end - ing.start),
  };
}

/** Percentiles of every segment over the traces that hold the whole pipeline. */
export function hopSplit(traces: JaegerTrace[]): HopSplit {
  const rows = traces.map(traceSegments);
  const complete = rows.filter((r): r is Record<Segment, number> => r !== null);
  if (complete.length === 0) return { traces: 0, skipped: rows.length, segments: null };
  const segments = {} as Record<Segment, SegmentStats>;
  for (const seg of SEGMENTS) {
    const v = complete.map((r) => r[seg]).sort((a, b) => a - b);
    segments[seg] = {
      p50_ms: round1(quantile(v, 0.5)),
      p90_ms: round1(quantile(v, 0.9)),
      p99_ms: round1(quantile(v, 0.99)),
      mean_ms: round1(v.reduce((a, b) => a + b, 0) / v.length),
    };
  }
  return { traces: complete.length, skipped: rows.length - complete.length, segments };
}

/** One line: `segment p50/p99` for each segment. */
export function formatHopSplit(split: HopSplit): string {
  if (!split.segments) return `no complete traces (${split.skipped} incomplete)`;
  const s = split.segments;
  return `${SEGMENTS.map((k) => `${k} ${s[k].p50_ms}/${s[k].p99_ms}`).join(', ')} ms (p50/p99 of ${split.traces} traces)`;
}

/**
 * Traces whose ledger-projector span started in [from_ms, to_ms), at most `limit` (Jaeger
 * returns the newest first). Null when Jaeger does not answer.
 */
export async function fetchTraces(query_url: string, from_ms: number, to_ms: number, limit: number): Promise<JaegerTrace[] | null> {
  const q = new URLSearchParams({
    service: 'ledger-projector',
    operation: 'ledger-projector process',
    start: String(from_ms * 1000),
    end: String(to_ms * 1000),
    limit: String(limit),
  });
  try {
    const res = await fetch(`${query_url}/api/traces?${q}`, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) return null;
    const body = (await res.json()) as { data?: JaegerTrace[] };
    return body.data ?? [];
  } catch {
    return null;
  }
}
