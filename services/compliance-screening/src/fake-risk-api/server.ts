/**
 * A fake external risk-scoring API, modeled on blockchain-analytics address screening
 * APIs, for tests and the demo. A separate process (see main.ts), never linked into
 * the service.
 *
 *   POST /v1/screen {address, network?, asset?, amount?}
 *     200 {address, network, asset, risk_score: "0.00".."100.00", risk_level, category,
 *          exposures: [{category, share}], screened_at, request_id}
 *     422 {error: "invalid_address"} for an address it cannot score
 *     401 {error: "unauthorized"} when an API key is configured and not presented
 *   GET  /healthz
 *   GET  /admin/state           → mode, latency, counters
 *   POST /admin/state {mode: "ok"|"fail"|"hang", latency_ms?, fail_status?}
 *   PUT  /admin/overrides/{address} {risk_score, category}   DELETE /admin/overrides
 *
 * Failure knobs (so tests can take it down without killing it): mode "fail" answers
 * fail_status (default 503) to every screen call; "hang" holds the request for
 * hang_ms (bounded) before answering 503; latency_ms delays every answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { normalizeAddress } from '../core/addresses.js';
import { fakeScore } from './scoring.js';

export type FakeMode = 'ok' | 'fail' | 'hang';

export interface FakeRiskApiOptions {
  host: string;
  port: number;
  api_key?: string | undefined;
  mode?: FakeMode;
  latency_ms?: number;
  fail_status?: number;
  hang_ms?: number;
}

export const BODY_BYTES_MAX = 16 * 1024;
export const LATENCY_MS_MAX = 60_000;
export const OVERRIDES_MAX = 10_000;

interface State {
  mode: FakeMode;
  latency_ms: number;
  fail_status: number;
  hang_ms: number;
  requests_total: number;
  screened_total: number;
  failed_total: number;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_BYTES_MAX) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw Object.assign(new Error('body is not JSON'), { status: 400 });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const clampMs = (v: unknown, fallback: number) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? Math.min(v, LATENCY_MS_MAX) : fallback;

export interface FakeRiskApi {
  url: string;
  server: Server;
  state: Readonly<State>;
  setMode(update: Partial<Pick<State, 'mode' | 'latency_ms' | 'fail_status' | 'hang_ms'>>): void;
  close(): Promise<void>;
}

/** /admin/state (GET, POST mode/latency/failure) and /admin/overrides (PUT one address's score, DELETE all). */
async function admin(
  state: State,
  overrides: Map<string, { risk_score: string; category: string }>,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<void> {
  if (pathname === '/admin/state' && req.method === 'GET') return send(res, 200, state);
  if (pathname === '/admin/state' && req.method === 'POST') {
    const body = (await readBody(req)) as Record<string, unknown>;
    if (body.mode !== undefined && body.mode !== 'ok' && body.mode !== 'fail' && body.mode !== 'hang')
      return send(res, 400, { error: 'bad_mode', message: 'mode is ok, fail or hang' });
    if (body.mode !== undefined) state.mode = body.mode as FakeMode;
    state.latency_ms = clampMs(body.latency_ms, state.latency_ms);
    state.hang_ms = clampMs(body.hang_ms, state.hang_ms);
    if (typeof body.fail_status === 'number' && body.fail_status >= 400 && body.fail_status <= 599) state.fail_status = body.fail_status;
    return send(res, 200, state);
  }
  const match = /^\/admin\/overrides\/(.+)$/.exec(pathname);
  if (match && req.method === 'PUT') {
    const body = (await readBody(req)) as { risk_score?: unknown; category?: unknown };
    if (typeof body.risk_score !== 'string' || !/^(100(\.0+)?|[0-9]{1,2}(\.[0-9]{1,2})?)$/.test(body.risk_score)) {
      return send(res, 400, { error: 'bad_score', message: 'risk_score is a decimal string 0..100' });
    }
    if (overrides.size >= OVERRIDES_MAX) return send(res, 409, { error: 'too_many_overrides', message: `at most ${OVERRIDES_MAX}` });
    overrides.set(normalizeAddress(decodeURIComponent(match[1] as string)).normalized, {
      risk_score: body.risk_score,
      category: typeof body.category === 'string' ? body.category.slice(0, 100) : 'override',
    });
    return send(res, 200, { overrides: overrides.size });
  }
  if (pathname === '/admin/overrides' && req.method === 'DELETE') {
    overrides.clear();
    return send(res, 200, { overrides: 0 });
  }
  send(res, 404, { error: 'not_found', message: `${req.method} ${pathname}` });
}

export async function startFakeRiskApi(opts: FakeRiskApiOptions): Promise<FakeRiskApi> {
  const state: State = {
    mode: opts.mode ?? 'ok',
    latency_ms: clampMs(opts.latency_ms, 0),
    fail_status: opts.fail_status ?? 503,
    hang_ms: clampMs(opts.hang_ms, 30_000),
    requests_total: 0,
    screened_total: 0,
    failed_total: 0,
  };
  const overrides = new Map<string, { risk_score: string; category: string }>();
  const expectedAuth = opts.api_key ? Buffer.from(`Bearer ${opts.api_key}`) : null;

  function authorized(req: IncomingMessage): boolean {
    if (!expectedAuth) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expectedAuth.length && timingSafeEqual(given, expectedAuth);
  }

  async function screen(req: IncomingMessage, res: ServerResponse): Promise<void> {
    state.requests_total++;
    if (!authorized(req)) return send(res, 401, { error: 'unauthorized', message: 'missing or wrong API key' });
    const body = (await readBody(req)) as { address?: unknown; network?: unknown; asset?: unknown };
    if (state.latency_ms > 0) await sleep(state.latency_ms);
    if (state.mode === 'hang') {
      await sleep(state.hang_ms);
      state.failed_total++;
      return send(res, 503, { error: 'unavailable', message: 'fake risk API is hanging (mode=hang)' });
    }
    if (state.mode === 'fail') {
      state.failed_total++;
      return send(res, state.fail_status, { error: 'unavailable', message: 'fake risk API is failing (mode=fail)' });
    }
    const address = body.address;
    if (typeof address !== 'string' || address.trim() === '' || address.length > 128 || /\s/.test(address)) {
      return send(res, 422, { error: 'invalid_address', message: 'address must be a non-empty string of at most 128 characters' });
    }
    const override = overrides.get(normalizeAddress(address).normalized);
    const scored = override
      ? { ...override, risk_level: Number(override.risk_score) >= 70 ? 'high' : Number(override.risk_score) >= 30 ? 'medium' : 'low' }
      : fakeScore(address);
    state.screened_total++;
    send(res, 200, {
      address,
      network: typeof body.network === 'string' ? body.network : null,
      asset: typeof body.asset === 'string' ? body.asset : null,
      risk_score: scored.risk_score,
      risk_level: scored.risk_level,
      category: scored.category,
      exposures: [{ category: scored.category, share: '1' }],
      screened_at: new Date().toISOString(),
      request_id: randomUUID(),
    });
  }

  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://fake').pathname;
    const route = async () => {
      if (pathname === '/healthz' && req.method === 'GET')
        return send(res, 200, { status: 'ok', service: 'fake-risk-api', mode: state.mode });
      if (pathname === '/v1/screen' && req.method === 'POST') return screen(req, res);
      if (pathname.startsWith('/admin/')) return admin(state, overrides, req, res, pathname);
      send(res, 404, { error: 'not_found', message: `${req.method} ${pathname}` });
    };
    route().catch((err: Error & { status?: number }) => {
      if (!res.headersSent)
        send(res, err.status ?? 500, {
          error: err.status === 413 ? 'body_too_large' : err.status === 400 ? 'bad_request' : 'internal',
          message: err.message,
        });
    });
  });
  server.requestTimeout = LATENCY_MS_MAX + 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}`,
    server,
    state,
    setMode(update) {
      Object.assign(state, update);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
