/**
 * OpenTelemetry set-up (OTLP/HTTP export, to Jaeger) and W3C trace-context
 * propagation through Kafka record headers. One trace follows each event from the
 * HTTP request through every Kafka hop to the Postgres write.
 */
import { context, propagation, trace, type Context, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { installRequireResolveCache } from './kafkajs-patches.js';

export { SpanKind, SpanStatusCode, context, trace };
export type { Context, Span };

let sdk: NodeSDK | null = null;

/**
 * Starts tracing for `service`. Exports to `otlp_endpoint` (e.g.
 * http://127.0.0.1:4318/v1/traces) when given; otherwise spans are created (so
 * trace ids still travel in headers) but not exported.
 */
export function initTelemetry(service: string, otlp_endpoint?: string, extra_exporter?: SpanExporter): void {
  if (sdk) return;
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const processors: SpanProcessor[] = [];
  if (otlp_endpoint)
    processors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: otlp_endpoint }), { maxQueueSize: 8192, scheduledDelayMillis: 500 }),
    );
  if (extra_exporter) processors.push(new BatchSpanProcessor(extra_exporter));
  // Without any processor NodeSDK registers no tracer provider, spans are non-recording and no
  // traceparent is injected; a no-op processor keeps spans (and trace ids in headers) alive.
  if (processors.length === 0) processors.push(new NoopSpanProcessor());
  // The instrumentations' require hook resolves every require; kafkajs requires on every request.
  // Only the kafkajs client needs this (the default librdkafka client requires nothing per request).
  if (process.env.TIDEMARK_KAFKA_CLIENT === 'kafkajs') installRequireResolveCache();
  sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: service }),
    spanProcessors: processors,
    // Head sampling at the root (ingress); every later stage follows the parent's decision, so a
    // trace is kept whole or not at all. Unsampled events still carry their trace id in headers.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(traceSampleRatio()) }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => /^\/(healthz|readyz|metrics)/.test(req.url ?? '') }),
      new PgInstrumentation(),
    ],
  });
  sdk.start();
}

/**
 * TIDEMARK_TRACE_SAMPLE_RATIO: share of new traces recorded and exported, 0..1 (default 1: every
 * event). At high rates sample at the root here, or export everything to an OpenTelemetry
 * Collector with tail sampling (keep errors and slow traces) — docs/observability.md.
 */
export function traceSampleRatio(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TIDEMARK_TRACE_SAMPLE_RATIO;
  if (raw === undefined || raw.trim() === '') return 1;
  const ratio = Number(raw);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new Error(`TIDEMARK_TRACE_SAMPLE_RATIO=${JSON.stringify(raw)}: expected a number from 0 to 1`);
  }
  return ratio;
}

export async function shutdownTelemetry(): Promise<void> {
  if (!sdk) return;
  const s = sdk;
  sdk = null;
  await s.shutdown().catch(() => undefined);
}

export function tracer(name = 'tidemark') {
  return trace.getTracer(name);
}

/** Writes the active (or given) context's traceparent/tracestate into `headers`. */
export function injectTraceHeaders(headers: Record<string, string> = {}, ctx: Context = context.active()): Record<string, string> {
  propagation.inject(ctx, headers);
  return headers;
}

/** The context carried by Kafka record headers (string-valued), or the root context. */
export function extractTraceContext(headers: Record<string, string | undefined>): Context {
  return propagation.extract(context.active(), headers);
}

/** The current trace id, or null when there is no valid span. */
export function currentTraceId(ctx: Context = context.active()): string | null {
  const span = trace.getSpan(ctx);
  const id = span?.spanContext().traceId;
  return id && !/^0+$/.test(id) ? id : null;
}

/** Runs `fn` inside a span (child of `parent`), recording errors. */
export async function withSpan<T>(
  name: string,
  opts: { parent?: Context; kind?: SpanKind; attributes?: Record<string, string | number | boolean> },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = opts.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}
