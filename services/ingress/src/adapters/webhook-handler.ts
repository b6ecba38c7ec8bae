/**
 * POST /webhooks/{provider} per DESIGN 3.1: source check, size limits, body read, then the
 * pure core decides (verify + normalize); an accepted event and its audit record go to Kafka
 * through the BatchWriter and the answer (202) waits for their acks=all acknowledgement.
 * Every rejection is answered with the JSON error shape and audited.
 */
import {
  buildAudit,
  auditKey,
  injectTraceHeaders,
  tracer,
  trace,
  context,
  SpanKind,
  SpanStatusCode,
  extractTraceContext,
  currentTraceId,
  type Context,
  type Logger,
  type CanonicalEvent,
  type Span,
} from '@tidemark/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { newRequestId } from './request-id.js';
import { bodyTooLarge, checkSource, sha256Hex, unknownProvider, verifyAndNormalize, type Rejection } from '../core/intake.js';
import type { Provider } from '../core/profiles.js';
import { WriteRejected, WriteTimeout, type BatchWriter } from './batch-writer.js';
import { discardBody, discardBodyThenAnswer, firstHeader, headerLookup, readBody, sendJson, type ErrorBody } from './http-io.js';
import type { IngressLimits, RecordEncoder } from './http-server.js';
import type { IngressMetrics } from './metrics.js';
import type { AuditRejection } from './rejection-audit.js';

const STAGE = 'ingress';

export interface WebhookHandlerDeps {
  providers: ReadonlyMap<string, Provider>;
  writer: BatchWriter;
  encoder: RecordEncoder;
  logger: Logger;
  ingress_metrics: IngressMetrics;
  limits: IngressLimits;
  audit_rejection: AuditRejection;
  now_ms: () => number;
}

export type WebhookHandler = (req: IncomingMessage, res: ServerResponse, provider_id: string, expect_continue: boolean) => Promise<void>;

/** One request's context: who, where from, its span, and how it ends. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  request_id: string;
  provider: Provider | null;
  source_ip: string;
  span: Span;
  span_ctx: Context;
  trace_id: string | null;
  /**
   * Whether a rejection before the body is read waits for the (discarded) body before answering:
   * yes, unless the client waits for 100-continue (it sends no body) or declared more than the
   * discard bound (its connection is cut). See discardBodyThenAnswer.
   */
  drain_before_answer: boolean;
  /** Ends the span and counts the request. */
  finish(status: number, outcome: string): void;
}

function begin(
  deps: WebhookHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  provider_id: string,
  expect_continue: boolean,
): Exchange {
  const { providers, ingress_metrics: im } = deps;
  const started = performance.now();
  const request_id = newRequestId();
  const provider = providers.get(provider_id) ?? null;
  const parent = trace.getSpan(context.active())
    ? context.active()
    : extractTraceContext(req.headers as Record<string, string | undefined>);
  const span = tracer('tidemark.ingress').startSpan(
    'POST /webhooks/{provider}',
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/webhooks/{provider}',
        'tidemark.provider': provider?.id ?? 'unknown',
        'tidemark.ingress_id': request_id,
      },
    },
    parent,
  );
  const span_ctx = trace.setSpan(parent, span);
  return {
    req,
    res,
    request_id,
    provider,
    source_ip: req.socket.remoteAddress ?? '',
    span,
    span_ctx,
    trace_id: currentTraceId(span_ctx),
    drain_before_answer: !expect_continue && !declaredOver(req, deps.limits.discard_bytes_max),
    finish(status, outcome) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      span.end();
      im.request(provider?.id ?? null, status, outcome, (performance.now() - started) / 1000);
    },
  };
}

/** A numeric Content-Length above `bytes`. */
function declaredOver(req: IncomingMessage, bytes: number): boolean {
  const declared = firstHeader(req, 'content-length');
  return declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) > bytes;
}

function rejectRequest(
  deps: WebhookHandlerDeps,
  x: Exchange,
  rejection: Rejection & { status: number },
  extra: { body?: Buffer; headers?: Record<string, string>; body_read: boolean },
): void {
  const { limits, logger, audit_rejection } = deps;
  const body_sha256 = extra.body ? sha256Hex(extra.body) : undefined;
  const payload: ErrorBody = { error: rejection.error, message: rejection.message };
  const answer = () => sendJson(x.res, rejection.status, payload, extra.headers);
  if (extra.body_read) answer();
  else if (x.drain_before_answer) discardBodyThenAnswer(x.req, limits.discard_bytes_max, answer);
  else {
    answer();
    discardBody(x.req, limits.discard_bytes_max);
  }
  const provider = x.provider?.id ?? null;
  audit_rejection({
    provider,
    rejection,
    source_ip: x.source_ip,
    request_id: x.request_id,
    body_sha256,
    body_bytes: extra.body?.length,
    trace_id: x.trace_id,
  });
  logger.info(
    {
      request_id: x.request_id,
      provider,
      status: rejection.status,
      reason: rejection.error,
      source_ip: x.source_ip,
      event_id: rejection.event_id ?? null,
    },
    'webhook rejected',
  );
  x.finish(rejection.status, rejection.error);
}

/** Writes the event and its `accepted` audit record and answers 202 once Kafka acknowledged both (503 if not). */
async function accept(
  deps: WebhookHandlerDeps,
  x: Exchange,
  provider: Provider,
  event: CanonicalEvent,
  body: Buffer,
  body_sha256: string,
  known_type: boolean,
): Promise<void> {
  const { writer, encoder, logger, limits, ingress_metrics: im, audit_rejection } = deps;
  x.span.setAttributes({
    'tidemark.event_id': event.event_id,
    'tidemark.event_type': event.event_type,
    'tidemark.wallet_id': event.wallet_id ?? '',
  });
  const accepted = buildAudit({
    stage: STAGE,
    action: 'accepted',
    audit_id: `${STAGE}:accepted:${x.request_id}`,
    provider: provider.id,
    event_id: event.event_id,
    event_type: event.event_type,
    key: event.partition_key,
    details: {
      status: '202',
      source_ip: x.source_ip,
      body_sha256,
      ingress_id: x.request_id,
      ...(known_type ? {} : { unknown_event_type: 'true' }),
    },
    trace_id: x.trace_id,
  });
  const headers = injectTraceHeaders({}, x.span_ctx);
  const write_started = performance.now();
  try {
    const [event_value, audit_value] = await Promise.all([encoder.encodeEvent(event), encoder.encodeAudit(accepted)]);
    await writer.write([
      { topic: encoder.events_topic, message: { key: event.partition_key, value: event_value, headers } },
      { topic: encoder.audit_topic, message: { key: auditKey(accepted), value: audit_value, headers } },
    ]);
  } catch (error) {
    const cause = error instanceof WriteTimeout ? 'ack_timeout' : error instanceof WriteRejected ? 'write_failed' : 'encode_failed';
    const log = {
      request_id: x.request_id,
      provider: provider.id,
      event_id: event.event_id,
      cause,
      err: { message: (error as Error).message },
    };
    logger.warn(log, 'webhook not acknowledged by Kafka; answering 503');
    const unavailable: ErrorBody = { error: 'kafka_unavailable', message: 'the event could not be durably stored; retry later' };
    sendJson(x.res, 503, unavailable, { 'retry-after': String(limits.retry_after_unavailable_s) });
    const rejection = { status: 503, error: 'kafka_unavailable', event_id: event.event_id, event_type: event.event_type };
    audit_rejection({
      provider: provider.id,
      rejection,
      source_ip: x.source_ip,
      request_id: x.request_id,
      body_sha256,
      body_bytes: body.length,
      trace_id: x.trace_id,
    });
    x.finish(503, 'kafka_unavailable');
    return;
  }
  im.ack(provider.id, (performance.now() - write_started) / 1000);
  im.lag(provider.id, event.event_type, (event.received_at_ms - event.occurred_at_ms) / 1000);
  sendJson(x.res, 202, { id: x.request_id, event_id: event.event_id });
  if (logger.isLevelEnabled('debug')) {
    logger.debug(
      { request_id: x.request_id, provider: provider.id, event_id: event.event_id, event_type: event.event_type },
      'webhook accepted',
    );
  }
  x.finish(202, known_type ? 'accepted' : 'accepted_unknown_type');
}

export function createWebhookHandler(deps: WebhookHandlerDeps): WebhookHandler {
  const { limits, audit_rejection } = deps;
  const reject = (x: Exchange, rejection: Rejection & { status: number }, extra: { body?: Buffer; body_read: boolean }) =>
    rejectRequest(deps, x, rejection, extra);
  return async (req, res, provider_id, expect_continue) => {
    const x = begin(deps, req, res, provider_id, expect_continue);
    const provider = x.provider;
    if (!provider) return reject(x, unknownProvider(provider_id), { body_read: false });
    const source = checkSource(provider, x.source_ip, firstHeader(req, 'x-forwarded-for'));
    x.source_ip = source.source_ip;
    if (!source.ok) return reject(x, source.rejection, { body_read: false });

    if (declaredOver(req, provider.body_limit_bytes)) {
      return reject(x, bodyTooLarge(provider.body_limit_bytes), { body_read: false });
    }
    if (expect_continue) res.writeContinue();
    const read = await readBody(req, provider.body_limit_bytes);
    if (read.kind === 'too_large') return reject(x, bodyTooLarge(provider.body_limit_bytes), { body_read: false });
    if (read.kind === 'aborted') {
      audit_rejection({
        provider: provider.id,
        rejection: { status: 499, error: 'client_aborted' },
        source_ip: x.source_ip,
        request_id: x.request_id,
        trace_id: x.trace_id,
      });
      x.finish(499, 'client_aborted');
      return;
    }
    const body = read.body;
    const received_at_ms = deps.now_ms();
    const body_sha256 = sha256Hex(body);
    const decision = verifyAndNormalize(provider, {
      headers: headerLookup(req),
      content_type: firstHeader(req, 'content-type'),
      body,
      body_sha256,
      now_ms: received_at_ms,
      ingress_id: x.request_id,
      json_depth_max: limits.json_depth_max,
    });
    if (!decision.ok) return reject(x, decision.rejection, { body, body_read: true });
    await accept(deps, x, provider, decision.event, body, body_sha256, decision.known_type);
  };
}
