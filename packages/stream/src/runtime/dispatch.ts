/**
 * Handing a chunk's records to the service's handler: decoding (a record that cannot be
 * decoded is POISON), one span per record continuing its trace, handleBatch for each key's
 * leading run of processable records, and record by record otherwise (keys concurrently,
 * each key in order) — every outcome recorded in the chunk's plan.
 */
import {
  extractTraceContext,
  SpanKind,
  context as otelContext,
  trace as otelTrace,
  tracer,
  type Logger,
  type Span,
} from '@tidemark/common';
import type { Handler, InputRecord } from '../handler.js';
import { H_REPLAY_OF, LadderHeaderError, parseLadderHeaders, stripLadderHeaders, type LadderPolicy } from '../core/ladder.js';
import { ChunkPlan, sourceId, type ParkedRow, type PlanRecord } from '../core/plan.js';
import { classifyFailure, errorMessage } from '../errors.js';
import type { FetchedRecord, TopicPartition } from '../kafka/transport.js';
import type { StreamMetrics } from './metrics.js';
import type { OutgoingEncoder } from './outgoing.js';
import { compareOffsets, eventFacts, forEachBounded, InfrastructureBlock, recordSpans, tpKey, type Entry } from './records.js';

export interface HandlerDispatchOptions<V> {
  handler: Handler<V>;
  service: string;
  policy: LadderPolicy;
  key_concurrency_max: number;
  log: Logger;
  m: StreamMetrics;
  outgoing: OutgoingEncoder;
  decode(value: Buffer): Promise<V>;
}

export class HandlerDispatch<V> {
  private readonly handler: Handler<V>;
  private readonly service: string;
  private readonly policy: LadderPolicy;
  private readonly key_concurrency_max: number;
  private readonly log: Logger;
  private readonly m: StreamMetrics;
  private readonly outgoing: OutgoingEncoder;
  private readonly decode: (value: Buffer) => Promise<V>;

  constructor(o: HandlerDispatchOptions<V>) {
    this.handler = o.handler;
    this.service = o.service;
    this.policy = o.policy;
    this.key_concurrency_max = o.key_concurrency_max;
    this.log = o.log;
    this.m = o.m;
    this.outgoing = o.outgoing;
    this.decode = o.decode;
  }

  async toEntry(rung: number | null, fetched: FetchedRecord): Promise<Entry> {
    const key = fetched.key?.toString('utf8') ?? '';
    let poison: Error | null = null;
    let plan: PlanRecord;
    if (rung === null) {
      plan = {
        key,
        source: { topic: fetched.topic, partition: fetched.partition, offset: BigInt(fetched.offset) },
        attempts_made: 0,
        first_failure_at_ms: null,
      };
    } else {
      try {
        const ladder = parseLadderHeaders(fetched.headers);
        plan = {
          key,
          source: { topic: ladder.source_topic, partition: ladder.source_partition, offset: ladder.source_offset },
          attempts_made: ladder.attempts_made,
          first_failure_at_ms: ladder.first_failure_at_ms,
        };
      } catch (err) {
        // A rung record without valid ladder headers cannot be placed in its key's order.
        poison = err instanceof LadderHeaderError ? err : new LadderHeaderError(errorMessage(err));
        plan = {
          key,
          source: { topic: fetched.topic, partition: fetched.partition, offset: BigInt(fetched.offset) },
          attempts_made: 0,
          first_failure_at_ms: null,
        };
      }
    }
    let input: InputRecord<unknown> | null = null;
    if (!poison) {
      try {
        if (!fetched.value) throw new Error('record has no value');
        const value = await this.decode(fetched.value);
        input = {
          key,
          value,
          headers: stripLadderHeaders(fetched.headers),
          source: { topic: plan.source.topic, partition: plan.source.partition, offset: plan.source.offset.toString() },
          attempt: plan.attempts_made + 1,
          timestamp_ms: fetched.timestamp_ms,
        };
      } catch (err) {
        if (classifyFailure(err) === 'INFRASTRUCTURE')
          throw new InfrastructureBlock(`decoding needs the registry: ${errorMessage(err)}`, { cause: err });
        poison = new Error(`undecodable record: ${errorMessage(err)}`, { cause: err });
      }
    }
    return {
      fetched,
      plan,
      input,
      poison,
      replay_of: fetched.headers[H_REPLAY_OF] ?? null,
      span: null,
      result: null,
      encoded: null,
      error: null,
    };
  }

  startSpan(entry: Entry, spans: Span[]): Span {
    const parent = extractTraceContext(entry.fetched.headers);
    const facts = eventFacts(entry.input?.value);
    const span = tracer('tidemark-stream').startSpan(
      `${this.service} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'tidemark.service': this.service,
          'tidemark.key': entry.plan.key,
          'tidemark.event_id': facts.event_id ?? '',
          'tidemark.provider': facts.provider ?? '',
          'tidemark.event_type': facts.event_type ?? '',
          'tidemark.wallet_id': facts.wallet_id ?? '',
          'tidemark.attempt': entry.plan.attempts_made + 1,
          'messaging.destination.name': entry.fetched.topic,
          'messaging.kafka.partition': entry.fetched.partition,
          'messaging.kafka.offset': entry.fetched.offset,
        },
      },
      parent,
    );
    entry.span = span;
    spans.push(span);
    if (entry.input) recordSpans.set(entry.input, span);
    return span;
  }

  async runHandlers(tp: TopicPartition, entries: Entry[], rows: ParkedRow[], plan: ChunkPlan, spans: Span[]): Promise<void> {
    const handler = this.handler;
    const lanes = new Map<string, Entry[]>();
    for (const e of entries) {
      let lane = lanes.get(e.plan.key);
      if (!lane) {
        lane = [];
        lanes.set(e.plan.key, lane);
      }
      lane.push(e);
    }

    // Fast path: per lane, the records that may be processed if all before them succeed
    // (simulated on a dry copy of the plan's rows), handed to handleBatch at once.
    if (handler.handleBatch) {
      const fast: Entry[] = [];
      for (const lane of lanes.values()) {
        const dry = new ChunkPlan(
          this.policy,
          rows.filter((r) => r.key === lane[0]!.plan.key),
        );
        for (const e of lane) {
          if (e.poison || dry.route(e.plan).kind !== 'process') break;
          dry.handled(e.plan);
          fast.push(e);
        }
      }
      if (fast.length > 0) {
        fast.sort((a, b) => compareOffsets(a.fetched.offset, b.fetched.offset));
        for (const e of fast) this.startSpan(e, spans);
        const t0 = process.hrtime.bigint();
        try {
          const results = await handler.handleBatch(fast.map((e) => e.input as InputRecord<V>));
          if (results.length !== fast.length) throw new Error(`handleBatch returned ${results.length} results for ${fast.length} records`);
          const encoded = await Promise.all(fast.map((e, i) => this.outgoing.encodeResult(e, results[i]!)));
          fast.forEach((e, i) => {
            e.result = results[i]!;
            e.encoded = encoded[i]!;
            plan.handled(e.plan);
          });
        } catch (err) {
          if (classifyFailure(err) === 'INFRASTRUCTURE') throw new InfrastructureBlock(`handleBatch: ${errorMessage(err)}`, { cause: err });
          this.log.warn(
            { tp: tpKey(tp), err: errorMessage(err), records: fast.length },
            'handleBatch failed; isolating the failure record by record',
          );
        } finally {
          this.m.handler_seconds.observe({ mode: 'batch' }, Number(process.hrtime.bigint() - t0) / 1e9);
        }
      }
    }

    // Slow path: record by record, lanes concurrently, each lane in order.
    const pending = [...lanes.values()].map((lane) => lane.filter((e) => !plan.dispositions.has(sourceId(e.plan.source))));
    await forEachBounded(
      pending.filter((l) => l.length > 0),
      this.key_concurrency_max,
      async (lane) => {
        for (const e of lane) await this.runOne(e, plan, spans);
      },
    );
  }

  private async runOne(e: Entry, plan: ChunkPlan, spans: Span[]): Promise<void> {
    const route = plan.route(e.plan);
    if (route.kind === 'follow') {
      plan.follow(e.plan, route);
      return;
    }
    if (e.poison) {
      e.error = e.poison;
      plan.failed(e.plan, 'POISON', errorMessage(e.poison));
      return;
    }
    const span = e.span ?? this.startSpan(e, spans);
    const t0 = process.hrtime.bigint();
    try {
      const result = await otelContext.with(otelTrace.setSpan(otelContext.active(), span), () =>
        this.handler.handle(e.input as InputRecord<V>),
      );
      e.encoded = await this.outgoing.encodeResult(e, result);
      e.result = result;
      plan.handled(e.plan);
    } catch (err) {
      const kind = classifyFailure(err);
      if (kind === 'INFRASTRUCTURE') throw new InfrastructureBlock(`handler: ${errorMessage(err)}`, { cause: err });
      e.error = err;
      span.recordException(err as Error);
      plan.failed(e.plan, kind, errorMessage(err));
    } finally {
      this.m.handler_seconds.observe({ mode: 'single' }, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }
}
