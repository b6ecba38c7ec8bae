/**
 * /healthz (process up), /readyz (dependencies reachable) and /metrics (Prometheus
 * text) — one implementation on node:http primitives, mounted on a service's own express
 * app, on ingress's node:http server, or served on their own port.
 */
import express, { type Express } from 'express';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
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

/** Evaluates every readiness check (each bounded by `readiness_timeout_ms`) and refreshes the readiness gauges. */
export function createReadiness(opts: OpsOptions): () => Promise<{ ready: boolean; checks: Record<string, boolean> }> {
  const timeout_ms = opts.readiness_timeout_ms ?? 2_000;
  const gauges = readinessGaugesOf(opts.metrics);
  return async () => {
    const entries = await Promise.all(
      Object.entries(opts.readiness).map(async ([name, check]) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const ok = await Promise.race([
          check().catch(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeout_ms))),
        ]);
        clearTimeout(timer);
        return [name, ok] as const;
      }),
    );
    const ready = entries.every(([, ok]) => ok);
    gauges.ready.set(ready ? 1 : 0);
    for (const [name, ok] of entries) gauges.check.set({ check: name }, ok ? 1 : 0);
    return { ready, checks: Object.fromEntries(entries) };
  };
}

/** A JSON answer on plain node:http (uncached; `headers` add to or replace the defaults); nothing once the answer started. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/**
 * The one implementation of GET|HEAD /healthz, /readyz and /metrics, on plain node:http
 * request/response objects (express's extend them): answers and returns true for those
 * paths, returns false for any other request and leaves it untouched. Services with an
 * express API mount it with `mountOpsRoutes`; ingress calls it from its own node:http
 * router after the webhook route (services/ingress/README.md explains why).
 */
export function createOpsHandler(opts: OpsOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const evaluate = createReadiness(opts);
  const fail = (res: ServerResponse) => (error: unknown) =>
    sendJson(res, 500, { error: 'internal_error', message: (error as Error).message });
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let path = (req.url ?? '/').split('?', 1)[0]!;
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    switch (path) {
      case '/healthz':
        sendJson(res, 200, { status: 'ok', service: opts.service });
        return true;
      case '/readyz':
        evaluate().then(
          ({ ready, checks }) => sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', service: opts.service, checks }),
          fail(res),
        );
        return true;
      case '/metrics':
        // OpenMetrics (with exemplars) when the scraper asks for it, the Prometheus text format otherwise.
        evaluate()
          .then(() => opts.metrics.render(req.headers.accept))
          .then((out) => {
            if (res.headersSent || res.destroyed) return;
            res.writeHead(200, { 'content-type': out.content_type, 'content-length': Buffer.byteLength(out.body) });
            res.end(out.body);
          }, fail(res));
        return true;
      default:
        return false;
    }
  };
}

/** Mounts the ops endpoints (createOpsHandler) on an express app. */
export function mountOpsRoutes(app: Express, opts: OpsOptions): void {
  const handle = createOpsHandler(opts);
  app.use((req, res, next) => {
    if (!handle(req, res)) next();
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

/** Polls `url` (e.g. a service's /readyz) until it answers 2xx or `timeout_ms` passes. */
export async function waitForHttp(url: string, timeout_ms = 60_000, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} not ready within ${timeout_ms} ms (last: ${last})`);
}
