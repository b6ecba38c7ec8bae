/** Prometheus metrics: one registry per process, default process metrics included. */
import client from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/** A histogram whose buckets remember the trace id of an observation (an exemplar), so a slow event leads to its trace. */
export interface ExemplarHistogram<L extends string> {
  observe(labels: Partial<Record<L, string>>, value: number, trace_id?: string | null): void;
}

const VALID_TRACE_ID = /^(?!0+$)[0-9a-f]{32}$/;

/** Does an HTTP Accept header ask for OpenMetrics (what Prometheus sends; the only format that carries exemplars)? */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return (accept ?? '').toLowerCase().includes('application/openmetrics-text');
}

export function createMetrics(service: string) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
  // Renders one at a time: an OpenMetrics render switches the registry's content type for its duration.
  let rendering: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = rendering.then(fn, fn);
    rendering = next.catch(() => undefined);
    return next;
  };
  async function openMetrics(): Promise<string> {
    // prom-client renames counters (drops `_total`) when rendering OpenMetrics and does not undo it:
    // remember the names so the Prometheus text format renders them unchanged afterwards.
    const metrics = registry.getMetricsAsArray() as unknown as Array<{ name: string }>;
    const names = metrics.map((m) => m.name);
    registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE as typeof client.Registry.PROMETHEUS_CONTENT_TYPE);
    try {
      return await registry.metrics();
    } finally {
      registry.setContentType(client.Registry.PROMETHEUS_CONTENT_TYPE);
      metrics.forEach((m, i) => (m.name = names[i]!));
    }
  }
  return {
    registry,
    counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
      return new client.Counter({ name, help, labelNames, registers: [registry] });
    },
    gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
      return new client.Gauge({ name, help, labelNames, registers: [registry] });
    },
    histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]) {
      return new client.Histogram({
        name,
        help,
        labelNames,
        registers: [registry],
        buckets: buckets ?? [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      });
    },
    /** A histogram with exemplars (`trace_id`), shown to OpenMetrics scrapers; Prometheus keeps them with --enable-feature=exemplar-storage. */
    exemplarHistogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): ExemplarHistogram<L> {
      // prom-client refuses exemplars on a registry created for the text format; ours switches per
      // request (see render), so register the histogram after construction.
      const h = new client.Histogram({ name, help, labelNames, registers: [], buckets, enableExemplars: true });
      registry.registerMetric(h);
      return {
        observe(labels, value, trace_id) {
          // prom-client types exemplar labels like metric labels; at run time any label set works.
          const exemplarLabels = (trace_id && VALID_TRACE_ID.test(trace_id) ? { trace_id } : {}) as client.LabelValues<L>;
          h.observe({ labels: labels as client.LabelValues<L>, value, exemplarLabels });
        },
      };
    },
    /** Prometheus text (the default) or OpenMetrics with exemplars when `accept` asks for it. */
    async render(accept?: string): Promise<{ content_type: string; body: string }> {
      if (wantsOpenMetrics(accept)) return { content_type: client.Registry.OPENMETRICS_CONTENT_TYPE, body: await exclusive(openMetrics) };
      return { content_type: client.Registry.PROMETHEUS_CONTENT_TYPE, body: await exclusive(() => registry.metrics()) };
    },
    async text(): Promise<string> {
      return exclusive(() => registry.metrics());
    },
    contentType: registry.contentType,
  };
}
