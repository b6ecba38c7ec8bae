/**
 * A minimal OTLP/HTTP JSON trace receiver for tests on machines where Jaeger is
 * not available: collects (trace id, service, span name, attributes).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as a test sees it, from the OTLP receiver or Jaeger's query API. */
export interface TraceSpan {
  trace_id: string;
  service: string;
  name: string;
  attributes: Record<string, string>;
}

export interface ReceivedSpan {
  trace_id: string;
  service: string;
  name: string;
  attributes: Record<string, string>;
}

interface OtlpJson {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans?: Array<{
      spans?: Array<{ traceId: string; name: string; attributes?: Array<{ key: string; value: Record<string, unknown> }> }>;
    }>;
  }>;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpJson;
          for (const rs of body.resourceSpans ?? []) {
            const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? 'unknown';
            for (const ss of rs.scopeSpans ?? []) {
              for (const s of ss.spans ?? []) {
                const attributes: Record<string, string> = {};
                for (const a of s.attributes ?? []) attributes[a.key] = String(Object.values(a.value)[0]);
                this.spans.push({ trace_id: s.traceId, service, name: s.name, attributes });
              }
            }
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  /** Services that have spans in the trace containing an ingress span for `event_id`. */
  servicesInTraceOf(event_id: string): Set<string> {
    return new Set(this.spansInTraceOf(event_id).map((s) => s.service));
  }

  /** Every span of the trace(s) holding a span tagged `tidemark.event_id = event_id`. */
  spansInTraceOf(event_id: string): TraceSpan[] {
    const traceIds = new Set(this.spans.filter((s) => s.attributes['tidemark.event_id'] === event_id).map((s) => s.trace_id));
    return this.spans
      .filter((s) => traceIds.has(s.trace_id))
      .map(({ trace_id, service, name, attributes }) => ({ trace_id, service, name, attributes }));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Services in the Jaeger trace(s) of `event_id` (searched through ingress spans). */
export async function jaegerServicesInTraceOf(query_url: string, event_id: string): Promise<Set<string>> {
  const tags = encodeURIComponent(JSON.stringify({ 'tidemark.event_id': event_id }));
  const res = await fetch(`${query_url.replace(/\/$/, '')}/api/traces?service=ingress&tags=${tags}&limit=20&lookback=1h`);
  if (!res.ok) return new Set();
  const body = (await res.json()) as {
    data?: Array<{ processes: Record<string, { serviceName: string }>; spans: Array<{ processID: string }> }>;
  };
  const out = new Set<string>();
  for (const trace of body.data ?? []) for (const span of trace.spans) out.add(trace.processes[span.processID]?.serviceName ?? '?');
  return out;
}

interface JaegerTraces {
  data?: Array<{
    traceID: string;
    processes: Record<string, { serviceName: string }>;
    spans: Array<{ processID: string; operationName: string; tags?: Array<{ key: string; value: unknown }> }>;
  }>;
}

/**
 * Every span of the Jaeger trace(s) whose ingress span carries `tidemark.event_id =
 * event_id` (the search docs/observability.md describes); empty when Jaeger answers
 * with an error.
 */
export async function jaegerSpansInTraceOf(query_url: string, event_id: string): Promise<TraceSpan[]> {
  const tags = encodeURIComponent(JSON.stringify({ 'tidemark.event_id': event_id }));
  const res = await fetch(`${query_url.replace(/\/$/, '')}/api/traces?service=ingress&tags=${tags}&limit=20&lookback=1h`);
  if (!res.ok) return [];
  const body = (await res.json()) as JaegerTraces;
  const out: TraceSpan[] = [];
  for (const t of body.data ?? []) {
    for (const span of t.spans) {
      const attributes: Record<string, string> = {};
      for (const tag of span.tags ?? []) attributes[tag.key] = String(tag.value);
      out.push({ trace_id: t.traceID, service: t.processes[span.processID]?.serviceName ?? '?', name: span.operationName, attributes });
    }
  }
  return out;
}
