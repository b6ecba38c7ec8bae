/** Prometheus metrics: one registry per process, default process metrics included. */
import client from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(service: string) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
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
        name, help, labelNames, registers: [registry],
        buckets: buckets ?? [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      });
    },
    async text(): Promise<string> {
      return registry.metrics();
    },
    contentType: registry.contentType,
  };
}
