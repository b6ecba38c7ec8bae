import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';
import { closeServer, createOpsHandler, listen, mountOpsRoutes, type OpsOptions } from './ops.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => closeServer(s, 1_000)));
});

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

function options(ready: { db: boolean }): OpsOptions {
  return {
    service: 'ops-test',
    metrics: createMetrics('ops-test'),
    readiness: { db: async () => ready.db, slow: () => new Promise(() => undefined) },
    readiness_timeout_ms: 50,
  };
}

/** The same endpoints whether mounted on express or called from a plain node:http router. */
const mounts = {
  express: async (opts: OpsOptions) => {
    const app = express();
    mountOpsRoutes(app, opts);
    app.use((_req, res) => res.status(404).json({ error: 'not_found' }));
    return listen(app, '127.0.0.1', 0);
  },
  'node:http': async (opts: OpsOptions) => {
    const handle = createOpsHandler(opts);
    const server = http.createServer((req, res) => {
      if (!handle(req, res)) res.writeHead(404).end('{"error":"not_found"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  },
};

describe.each(Object.entries(mounts))('ops endpoints on %s', (_name, mount) => {
  it('answers /healthz, /readyz (bounded checks) and /metrics (with the readiness gauges), and nothing else', async () => {
    const server = await mount(options({ db: true }));
    servers.push(server);
    const url = urlOf(server);
    const health = await fetch(`${url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok', service: 'ops-test' }]);
    const ready = await fetch(`${url}/readyz?verbose=1`);
    expect([ready.status, await ready.json()]).toEqual([
      503,
      { status: 'not_ready', service: 'ops-test', checks: { db: true, slow: false } },
    ]);
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/^tidemark_ready(\{[^}]*\})? 0$/m);
    expect(text).toMatch(/^tidemark_ready_check\{[^}]*check="db"[^}]*\} 1$/m);
    expect((await fetch(`${url}/healthz`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${url}/elsewhere`)).status).toBe(404);
  });

  it('is ready when every check passes', async () => {
    const opts = options({ db: true });
    opts.readiness = { db: async () => true };
    const server = await mount(opts);
    servers.push(server);
    const ready = await fetch(`${urlOf(server)}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready', service: 'ops-test', checks: { db: true } }]);
  });
});
