/**
 * Everything a chunk sends: handler outputs (Avro through the registry, trace context in
 * headers), audit records, ladder forwards and dead letters. Deterministic per source record,
 * so a chunk that is processed again after a crash sends identical records.
 */
import {
  auditKey,
  buildAudit,
  currentTraceId,
  injectTraceHeaders,
  topicName,
  context as otelContext,
  trace as otelTrace,
  type DeadLetter,
} from '@tidemark/common';
import { PermanentError, type HandlerResult, type OutputRecord } from '../handler.js';
import { dlqTopicBase, ladderHeaders, stripLadderHeaders, type ErrorClass } from '../core/ladder.js';
import { sourceId, type ChunkPlan, type Disposition } from '../core/plan.js';
import { classifyFailure, errorMessage, errorStack } from '../errors.js';
import type { OutgoingRecord } from '../kafka/transport.js';
import { eventFacts, sourceDetails, traceIdOf, validTraceId, type Entry } from './records.js';

export interface OutgoingEncoderOptions {
  service: string;
  prefix: string;
  rung_topics: string[];
  encodeAvro(base_topic: string, value: unknown): Promise<Buffer>;
}

/** An audit record as an outgoing Kafka record (shared by the runtime and the DLQ operations). */
export async function auditOutgoing(
  record: ReturnType<typeof buildAudit>,
  prefix: string,
  encode: (base_topic: string, value: unknown) => Promise<Buffer>,
  headers: Record<string, string> = {},
): Promise<OutgoingRecord> {
  return { topic: topicName('audit.v1', prefix), key: auditKey(record), value: await encode('audit.v1', record), headers };
}

export class OutgoingEncoder {
  private readonly service: string;
  private readonly prefix: string;
  private readonly rung_topics: string[];
  private readonly encodeAvro: (base_topic: string, value: unknown) => Promise<Buffer>;

  constructor(o: OutgoingEncoderOptions) {
    this.service = o.service;
    this.prefix = o.prefix;
    this.rung_topics = o.rung_topics;
    this.encodeAvro = o.encodeAvro;
  }

  /** Encodes a handler's outputs (+ audit); a value that does not fit its schema is a permanent failure. */
  async encodeResult(e: Entry, result: HandlerResult): Promise<OutgoingRecord[]> {
    const span = e.span;
    const trace_id = span ? validTraceId(span.spanContext().traceId) : currentTraceId();
    const ctx = span ? otelTrace.setSpan(otelContext.active(), span) : otelContext.active();
    const out: OutgoingRecord[] = [];
    for (const o of result.outputs) out.push(await this.encodeOutput(o, ctx));
    const notes = result.audit && result.audit.length > 0 ? result.audit : [{ action: 'processed' }];
    const facts = eventFacts(e.input?.value);
    for (const note of notes) {
      const provider = note.provider ?? facts.provider;
      const event_id = note.event_id ?? facts.event_id;
      out.push(
        await this.encodeAudit(
          {
            action: note.action,
            provider,
            event_id,
            event_type: note.event_type ?? facts.event_type,
            key: note.key ?? e.plan.key,
            reason: note.reason ?? null,
            details: { ...note.details, ...sourceDetails(e), ...(e.replay_of ? { replay_of: e.replay_of } : {}) },
            trace_id,
          },
          e,
        ),
      );
    }
    return out;
  }

  async encodeOutput(o: OutputRecord, ctx: ReturnType<typeof otelContext.active>): Promise<OutgoingRecord> {
    let value: Buffer;
    try {
      value = await this.encodeAvro(o.topic, o.value);
    } catch (err) {
      if (classifyFailure(err) === 'INFRASTRUCTURE') throw err;
      throw new PermanentError(`output for ${o.topic} does not match its schema: ${errorMessage(err)}`, { cause: err });
    }
    return { topic: topicName(o.topic, this.prefix), key: o.key, value, headers: injectTraceHeaders({ ...(o.headers ?? {}) }, ctx) };
  }

  async encodeAudit(
    a: {
      action: string;
      provider: string | null;
      event_id: string | null;
      event_type: string | null;
      key: string | null;
      reason: string | null;
      details: Record<string, string>;
      trace_id: string | null;
    },
    e: Entry,
  ): Promise<OutgoingRecord> {
    const idParts = [
      this.service,
      a.action,
      a.provider ?? '-',
      a.event_id ?? '-',
      e.plan.source.topic,
      e.plan.source.partition,
      e.plan.source.offset,
      e.plan.attempts_made,
    ];
    const record = buildAudit({ stage: this.service, audit_id: idParts.join(':'), ...a });
    return {
      topic: topicName('audit.v1', this.prefix),
      key: auditKey(record),
      value: await this.encodeAvro('audit.v1', record),
      headers: a.trace_id ? { 'tidemark-trace-id': a.trace_id } : {},
    };
  }

  async buildOutgoing(rung: number | null, entries: Entry[], plan: ChunkPlan): Promise<OutgoingRecord[]> {
    const out: OutgoingRecord[] = [];
    const now = Date.now();
    for (const e of entries) {
      const d = plan.dispositions.get(sourceId(e.plan.source));
      if (!d) throw new Error(`record ${e.fetched.topic}/${e.fetched.partition}/${e.fetched.offset} was not settled`);
      const facts = eventFacts(e.input?.value);
      const trace_id = validTraceId(e.span?.spanContext().traceId) ?? traceIdOf(e.fetched.headers);
      const auditBase = { provider: facts.provider, event_id: facts.event_id, event_type: facts.event_type, key: e.plan.key, trace_id };
      switch (d.kind) {
        case 'handled':
          out.push(...(e.encoded ?? []));
          break;
        case 'followed':
        case 'retry': {
          const last_error = d.kind === 'retry' ? d.error_message : (e.fetched.headers['tidemark-last-error'] ?? null);
          out.push({
            topic: this.rung_topics[d.rung - 1]!,
            key: e.fetched.key?.toString('utf8') ?? null,
            value: e.fetched.value ?? Buffer.alloc(0),
            headers: ladderHeaders(e.fetched.headers, {
              source_topic: e.plan.source.topic,
              source_partition: e.plan.source.partition,
              source_offset: e.plan.source.offset,
              attempts_made: d.attempts_made,
              due_at_ms: d.due_at_ms,
              first_failure_at_ms: d.kind === 'retry' ? d.first_failure_at_ms : e.plan.first_failure_at_ms,
              last_error,
              rung: d.rung,
            }),
          });
          // A record moving from rung to rung behind its head is not a new outcome; its first parking is.
          if (d.kind === 'retry' || rung === null) {
            out.push(
              await this.encodeAudit(
                {
                  ...auditBase,
                  action: d.kind === 'retry' ? 'retried' : 'parked',
                  reason: d.kind === 'retry' ? 'TRANSIENT' : 'KEY_PARKED',
                  details: {
                    ...sourceDetails(e),
                    rung: String(d.rung),
                    attempts: String(d.attempts_made),
                    due_at_ms: String(d.due_at_ms),
                    ...(d.kind === 'retry' ? { error: d.error_message } : { head_offset: d.head_offset.toString() }),
                  },
                },
                e,
              ),
            );
          }
          break;
        }
        case 'dead_lettered': {
          out.push(await this.deadLetter(e, d, now));
          out.push(
            await this.encodeAudit(
              {
                ...auditBase,
                action: 'dead_lettered',
                reason: d.error_class,
                details: { ...sourceDetails(e), attempts: String(d.attempts_made), error: d.error_message },
              },
              e,
            ),
          );
          break;
        }
      }
    }
    return out;
  }

  async deadLetter(e: Entry, d: Extract<Disposition, { kind: 'dead_lettered' }>, now_ms: number): Promise<OutgoingRecord> {
    const headers = stripLadderHeaders(e.fetched.headers);
    const record: DeadLetter = {
      service: this.service,
      original_topic: e.plan.source.topic,
      original_partition: e.plan.source.partition,
      original_offset: e.plan.source.offset.toString(),
      key: e.fetched.key?.toString('utf8') ?? null,
      payload: e.fetched.value ?? Buffer.alloc(0),
      headers,
      error_class: d.error_class as ErrorClass,
      error_message: d.error_message,
      error_stack: errorStack(e.error),
      attempts: d.attempts_made,
      first_failure_at_ms: d.first_failure_at_ms,
      last_failure_at_ms: now_ms,
      traceparent: e.fetched.headers.traceparent ?? null,
    };
    const base = dlqTopicBase(this.service);
    return {
      topic: topicName(base, this.prefix),
      key: record.key,
      value: await this.encodeAvro(base, record),
      headers: e.fetched.headers.traceparent ? { traceparent: e.fetched.headers.traceparent } : {},
    };
  }
}
