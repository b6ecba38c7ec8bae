/**
 * /healthz (process up), /readyz (dependencies reachable) and /metrics (Prometheus
 * text) — mounted on a service's own express app or served on their own port.
 */
import express, { type Express } from 'express';
import type { Server } from 'node:http';
import type { Metrics } from './metrics.js';

export type ReadinessCheck = () => Promise<boolean>;

export interface OpsOptions {
  service: string;
  metrics: Metrics;
  /** Named checks; /readyz is 200 only when all pass. */
  readiness: Record<string, ReadinessCheck>;
  readiness_timeout_ms?: number;
}

/** Gauges of the readiness checks, refreshed on every /readyz and every /metrics scrape (so alerts see readiness). */
const readinessGauges = new WeakMap<Metrics, { ready: ReturnType<Metrics['gauge']>; check: ReturnType<Metrics['gauge']> }>();

function readinessGaugesOf(metrics: Metrics) {
  let g = readinessGauges.get(metrics);
  if (!g) {
    g = {
      ready: metrics.gauge('tidemark_ready', '1 when every readiness check passes (what GET /readyz answers), else 0'),
      check: metrics.gauge('tidemark_ready_check', '1 when the named readiness check passes, else 0', ['check']),
    };
    readinessGauges.set(metrics, g);
  }
  return g;
}

export function mountOpsRoutes(app: Express, opts: OpsOptions): void {
  const timeout_ms = opts.readiness_timeout_ms ?? 2_000;
  const gauges = readinessGaugesOf(opts.metrics);
  const evaluate = async () => {
    const entries = await Promise.all(
      Object.entries(opts.readiness).map(async ([name, check]) => {
        const ok = await Promise.race([
          check().catch(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeout_ms)),
        ]);
        return [name, ok] as const;
      }),
    );
    const ready = entries.every(([, ok]) => ok);
    gauges.ready.set(ready ? 1 : 0);
    for (const [name, ok] of entries) gauges.check.set({ check: name }, ok ? 1 : 0);
    return { ready, checks: Object.fromEntries(entries) };
  };
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: opts.service });
  });
  app.get('/readyz', async (_req, res) => {
    const { ready, checks } = await evaluate();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', service: opts.service, checks });
  });
  app.get('/metrics', async (req, res) => {
    await evaluate();
    const out = await opts.metrics.render(req.headers.accept);
    res.setHeader('content-type', out.content_type);
    res.send(out.body);
  });
}

/** Starts a standalone ops server (for services without an API of their own). */
export async function startOpsServer(opts: OpsOptions & { host: string; port: number }): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  mountOpsRoutes(app, opts);
  return listen(app, opts.host, opts.port);
}

export function listen(app: Express, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.once('error', reject);
  });
}

export function closeServer(server: Server, timeout_ms = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections?.();
      resolve();
    }, timeout_ms);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections?.();
  });
}
