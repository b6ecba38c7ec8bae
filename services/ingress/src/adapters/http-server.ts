/**
 * The HTTP adapter (node:http, raw body): POST /webhooks/{provider} per DESIGN 3.1, plus
 * /healthz, /readyz, /metrics and /openapi.yaml. All decisions come from the pure core;
 * this layer reads bytes under limits, writes to Kafka through the BatchWriter, answers,
 * audits, measures and traces.
 */
import { buildAudit, auditKey, injectTraceHeaders, tracer, trace, context, SpanKind, SpanStatusCode, extractTraceContext, currentTraceId, type Logger, type Metrics, type CanonicalEvent, type AuditRecord } from '@tidemark/common';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import { bodyTooLarge, checkSource, sha256Hex, unknownProvider, verifyAndNormalize, type Rejection } from '../core/intake.js';
import type { Provider } from '../core/profiles.js';
import { WriteRejected, WriteTimeout, type BatchWriter } from './batch-writer.js';
import type { IngressMetrics } from './metrics.js';

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

const STAGE = 'ingress';
const WEBHOOK_PATH = /^\/webhooks\/([^/?#]{1,128})\/?(?:\?.*)?$/;
const READINESS_TIMEOUT_MS = 2_000;
/** Header lines parsed per request; the rest are ignored (sizes are bounded by header_bytes_max). */
const HEADERS_COUNT_MAX = 128;

/** A rejection as audited: the core's codes plus the adapter's own (overloaded, kafka_unavailable, ...). */
interface AuditedRejection {
  status: number;
  error: string;
  event_id?: string;
  event_type?: string;
}

interface ErrorBody {
  error: string;
  message: string;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

type BodyRead = { kind: 'ok'; body: Buffer } | { kind: 'too_large' } | { kind: 'aborted' };

/** Reads the body counting bytes as they stream; stops at `limit_bytes` + 1 (413 even without Content-Length). */
function readBody(req: IncomingMessage, limit_bytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyRead) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('close', onClose);
      req.off('error', onAborted);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit_bytes) {
        req.pause();
        finish({ kind: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ kind: 'ok', body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    const onAborted = () => finish({ kind: 'aborted' });
    const onClose = () => {
      if (!req.complete) finish({ kind: 'aborted' });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('close', onClose);
    req.on('error', onAborted);
  });
}

/**
 * Reads and drops the rest of a rejected request's body so the client can finish sending and
 * read the answer; a body beyond `discard_bytes_max` gets its connection destroyed instead.
 */
function discardBody(req: IncomingMessage, discard_bytes_max: number): void {
  if (req.complete) return;
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > discard_bytes_max) req.socket.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

export function createIngressServer(deps: IngressServerDeps): IngressServer {
  const { providers, writer, encoder, logger, limits, ingress_metrics: im } = deps;
  const now_ms = deps.now_ms ?? Date.now;
  let in_flight = 0;
  let draining = false;
  let drained: (() => void) | null = null;

  function auditRejection(input: {
    provider: string | null;
    rejection: AuditedRejection;
    source_ip: string;
    request_id: string;
    body_sha256?: string;
    body_bytes?: number;
    trace_id: string | null;
  }): void {
    const details: Record<string, string> = { status: String(input.rejection.status), source_ip: input.source_ip, request_id: input.request_id };
    if (input.body_sha256 !== undefined) details.body_sha256 = input.body_sha256;
    if (input.body_bytes !== undefined) details.body_bytes = String(input.body_bytes);
    const record = buildAudit({
      stage: STAGE,
      action: 'rejected',
      audit_id: `${STAGE}:rejected:${input.request_id}`,
      provider: input.provider,
      event_id: input.rejection.event_id ?? null,
      event_type: input.rejection.event_type ?? null,
      reason: input.rejection.error,
      details,
      trace_id: input.trace_id,
    });
    encoder.encodeAudit(record).then(
      (value) => writer.writeDetached({ topic: encoder.audit_topic, message: { key: auditKey(record), value } }),
      (error: unknown) => {
        im.auditDropped(1);
        logger.error({ err: { message: (error as Error).message }, request_id: input.request_id }, 'could not encode the audit record of a rejected request');
      },
    );
  }

  async function handleWebhook(req: IncomingMessage, res: ServerResponse, provider_id: string, expect_continue: boolean): Promise<void> {
    const started = performance.now();
    const request_id = uuidv7();
    const peer = req.socket.remoteAddress ?? '';
    const provider = providers.get(provider_id) ?? null;
    const parent = trace.getSpan(context.active()) ? context.active() : extractTraceContext(req.headers as Record<string, string | undefined>);
    const span = tracer('tidemark.ingress').startSpan('POST /webhooks/{provider}', {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': 'POST', 'http.route': '/webhooks/{provider}', 'tidemark.provider': provider?.id ?? 'unknown', 'tidemark.ingress_id': request_id },
    }, parent);
    const span_ctx = trace.setSpan(parent, span);
    const trace_id = currentTraceId(span_ctx);
    let source_ip = peer;

    const finish = (status: number, outcome: string) => {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      span.end();
      im.request(provider?.id ?? null, status, outcome, (performance.now() - started) / 1000);
    };

    const reject = (rejection: Rejection & { status: number }, extra: { body?: Buffer; headers?: Record<string, string>; body_read: boolean }) => {
      const body_sha256 = extra.body ? sha256Hex(extra.body) : undefined;
      const payload: ErrorBody = { error: rejection.error, message: rejection.message };
      sendJson(res, rejection.status, payload, extra.headers);
      if (!extra.body_read) discardBody(req, limits.discard_bytes_max);
      auditRejection({ provider: provider?.id ?? null, rejection, source_ip, request_id, body_sha256, body_bytes: extra.body?.length, trace_id });
      logger.info({ request_id, provider: provider?.id ?? null, status: rejection.status, reason: rejection.error, source_ip, event_id: rejection.event_id ?? null }, 'webhook rejected');
      finish(rejection.status, rejection.error);
    };

    if (!provider) return reject(unknownProvider(provider_id), { body_read: false });
    const source = checkSource(provider, peer, firstHeader(req, 'x-forwarded-for'));
    source_ip = source.source_ip;
    if (!source.ok) return reject(source.rejection, { body_read: false });

    const declared = firstHeader(req, 'content-length');
    if (declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) > provider.body_limit_bytes) {
      return reject(bodyTooLarge(provider.body_limit_bytes), { body_read: false });
    }
    if (expect_continue) res.writeContinue();
    const read = await readBody(req, provider.body_limit_bytes);
    if (read.kind === 'too_large') return reject(bodyTooLarge(provider.body_limit_bytes), { body_read: false });
    if (read.kind === 'aborted') {
      auditRejection({ provider: provider.id, rejection: { status: 499, error: 'client_aborted' }, source_ip, request_id, trace_id });
      finish(499, 'client_aborted');
      return;
    }
    const body = read.body;
    const received_at_ms = now_ms();
    const body_sha256 = sha256Hex(body);
    const decision = verifyAndNormalize(provider, {
      headers: (name) => firstHeader(req, name),
      content_type: firstHeader(req, 'content-type'),
      body,
      body_sha256,
      now_ms: received_at_ms,
      ingress_id: request_id,
      json_depth_max: limits.json_depth_max,
    });
    if (!decision.ok) return reject(decision.rejection, { body, body_read: true });

    const event = decision.event;
    span.setAttributes({ 'tidemark.event_id': event.event_id, 'tidemark.event_type': event.event_type, 'tidemark.wallet_id': event.wallet_id ?? '' });
    const accepted = buildAudit({
      stage: STAGE,
      action: 'accepted',
      audit_id: `${STAGE}:accepted:${request_id}`,
      provider: provider.id,
      event_id: event.event_id,
      event_type: event.event_type,
      key: event.partition_key,
      details: {
        status: '202',
        source_ip,
        body_sha256,
        ingress_id: request_id,
        ...(decision.known_type ? {} : { unknown_event_type: 'true' }),
      },
      trace_id,
    });
    const headers = injectTraceHeaders({}, span_ctx);
    const write_started = performance.now();
    try {
      const [event_value, audit_value] = await Promise.all([encoder.encodeEvent(event), encoder.encodeAudit(accepted)]);
      await writer.write([
        { topic: encoder.events_topic, message: { key: event.partition_key, value: event_value, headers } },
        { topic: encoder.audit_topic, message: { key: auditKey(accepted), value: audit_value, headers } },
      ]);
    } catch (error) {
      const cause = error instanceof WriteTimeout ? 'ack_timeout' : error instanceof WriteRejected ? 'write_failed' : 'encode_failed';
      logger.warn({ request_id, provider: provider.id, event_id: event.event_id, cause, err: { message: (error as Error).message } }, 'webhook not acknowledged by Kafka; answering 503');
      sendJson(res, 503, { error: 'kafka_unavailable', message: 'the event could not be durably stored; retry later' } satisfies ErrorBody, { 'retry-after': String(limits.retry_after_unavailable_s) });
      auditRejection({ provider: provider.id, rejection: { status: 503, error: 'kafka_unavailable', event_id: event.event_id, event_type: event.event_type }, source_ip, request_id, body_sha256, body_bytes: body.length, trace_id });
      finish(503, 'kafka_unavailable');
      return;
    }
    im.ack(provider.id, (performance.now() - write_started) / 1000);
    im.lag(provider.id, event.event_type, (event.received_at_ms - event.occurred_at_ms) / 1000);
    sendJson(res, 202, { id: request_id, event_id: event.event_id });
    if (logger.isLevelEnabled('debug')) logger.debug({ request_id, provider: provider.id, event_id: event.event_id, event_type: event.event_type }, 'webhook accepted');
    finish(202, decision.known_type ? 'accepted' : 'accepted_unknown_type');
  }

  async function handleReadiness(res: ServerResponse): Promise<void> {
    const entries = await Promise.all(
      Object.entries(deps.readiness).map(async ([name, check]) => {
        const ok = await Promise.race([check().catch(() => false), new Promise<boolean>((r) => setTimeout(() => r(false), READINESS_TIMEOUT_MS).unref())]);
        return [name, ok] as const;
      }),
    );
    const checks: Record<string, boolean> = Object.fromEntries(entries);
    if (draining) checks.accepting = false;
    const ready = Object.values(checks).every(Boolean);
    sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', service: STAGE, checks });
  }

  function onRequest(req: IncomingMessage, res: ServerResponse, expect_continue = false): void {
    const url = req.url ?? '/';
    const webhook = WEBHOOK_PATH.exec(url);
    if (webhook) {
      if (req.method !== 'POST') {
        sendJson(res, 405, { error: 'method_not_allowed', message: 'use POST' }, { allow: 'POST' });
        return;
      }
      if (draining) {
        sendJson(res, 503, { error: 'shutting_down', message: 'ingress is restarting; retry later' }, { 'retry-after': String(limits.retry_after_unavailable_s), connection: 'close' });
        discardBody(req, limits.discard_bytes_max);
        return;
      }
      if (in_flight >= limits.concurrent_requests_max) {
        sendJson(res, 429, { error: 'overloaded', message: 'too many concurrent requests; retry later' }, { 'retry-after': String(limits.retry_after_overloaded_s) });
        discardBody(req, limits.discard_bytes_max);
        const request_id = uuidv7();
        auditRejection({ provider: providers.has(webhook[1]!) ? webhook[1]! : null, rejection: { status: 429, error: 'overloaded' }, source_ip: req.socket.remoteAddress ?? '', request_id, trace_id: null });
        im.request(providers.has(webhook[1]!) ? webhook[1]! : null, 429, 'overloaded', 0);
        return;
      }
      in_flight++;
      im.inFlight(1);
      let provider_id: string;
      try {
        provider_id = decodeURIComponent(webhook[1]!);
      } catch {
        provider_id = webhook[1]!;
      }
      handleWebhook(req, res, provider_id, expect_continue)
        .catch((error: unknown) => {
          logger.error({ err: { message: (error as Error).message, stack: (error as Error).stack } }, 'webhook handler failed');
          sendJson(res, 500, { error: 'internal_error', message: 'unexpected error' });
        })
        .finally(() => {
          in_flight--;
          im.inFlight(-1);
          if (draining && in_flight === 0) drained?.();
        });
      return;
    }
    if (expect_continue) res.writeContinue();
    const path = url.split('?', 1)[0];
    if (req.method === 'GET' || req.method === 'HEAD') {
      switch (path) {
        case '/healthz':
          return sendJson(res, 200, { status: 'ok', service: STAGE });
        case '/readyz':
          void handleReadiness(res);
          return;
        case '/metrics':
          void deps.metrics.text().then((text) => {
            res.writeHead(200, { 'content-type': deps.metrics.contentType });
            res.end(text);
          });
          return;
        case '/openapi.yaml':
          res.writeHead(200, { 'content-type': 'application/yaml' });
          res.end(deps.openapi_yaml);
          return;
      }
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

  // Protocol-level rejections (oversized headers, slow-loris timeouts, malformed HTTP) are
  // answered here with the same JSON error shape and audited like every other rejection.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? '';
    const [status, error] =
      code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large'] :
      code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout'] :
      code === 'ECONNRESET' ? [0, 'client_aborted'] :
      [400, 'malformed_http'];
    if (status !== 0 && socket.writable) {
      const text = JSON.stringify({ error, message: status === 431 ? 'request headers too large' : status === 408 ? 'request not received in time' : 'malformed HTTP request' });
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    } else {
      socket.destroy();
    }
    if (status !== 0) {
      auditRejection({ provider: null, rejection: { status, error: error }, source_ip: socket.remoteAddress ?? '', request_id: uuidv7(), trace_id: null });
      im.request(null, status, error, 0);
    }
  });

  return {
    server,
    in_flight: () => in_flight,
    async drain(timeout_ms: number) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (in_flight > 0) {
        await Promise.race([new Promise<void>((resolve) => (drained = resolve)), new Promise((r) => setTimeout(r, timeout_ms).unref())]);
      }
      server.closeAllConnections();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1_000).unref())]);
    },
  };
}
