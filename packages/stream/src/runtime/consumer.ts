/**
 * The shared consumer runtime: runs a Handler with per-key order, the retry ladder,
 * parking, dead letters and exactly-once publication. See ../../README.md for the
 * reasoning; core/ladder.ts and core/plan.ts hold the decisions.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import {
  AvroCodec,
  auditKey,
  buildAudit,
  currentTraceId,
  extractTraceContext,
  injectTraceHeaders,
  loadCatalog,
  SpanKind,
  topicName,
  context as otelContext,
  trace as otelTrace,
  tracer,
  type BaseConfig,
  type DeadLetter,
  type Logger,
  type Metrics,
  type Span,
  createPool,
} from '@tidemark/common';
import { PermanentError, type Handler, type HandlerResult, type InputRecord, type OutputRecord } from '../handler.js';
import {
  blockBackoffMs,
  dlqTopicBase,
  H_REPLAY_OF,
  LadderHeaderError,
  ladderHeaders,
  parseLadderHeaders,
  pauseForMs,
  rungTopicBase,
  stripLadderHeaders,
  validatePolicy,
  type ErrorClass,
  type LadderPolicy,
} from '../core/ladder.js';
import { ChunkPlan, sourceId, type Disposition, type ParkedRow, type PlanRecord } from '../core/plan.js';
import { classifyFailure, errorMessage, errorStack, retryStartup } from '../errors.js';
import { createTransport } from '../kafka/select.js';
import type { BatchControl, FetchedBatch, FetchedRecord, KafkaTransport, OutgoingRecord, StreamConsumer, TopicPartition } from '../kafka/transport.js';
import { createCommitter, type Committer } from './committer.js';
import { FencedError, migrateStreamTables, ParkingStore, type CompletionMark } from '../parking/store.js';
import { streamMetrics, type StreamMetrics } from './metrics.js';

export interface RunConsumerOptions<V> {
  handler: Handler<V>;
  logger: Logger;
  metrics: Metrics;
  /** Base settings (brokers, registry, database, prefix); used for whatever is not passed below. */
  config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS' | 'TIDEMARK_REGISTRY_URL' | 'TIDEMARK_DATABASE_URL' | 'TIDEMARK_TOPIC_PREFIX'> &
    Partial<Pick<BaseConfig, 'TIDEMARK_KAFKA_CLIENT' | 'TIDEMARK_INSTANCE_ID'>>;
  transport?: KafkaTransport;
  pool?: pg.Pool;
  codec?: AvroCodec;
  /** Rung delays; default: the service's `retry_delays_ms` in schemas/topics.json. */
  retry_delays_ms?: number[];
  /** Records per Kafka transaction. */
  batch_size_max?: number;
  /** Keys of one chunk processed at the same time. */
  key_concurrency_max?: number;
  partitions_concurrency?: number;
  fetch_wait_ms_max?: number;
  session_timeout_ms?: number;
  block_backoff_ms_max?: number;
  /** Decodes an input value; default: Avro through the registry. Throwing marks the record POISON. */
  decode?: (value: Buffer) => Promise<V>;
  instance_id?: string;
}

export interface RunningConsumer {
  readonly group_id: string;
  /** True once the consumer joined its group and has not stopped. */
  isReady(): boolean;
  /** Graceful: finishes and commits in-flight chunks, leaves the group, disconnects. */
  stop(): Promise<void>;
}

export const BATCH_SIZE_MAX_DEFAULT = 500;
export const BATCH_SIZE_MAX_LIMIT = 10_000;
const PARKED_GAUGE_INTERVAL_MS = 5_000;
const HEARTBEAT_DURING_BLOCK_MS = 1_000;

interface PartitionState {
  tp: TopicPartition;
  rung: number | null;
  generation: number;
  epoch: bigint;
  committed_floor: bigint;
  resume_timer: NodeJS.Timeout | null;
  pending_deletes: CompletionMark[];
  /** In-progress ownership (assignment starts it eagerly; batches wait for it). */
  owning: Promise<void> | null;
}

interface Entry {
  fetched: FetchedRecord;
  plan: PlanRecord;
  input: InputRecord<unknown> | null;
  poison: Error | null;
  replay_of: string | null;
  span: Span | null;
  result: HandlerResult | null;
  encoded: OutgoingRecord[] | null;
  error: unknown;
}

class InfrastructureBlock extends Error {
  override readonly name = 'InfrastructureBlock';
}

export async function runConsumer<V>(opts: RunConsumerOptions<V>): Promise<RunningConsumer> {
  const runtime = new StreamRuntime<V>(opts);
  await runtime.start();
  return runtime;
}

class StreamRuntime<V> implements RunningConsumer {
  readonly group_id: string;
  private readonly prefix: string;
  private readonly service: string;
  private readonly policy: LadderPolicy;
  private readonly input_topic: string;
  private readonly rung_topics: string[];
  private readonly batch_size_max: number;
  private readonly key_concurrency_max: number;
  private readonly instance_id: string;
  private readonly log: Logger;
  private readonly m: StreamMetrics;
  private readonly owned: { transport: boolean; pool: boolean };
  private readonly transport: KafkaTransport;
  private readonly pool: pg.Pool;
  private readonly codec: AvroCodec;
  private readonly store: ParkingStore;
  private readonly decode: (value: Buffer) => Promise<V>;
  private consumer: StreamConsumer | null = null;
  private committer: Committer | null = null;
  private generation = 0;
  private joined = false;
  private stopping = false;
  private readonly partitions = new Map<string, PartitionState>();
  private gaugeTimer: NodeJS.Timeout | null = null;
  private refreshingDepth = false;

  constructor(private readonly opts: RunConsumerOptions<V>) {
    const { handler, config } = opts;
    this.service = handler.service;
    this.codec = opts.codec ?? new AvroCodec(config.TIDEMARK_REGISTRY_URL, config.TIDEMARK_TOPIC_PREFIX);
    this.prefix = this.codec.prefix;
    if (this.prefix !== config.TIDEMARK_TOPIC_PREFIX)
      throw new Error(`codec prefix "${this.prefix}" differs from TIDEMARK_TOPIC_PREFIX "${config.TIDEMARK_TOPIC_PREFIX}"`);
    this.group_id = topicName(this.service, this.prefix);
    this.policy = { retry_delays_ms: opts.retry_delays_ms ?? catalogDelays(this.service) };
    validatePolicy(this.policy);
    this.input_topic = topicName(handler.input_topic, this.prefix);
    this.rung_topics = this.policy.retry_delays_ms.map((_, i) => topicName(rungTopicBase(this.service, i + 1), this.prefix));
    this.batch_size_max = opts.batch_size_max ?? BATCH_SIZE_MAX_DEFAULT;
    if (!Number.isInteger(this.batch_size_max) || this.batch_size_max < 1 || this.batch_size_max > BATCH_SIZE_MAX_LIMIT) {
      throw new Error(`batch_size_max must be 1..${BATCH_SIZE_MAX_LIMIT}, got ${this.batch_size_max}`);
    }
    this.key_concurrency_max = opts.key_concurrency_max ?? 32;
    this.instance_id = opts.instance_id ?? config.TIDEMARK_INSTANCE_ID ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.log = opts.logger.child({ component: 'stream', group_id: this.group_id });
    this.m = streamMetrics(opts.metrics);
    this.owned = { transport: !opts.transport, pool: !opts.pool };
    this.transport = opts.transport ?? createTransport(config, `${this.service}-stream`, opts.logger);
    this.pool =
      opts.pool ??
      createPool({
        database_url: config.TIDEMARK_DATABASE_URL,
        max: 10,
        application_name: `tidemark-${this.service}-stream`,
        onError: (err) => this.log.warn({ err: errorMessage(err) }, 'postgres connection failed'),
      });
    this.store = new ParkingStore(this.pool, this.group_id);
    this.decode = opts.decode ?? ((value: Buffer) => this.decodeAvro(value));
  }

  /**
   * The registry client fetches a schema on every call until the first answer is
   * cached, so the first chunks after a start would send thousands of identical
   * requests. The first use of each schema id (decode) / topic (encode) runs alone.
   */
  private readonly warmed = new Map<string, Promise<unknown>>();

  private async warmOnce<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const first = this.warmed.get(key);
    if (first) {
      await first.catch(() => undefined);
      return fn();
    }
    const p = fn();
    this.warmed.set(key, p);
    p.catch(() => this.warmed.delete(key));
    return p;
  }

  private decodeAvro(value: Buffer): Promise<V> {
    const id = value.length >= 5 && value[0] === 0 ? value.readInt32BE(1) : -1;
    return this.warmOnce(`decode:${id}`, () => this.codec.decode<V>(value));
  }

  private encodeAvro(base_topic: string, value: unknown): Promise<Buffer> {
    return this.warmOnce(`encode:${base_topic}`, () => this.codec.encode(base_topic, value));
  }

  isReady(): boolean {
    return this.joined && !this.stopping;
  }

  async start(): Promise<void> {
    await retryStartup('creating the stream runtime tables', () => migrateStreamTables(this.pool), {
      onRetry: (err, delay_ms) => this.log.warn({ err: errorMessage(err), delay_ms }, 'postgres not reachable yet; retrying'),
    });
    for (const topic of [this.input_topic, ...this.rung_topics, topicName(dlqTopicBase(this.service), this.prefix)]) {
      if (!(await this.transport.topicExists(topic))) {
        throw new Error(`topic ${topic} does not exist; create topics first (npx tidemark topics apply)`);
      }
    }
    this.consumer = this.transport.consumer({
      group_id: this.group_id,
      topics: [this.input_topic, ...this.rung_topics],
      partitions_concurrency: this.opts.partitions_concurrency ?? 8,
      fetch_wait_ms_max: this.opts.fetch_wait_ms_max ?? 200,
      batch_records_max: this.batch_size_max,
      session_timeout_ms: this.opts.session_timeout_ms ?? 30_000,
      onBatch: (batch, control) => this.onBatch(batch, control),
      onAssignment: (assigned) => this.onAssignment(assigned),
      onCrash: (error) => this.log.error({ err: { message: error.message } }, 'kafka consumer crashed; the client restarts it'),
    });
    this.committer = createCommitter(this.transport, this.consumer, this.instance_id);
    await this.consumer.run();
    this.gaugeTimer = setInterval(() => void this.refreshParkedGauge(), PARKED_GAUGE_INTERVAL_MS);
    this.gaugeTimer.unref();
    this.log.info(
      {
        input: this.input_topic,
        rungs: this.rung_topics,
        retry_delays_ms: this.policy.retry_delays_ms,
        instance: this.instance_id,
        kafka_client: this.transport.client,
        fencing: this.transport.fencing,
      },
      'stream runtime started',
    );
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    await this.consumer?.stop().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'consumer stop failed'));
    for (const st of this.partitions.values()) {
      if (st.resume_timer) clearTimeout(st.resume_timer);
      await this.flushPendingDeletes(st).catch(() => undefined);
    }
    this.partitions.clear();
    await this.committer?.close().catch(() => undefined);
    if (this.owned.transport) await this.transport.close().catch(() => undefined);
    if (this.owned.pool) await this.pool.end().catch(() => undefined);
    this.log.info('stream runtime stopped');
  }

  // -------------------------------------------------------------------------
  // Assignment
  // -------------------------------------------------------------------------

  private onAssignment(assigned: TopicPartition[]): void {
    this.generation++;
    this.joined = true;
    const keep = new Set(assigned.map(tpKey));
    for (const [k, st] of this.partitions) {
      if (keep.has(k)) continue;
      if (st.resume_timer) {
        clearTimeout(st.resume_timer);
        this.consumer?.resume(st.tp);
      }
      this.partitions.delete(k);
      this.committer?.release(st.tp);
      this.m.lag.remove({ topic: st.tp.topic, partition: String(st.tp.partition) });
    }
    this.log.info({ generation: this.generation, assigned: assigned.map(tpKey) }, 'partitions assigned');
    // Own the new assignment right away so the first records do not pay for it (batches wait for it).
    for (const tp of assigned) {
      const st = this.state(tp);
      void this.ensureOwned(st).catch((err: unknown) =>
        this.log.warn({ tp: tpKey(tp), err: errorMessage(err) }, 'owning partition failed; retried on its next batch'),
      );
    }
  }

  private state(tp: TopicPartition): PartitionState {
    const k = tpKey(tp);
    let st = this.partitions.get(k);
    if (!st) {
      const rungIndex = this.rung_topics.indexOf(tp.topic);
      st = {
        tp,
        rung: rungIndex >= 0 ? rungIndex + 1 : null,
        generation: -1,
        epoch: 0n,
        committed_floor: 0n,
        resume_timer: null,
        pending_deletes: [],
        owning: null,
      };
      this.partitions.set(k, st);
    }
    return st;
  }

  /**
   * Makes this instance the fenced owner of the partition for the current generation:
   * registers the partition's transactional id (aborting/completing a previous
   * owner's transaction), bumps the Postgres epoch, reads the committed offset (now
   * stable) and resolves completion marks left by a crash.
   */
  private async ensureOwned(st: PartitionState): Promise<void> {
    while (st.owning) await st.owning.catch(() => undefined);
    if (st.generation === this.generation) return;
    st.owning = this.own(st);
    try {
      await st.owning;
    } finally {
      st.owning = null;
    }
  }

  private async own(st: PartitionState): Promise<void> {
    const generation = this.generation;
    const consumer = this.consumer;
    const committer = this.committer;
    if (!consumer || !committer) throw new Error('stream runtime not started');
    await committer.own(st.tp);
    st.epoch = await this.store.claimPartition(st.tp, this.instance_id);
    const committed = await consumer.committedOffset(st.tp);
    const resolved = await this.store.resolveMarks(st.tp, committed);
    st.pending_deletes = [];
    st.committed_floor = committed ?? 0n;
    st.generation = generation;
    this.log.info({ tp: tpKey(st.tp), epoch: st.epoch.toString(), committed: committed?.toString() ?? null, ...resolved }, 'partition owned');
  }

  // -------------------------------------------------------------------------
  // Batches
  // -------------------------------------------------------------------------

  private async onBatch(batch: FetchedBatch, control: BatchControl): Promise<void> {
    const st = this.state({ topic: batch.topic, partition: batch.partition });
    let records = batch.records;
    let failures = 0;
    const labels = { topic: batch.topic, partition: String(batch.partition) };
    while (records.length > 0) {
      if (this.stopping || !control.isRunning()) return;
      try {
        await this.ensureOwned(st);
        await this.flushPendingDeletes(st);
        // Records below the committed offset were committed by a previous owner.
        const floor = st.committed_floor;
        const skipped = records.filter((r) => BigInt(r.offset) < floor);
        if (skipped.length > 0) {
          control.markConsumed(skipped[skipped.length - 1]!.offset);
          records = records.filter((r) => BigInt(r.offset) >= floor);
          continue;
        }
        const chunk = records.slice(0, this.batch_size_max);
        const { consumed, wait_ms } = await this.processChunk(st, chunk);
        failures = 0;
        this.m.blocked.set(labels, 0);
        if (consumed > 0) {
          const last = chunk[consumed - 1]!;
          control.markConsumed(last.offset);
          st.committed_floor = BigInt(last.offset) + 1n;
          this.m.lag.set(labels, Math.max(0, Number(BigInt(batch.high_watermark) - BigInt(last.offset) - 1n)));
        }
        if (wait_ms !== null) {
          this.pauseUntilDue(st, wait_ms);
          return;
        }
        records = records.slice(consumed);
      } catch (err) {
        if (isRebalance(err)) throw err;
        failures++;
        const reason = err instanceof FencedError ? 'fenced' : err instanceof InfrastructureBlock ? 'infrastructure' : 'runtime';
        // Fenced, or an unexpected failure: own the partition afresh before the next try.
        if (reason === 'fenced' || (reason === 'runtime' && classifyFailure(err) !== 'INFRASTRUCTURE')) st.generation = -1;
        this.m.blocked.set(labels, 1);
        this.m.block_retries.inc({ reason });
        const backoff_ms = blockBackoffMs(failures - 1, 100, this.opts.block_backoff_ms_max ?? 30_000);
        this.log.warn({ tp: tpKey(st.tp), err: errorMessage(err), failures, backoff_ms }, 'chunk blocked in place; retrying');
        await this.sleepWithHeartbeat(backoff_ms, control);
      }
    }
  }

  private pauseUntilDue(st: PartitionState, wait_ms: number): void {
    if (!this.consumer || st.resume_timer) return;
    this.consumer.pause(st.tp);
    st.resume_timer = setTimeout(() => {
      st.resume_timer = null;
      if (!this.stopping) this.consumer?.resume(st.tp);
    }, wait_ms);
    st.resume_timer.unref();
  }

  private async sleepWithHeartbeat(ms: number, control: BatchControl): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.stopping || !control.isRunning()) return;
      await sleep(Math.min(HEARTBEAT_DURING_BLOCK_MS, until - Date.now()));
      await control.heartbeat();
    }
  }

  private async flushPendingDeletes(st: PartitionState): Promise<void> {
    while (st.pending_deletes.length > 0) {
      await this.store.deleteCompleted(st.pending_deletes[0]!);
      st.pending_deletes.shift();
    }
  }

  /**
   * Processes a chunk as one Kafka transaction. Returns how many records (a prefix of
   * the chunk) it consumed and, on a rung, how long to wait for the next one to be due.
   */
  private async processChunk(st: PartitionState, chunk: FetchedRecord[]): Promise<{ consumed: number; wait_ms: number | null }> {
    const started = process.hrtime.bigint();
    const now = Date.now();
    const entries: Entry[] = [];
    let wait_ms: number | null = null;
    for (const fetched of chunk) {
      const entry = await this.toEntry(st, fetched);
      if (st.rung !== null && entry.poison === null) {
        const due = Number(fetched.headers['tidemark-due-at-ms']);
        const wait = pauseForMs(due, now, st.rung, this.policy);
        if (wait > 0) {
          wait_ms = wait;
          break;
        }
      }
      entries.push(entry);
    }
    if (entries.length === 0) return { consumed: 0, wait_ms };

    const t = { decoded: msSince(started) } as Record<string, number>;
    const keys = [...new Set(entries.map((e) => e.plan.key))];
    const rows = await this.store.loadRows(keys);
    t.parking_read = msSince(started);
    const plan = new ChunkPlan(this.policy, rows);
    const spans: Span[] = [];
    try {
      await this.runHandlers(st, entries, rows, plan, spans);
      t.handled = msSince(started);
      const outgoing = await this.buildOutgoing(st, entries, plan);
      t.built = msSince(started);
      const last = entries[entries.length - 1]!.fetched;
      const mark: CompletionMark = { topic: st.tp.topic, partition: st.tp.partition, next_offset: BigInt(last.offset) + 1n };
      await this.store.writeBeforeCommit(st.tp, st.epoch, [...plan.upserts.values()], [...plan.completions.values()], mark);
      t.parking_written = msSince(started);
      await this.commit(st, outgoing, mark.next_offset);
      t.committed = msSince(started);
      this.log.debug({ tp: tpKey(st.tp), records: entries.length, outgoing: outgoing.length, at_ms: t }, 'chunk committed');
      if (plan.completions.size > 0) {
        st.pending_deletes.push(mark);
        await this.flushPendingDeletes(st).catch((err: unknown) =>
          this.log.warn({ err: errorMessage(err) }, 'deleting finished parked rows failed; retried before the next chunk'),
        );
      }
      this.count(st, entries, plan);
    } finally {
      for (const span of spans) span.end();
    }
    this.m.chunk_seconds.observe({ input: st.rung === null ? 'main' : 'retry' }, Number(process.hrtime.bigint() - started) / 1e9);
    return { consumed: entries.length, wait_ms };
  }

  private async toEntry(st: PartitionState, fetched: FetchedRecord): Promise<Entry> {
    const key = fetched.key?.toString('utf8') ?? '';
    let poison: Error | null = null;
    let plan: PlanRecord;
    if (st.rung === null) {
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

  // -------------------------------------------------------------------------
  // Handler calls
  // -------------------------------------------------------------------------

  private startSpan(entry: Entry, spans: Span[]): Span {
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

  private async runHandlers(st: PartitionState, entries: Entry[], rows: ParkedRow[], plan: ChunkPlan, spans: Span[]): Promise<void> {
    const handler = this.opts.handler;
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
          const encoded = await Promise.all(fast.map((e, i) => this.encodeResult(e, results[i]!)));
          fast.forEach((e, i) => {
            e.result = results[i]!;
            e.encoded = encoded[i]!;
            plan.handled(e.plan);
          });
        } catch (err) {
          if (classifyFailure(err) === 'INFRASTRUCTURE') throw new InfrastructureBlock(`handleBatch: ${errorMessage(err)}`, { cause: err });
          this.log.warn(
            { tp: tpKey(st.tp), err: errorMessage(err), records: fast.length },
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
        this.opts.handler.handle(e.input as InputRecord<V>),
      );
      e.encoded = await this.encodeResult(e, result);
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

  /** Encodes a handler's outputs (+ audit); a value that does not fit its schema is a permanent failure. */
  private async encodeResult(e: Entry, result: HandlerResult): Promise<OutgoingRecord[]> {
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

  private async encodeOutput(o: OutputRecord, ctx: ReturnType<typeof otelContext.active>): Promise<OutgoingRecord> {
    let value: Buffer;
    try {
      value = await this.encodeAvro(o.topic, o.value);
    } catch (err) {
      if (classifyFailure(err) === 'INFRASTRUCTURE') throw err;
      throw new PermanentError(`output for ${o.topic} does not match its schema: ${errorMessage(err)}`, { cause: err });
    }
    return { topic: topicName(o.topic, this.prefix), key: o.key, value, headers: injectTraceHeaders({ ...(o.headers ?? {}) }, ctx) };
  }

  private async encodeAudit(
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

  // -------------------------------------------------------------------------
  // Transaction content and commit
  // -------------------------------------------------------------------------

  private async buildOutgoing(st: PartitionState, entries: Entry[], plan: ChunkPlan): Promise<OutgoingRecord[]> {
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
          if (d.kind === 'retry' || st.rung === null) {
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

  private async deadLetter(e: Entry, d: Extract<Disposition, { kind: 'dead_lettered' }>, now_ms: number): Promise<OutgoingRecord> {
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

  private async commit(st: PartitionState, outgoing: OutgoingRecord[], next_offset: bigint): Promise<void> {
    if (!this.committer) throw new Error('stream runtime not started');
    try {
      await this.committer.commit(st.tp, outgoing, next_offset);
      this.m.transactions.inc({ result: 'committed' });
    } catch (err) {
      this.m.transactions.inc({ result: 'failed' });
      // The outcome may be unknown: re-own the partition (fences, re-reads the committed offset).
      st.generation = -1;
      throw new InfrastructureBlock(`kafka transaction for ${tpKey(st.tp)} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  private count(st: PartitionState, entries: Entry[], plan: ChunkPlan): void {
    const input = st.rung === null ? 'main' : 'retry';
    for (const e of entries) {
      const d = plan.dispositions.get(sourceId(e.plan.source))!;
      this.m.settled.inc({ input, outcome: d.kind });
      if (d.kind === 'retry') this.m.retried.inc({ rung: String(d.rung) });
      if (d.kind === 'followed' && st.rung === null) this.m.parked.inc({ rung: String(d.rung) });
      if (d.kind === 'dead_lettered') this.m.dead_lettered.inc({ error_class: d.error_class });
      if (d.kind === 'retry' || d.kind === 'dead_lettered') {
        this.log.info(
          {
            tp: tpKey(st.tp),
            offset: e.fetched.offset,
            key: e.plan.key,
            outcome: d.kind,
            attempts: d.attempts_made,
            error: d.error_message,
          },
          `record ${d.kind === 'retry' ? 'sent to retry rung ' + d.rung : 'dead-lettered'}`,
        );
      }
    }
  }

  private async refreshParkedGauge(): Promise<void> {
    try {
      this.m.parked_keys.set(await this.store.parkedKeyCount());
    } catch {
      // Postgres unreachable: the chunk loop reports it; the gauge keeps its last value.
    }
    await this.refreshDepthGauges();
  }

  /** Ladder and DLQ depth from watermarks and the group's committed offsets (read-only admin calls). */
  private async refreshDepthGauges(): Promise<void> {
    if (this.refreshingDepth || this.stopping) return;
    this.refreshingDepth = true;
    try {
      for (const [i, topic] of this.rung_topics.entries()) {
        const marks = await this.transport.watermarks(topic);
        const committed = await this.transport.committedOffsets(this.group_id, topic);
        let depth = 0n;
        for (const [partition, { low, high }] of marks) {
          const from = committed.get(partition) ?? low;
          if (high > from) depth += high - (from > low ? from : low);
        }
        this.m.ladder_depth.set({ rung: String(i + 1) }, Number(depth));
      }
      let dlq = 0n;
      for (const { low, high } of (await this.transport.watermarks(topicName(dlqTopicBase(this.service), this.prefix))).values()) {
        if (high > low) dlq += high - low;
      }
      this.m.dlq_depth.set(Number(dlq));
    } catch (err) {
      // Kafka unreachable: the chunk loop reports it; the gauges keep their last values.
      this.log.debug({ err: errorMessage(err) }, 'refreshing ladder/DLQ depth failed');
    } finally {
      this.refreshingDepth = false;
    }
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function catalogDelays(service: string): number[] {
  const spec = loadCatalog().consumers.find((c) => c.service === service);
  if (!spec) throw new Error(`service ${service} has no consumer entry in schemas/topics.json (retry_delays_ms); pass retry_delays_ms`);
  return spec.retry_delays_ms;
}

function msSince(start: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - start) / 1e5) / 10;
}

function tpKey(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}

function compareOffsets(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function isRebalance(err: unknown): boolean {
  const e = err as { type?: string; name?: string } | null;
  return (
    e?.type === 'REBALANCE_IN_PROGRESS' ||
    e?.type === 'UNKNOWN_MEMBER_ID' ||
    e?.type === 'ILLEGAL_GENERATION' ||
    e?.name === 'KafkaJSRebalanceError'
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

async function forEachBounded<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

interface EventFacts {
  provider: string | null;
  event_id: string | null;
  event_type: string | null;
  wallet_id: string | null;
}

/**
 * The runtime's per-record span of each input record handed to a handler. A batch
 * handler (handleBatch runs outside any single record's context) uses it to put its
 * own spans, e.g. a database write, into every record's trace.
 */
const recordSpans = new WeakMap<object, Span>();

/** The stream runtime's span for `record` (as passed to handle/handleBatch), if it has one. */
export function recordSpan(record: InputRecord<unknown>): Span | undefined {
  return recordSpans.get(record);
}

/** Provider/event id/type of a CanonicalEvent-like value (or a record wrapping one in `event`). */
function eventFacts(value: unknown): EventFacts {
  const v = value as Record<string, unknown> | null | undefined;
  const ev = (v && typeof v === 'object' && typeof v.event === 'object' && v.event !== null ? v.event : v) as
    Record<string, unknown> | null | undefined;
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  return { provider: str(ev?.provider), event_id: str(ev?.event_id), event_type: str(ev?.event_type), wallet_id: str(ev?.wallet_id) };
}

function sourceDetails(e: Entry): Record<string, string> {
  return {
    source_topic: e.plan.source.topic,
    source_partition: String(e.plan.source.partition),
    source_offset: e.plan.source.offset.toString(),
    attempt: String(e.plan.attempts_made + 1),
  };
}

function validTraceId(id: string | undefined): string | null {
  return id && !/^0+$/.test(id) ? id : null;
}

function traceIdOf(headers: Record<string, string>): string | null {
  const tp = headers.traceparent;
  const m = tp ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(tp) : null;
  return m ? m[1]! : null;
}
