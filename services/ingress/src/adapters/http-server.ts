/**
 * The HTTP adapter (node:http, raw body): the server, its limits, a small router and the
 * graceful drain. POST /webhooks/{provider} (DESIGN 3.1) goes to the webhook handler
 * (webhook-handler.ts) first, with no framework in between; /healthz, /readyz and /metrics
 * are the shared ops handler (@tidemark/common/ops), /openapi.yaml is served from memory.
 * Rejections are audited by rejection-audit.ts.
 */
import { createOpsHandler, type AuditRecord, type CanonicalEvent, type Logger, type Metrics } from '@tidemark/common';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { newRequestId } from './request-id.js';
import type { Provider } from '../core/profiles.js';
import type { BatchWriter } from './batch-writer.js';
import { discardBody, sendJson } from './http-io.js';
import type { IngressMetrics } from './metrics.js';
import { createRejectionAudit, type AuditRejection } from './rejection-audit.js';
import { createWebhookHandler, type WebhookHandler } from './webhook-handler.js';

export interface IngressLimits {
  /** Concurrent webhook requests; beyond it 429 + Retry-After. */
  concurrent_requests_max: number;
  /** Time to receive all request headers (slow-loris). */
  headers_timeout_ms: number;
  /** Time to receive the whole request, body included. */
  request_timeout_ms: number;
  keep_alive_timeout_ms: number;
  header_bytes_max: number;
  json_depth_max: number;
  /** Bytes of an unwanted body (rejected request) read and discarded before the socket is destroyed. */
  discard_bytes_max: number;
  retry_after_unavailable_s: number;
  retry_after_overloaded_s: number;
}

export const LIMITS_DEFAULT: IngressLimits = {
  concurrent_requests_max: 4096,
  headers_timeout_ms: 10_000,
  request_timeout_ms: 15_000,
  keep_alive_timeout_ms: 5_000,
  header_bytes_max: 16 * 1024,
  json_depth_max: 32,
  discard_bytes_max: 4 * 1024 * 1024,
  retry_after_unavailable_s: 5,
  retry_after_overloaded_s: 1,
};

/** Avro encoding of the two records ingress writes (registry-backed in production). */
export interface RecordEncoder {
  events_topic: string;
  audit_topic: string;
  encodeEvent(event: CanonicalEvent): Promise<Buffer>;
  encodeAudit(record: AuditRecord): Promise<Buffer>;
}

export interface IngressServerDeps {
  providers: ReadonlyMap<string, Provider>;
  writer: BatchWriter;
  encoder: RecordEncoder;
  logger: Logger;
  metrics: Metrics;
  ingress_metrics: IngressMetrics;
  limits: IngressLimits;
  /** Named readiness checks (Kafka, registry). */
  readiness: Record<string, () => Promise<boolean>>;
  openapi_yaml: string;
  tls?: { cert: Buffer; key: Buffer };
  now_ms?: () => number;
}

export interface IngressServer {
  server: http.Server;
  /** Stops accepting, answers new requests on open connections 503, waits for in-flight ones (bounded). */
  drain(timeout_ms: number): Promise<void>;
  in_flight(): number;
}

const WEBHOOK_PATH = /^\/webhooks\/([^/?#]{1,128})\/?(?:\?.*)?$/;
const READINESS_TIMEOUT_MS = 2_000;
/** Header lines parsed per request; the rest are ignored (sizes are bounded by header_bytes_max). */
const HEADERS_COUNT_MAX = 128;

/** Mutable state of one server: requests in flight and the drain. */
interface Gate {
  in_flight: number;
  draining: boolean;
  drained: (() => void) | null;
}

function decodeProviderId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** POST /webhooks/{provider}: method, drain and concurrency gates, then the handler (counted in flight). */
function routeWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  raw_provider: string,
  expect_continue: boolean,
  ctx: { deps: IngressServerDeps; gate: Gate; handle: WebhookHandler; audit_rejection: AuditRejection },
): void {
  const { deps, gate, handle, audit_rejection } = ctx;
  const { limits, logger, ingress_metrics: im } = deps;
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method_not_allowed', message: 'use POST' }, { allow: 'POST' });
    return;
  }
  if (gate.draining) {
    const headers = { 'retry-after': String(limits.retry_after_unavailable_s), connection: 'close' };
    sendJson(res, 503, { error: 'shutting_down', message: 'ingress is restarting; retry later' }, headers);
    discardBody(req, limits.discard_bytes_max);
    return;
  }
  if (gate.in_flight >= limits.concurrent_requests_max) {
    sendJson(
      res,
      429,
      { error: 'overloaded', message: 'too many concurrent requests; retry later' },
      { 'retry-after': String(limits.retry_after_overloaded_s) },
    );
    discardBody(req, limits.discard_bytes_max);
    const provider = deps.providers.has(raw_provider) ? raw_provider : null;
    audit_rejection({
      provider,
      rejection: { status: 429, error: 'overloaded' },
      source_ip: req.socket.remoteAddress ?? '',
      request_id: newRequestId(),
      trace_id: null,
    });
    im.request(provider, 429, 'overloaded', 0);
    return;
  }
  gate.in_flight++;
  im.inFlight(1);
  handle(req, res, decodeProviderId(raw_provider), expect_continue)
    .catch((error: unknown) => {
      logger.error({ err: { message: (error as Error).message, stack: (error as Error).stack } }, 'webhook handler failed');
      sendJson(res, 500, { error: 'internal_error', message: 'unexpected error' });
    })
    .finally(() => {
      gate.in_flight--;
      im.inFlight(-1);
      if (gate.draining && gate.in_flight === 0) gate.drained?.();
    });
}

/**
 * Protocol-level rejections (oversized headers, slow-loris timeouts, malformed HTTP) are
 * answered with the same JSON error shape and audited like every other rejection.
 */
function onClientError(err: NodeJS.ErrnoException, socket: Socket, audit_rejection: AuditRejection, im: IngressMetrics): void {
  const code = err.code ?? '';
  const [status, error] =
    code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large']
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout']
        : code === 'ECONNRESET'
          ? [0, 'client_aborted']
          : [400, 'malformed_http'];
  if (status !== 0 && socket.writable) {
    const message =
      status === 431 ? 'request headers too large' : status === 408 ? 'request not received in time' : 'malformed HTTP request';
    const text = JSON.stringify({ error, message });
    const head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close`;
    socket.end(`${head}\r\n\r\n${text}`);
  } else {
    socket.destroy();
  }
  if (status !== 0) {
    audit_rejection({
      provider: null,
      rejection: { status, error },
      source_ip: socket.remoteAddress ?? '',
      request_id: newRequestId(),
      trace_id: null,
    });
    im.request(null, status, error, 0);
  }
}

export function createIngressServer(deps: IngressServerDeps): IngressServer {
  const { limits } = deps;
  const gate: Gate = { in_flight: 0, draining: false, drained: null };
  const audit_rejection = createRejectionAudit(deps);
  const handle = createWebhookHandler({ ...deps, audit_rejection, now_ms: deps.now_ms ?? Date.now });
  // A draining ingress is not ready: load balancers stop sending before the listener closes.
  const ops = createOpsHandler({
    service: 'ingress',
    metrics: deps.metrics,
    readiness: { ...deps.readiness, accepting: async () => !gate.draining },
    readiness_timeout_ms: READINESS_TIMEOUT_MS,
  });
  const route = { deps, gate, handle, audit_rejection };

  function onRequest(req: IncomingMessage, res: ServerResponse, expect_continue = false): void {
    const url = req.url ?? '/';
    const webhook = WEBHOOK_PATH.exec(url);
    if (webhook) return routeWebhook(req, res, webhook[1]!, expect_continue, route);
    if (expect_continue) res.writeContinue();
    if (ops(req, res)) return;
    if ((req.method === 'GET' || req.method === 'HEAD') && url.split('?', 1)[0] === '/openapi.yaml') {
      res.writeHead(200, { 'content-type': 'application/yaml' });
      res.end(deps.openapi_yaml);
      return;
    }
    discardBody(req, limits.discard_bytes_max);
    sendJson(res, 404, { error: 'not_found', message: 'no such route; webhooks are POST /webhooks/{provider}' });
  }

  const options: http.ServerOptions = {
    maxHeaderSize: limits.header_bytes_max,
    requestTimeout: limits.request_timeout_ms,
    headersTimeout: limits.headers_timeout_ms,
    keepAliveTimeout: limits.keep_alive_timeout_ms,
    connectionsCheckingInterval: 1_000,
  };
  const server = deps.tls
    ? https.createServer({ ...options, cert: deps.tls.cert, key: deps.tls.key }, (req, res) => onRequest(req, res))
    : http.createServer(options, (req, res) => onRequest(req, res));
  server.headersTimeout = limits.headers_timeout_ms;
  server.requestTimeout = limits.request_timeout_ms;
  server.keepAliveTimeout = limits.keep_alive_timeout_ms;
  server.maxHeadersCount = HEADERS_COUNT_MAX;
  server.on('checkContinue', (req, res) => onRequest(req, res, true));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    onClientError(err, socket, audit_rejection, deps.ingress_metrics),
  );

  return {
    server,
    in_flight: () => gate.in_flight,
    async drain(timeout_ms: number) {
      gate.draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (gate.in_flight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (gate.drained = resolve)),
          new Promise((r) => setTimeout(r, timeout_ms).unref()),
        ]);
      }
      server.closeAllConnections();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1_000).unref())]);
    },
  };
}
