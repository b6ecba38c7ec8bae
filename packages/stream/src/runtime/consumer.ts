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
  loadCatalog,
  topicName,
  type BaseConfig,
  type KafkaSecurityConfig,
  type Logger,
  type Metrics,
  type Span,
  createPool,
} from '@tidemark/common';
import type { Handler } from '../handler.js';
import { blockBackoffMs, dlqTopicBase, pauseForMs, rungTopicBase, validatePolicy, type LadderPolicy } from '../core/ladder.js';
import { ChunkPlan, sourceId } from '../core/plan.js';
import { classifyFailure, errorMessage, retryStartup } from '../errors.js';
import { createTransport } from '../kafka/select.js';
import type { BatchControl, FetchedBatch, FetchedRecord, KafkaTransport, OutgoingRecord, StreamConsumer } from '../kafka/transport.js';
import { FencedError, migrateStreamTables, ParkingStore, type CompletionMark } from '../parking/store.js';
import { createCommitter, type Committer } from './committer.js';
import { HandlerDispatch } from './dispatch.js';
import { StreamGauges } from './gauges.js';
import { streamMetrics, type StreamMetrics } from './metrics.js';
import { OutgoingEncoder } from './outgoing.js';
import { PartitionOwnership, type PartitionState } from './partitions.js';
import { hungAttempt, StallWatch, type Stall } from './stall.js';
import { InfrastructureBlock, isRebalance, msSince, sleep, tpKey, type Entry } from './records.js';

export { recordSpan } from './records.js';

export interface RunConsumerOptions<V> {
  handler: Handler<V>;
  logger: Logger;
  metrics: Metrics;
  /** Base settings (brokers, registry, database, prefix); used for whatever is not passed below. */
  config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS' | 'TIDEMARK_REGISTRY_URL' | 'TIDEMARK_DATABASE_URL' | 'TIDEMARK_TOPIC_PREFIX'> &
    Partial<Pick<BaseConfig, 'TIDEMARK_KAFKA_CLIENT' | 'TIDEMARK_INSTANCE_ID'>> &
    KafkaSecurityConfig;
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
  /** How long a sign of a stalled consumer must last before the consumer is replaced (runtime/stall.ts). */
  stall_ms?: number;
  /**
   * Called when a stalled consumer cannot even be stopped (it would keep its partitions from every
   * other member); default: log and exit the process, so its supervisor restarts it.
   */
  onUnrecoverable?: (err: Error) => void;
  /** Longest wait for a stalled consumer to leave its group before `onUnrecoverable` (default 60 s). */
  stalled_stop_timeout_ms?: number;
  /**
   * Longest one attempt at a chunk (owning its partition, handling it, its Kafka transaction) may run
   * before the instance gives up on it (`onUnrecoverable`; runtime/stall.ts). Default 5 min, the
   * consumer's max.poll.interval.ms: a batch running longer has lost its partitions anyway.
   */
  chunk_hang_ms?: number;
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
export const STALL_MS_DEFAULT = 60_000;
export const CHUNK_HANG_MS_DEFAULT = 300_000;
/** Longest wait for a stalled consumer to leave its group before the instance gives up. */
const STALLED_STOP_TIMEOUT_MS_DEFAULT = 60_000;
const HEARTBEAT_DURING_BLOCK_MS = 1_000;

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
  private readonly outgoing: OutgoingEncoder;
  private readonly dispatch: HandlerDispatch<V>;
  private readonly gauges: StreamGauges;
  private consumer: StreamConsumer | null = null;
  private committer: Committer | null = null;
  private stopping = false;
  private readonly parts: PartitionOwnership;
  private gaugeTimer: NodeJS.Timeout | null = null;
  private readonly stall: StallWatch;
  private replacing = false;
  /** `onUnrecoverable` was called: the watch has said all it can. */
  private given_up = false;

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
    const { service, prefix, rung_topics, group_id, policy, log, m } = this;
    this.outgoing = new OutgoingEncoder({ service, prefix, rung_topics, encodeAvro: (topic, value) => this.codec.encode(topic, value) });
    this.dispatch = new HandlerDispatch<V>({
      handler,
      service,
      policy,
      log,
      m,
      key_concurrency_max: this.key_concurrency_max,
      outgoing: this.outgoing,
      decode: opts.decode ?? ((value: Buffer) => this.codec.decode<V>(value)),
    });
    const transport = this.transport;
    const store = this.store;
    this.parts = new PartitionOwnership({
      rung_topics,
      store,
      instance_id: this.instance_id,
      log,
      m,
      consumer: () => this.consumer,
      committer: () => this.committer,
    });
    this.gauges = new StreamGauges({ service, prefix, group_id, rung_topics, transport, store, m, log, isStopping: () => this.stopping });
    this.stall = new StallWatch(opts.stall_ms ?? STALL_MS_DEFAULT, Date.now());
  }

  isReady(): boolean {
    return this.parts.joined && !this.stopping;
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
    await this.startConsumer();
    this.gaugeTimer = setInterval(
      () =>
        void this.gauges
          .refresh()
          .then(() => this.parts.recheckNothingParked())
          .then(() => this.checkStall())
          .catch(() => undefined),
      PARKED_GAUGE_INTERVAL_MS,
    );
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

  private async startConsumer(): Promise<void> {
    this.consumer = this.transport.consumer({
      group_id: this.group_id,
      topics: [this.input_topic, ...this.rung_topics],
      partitions_concurrency: this.opts.partitions_concurrency ?? 8,
      fetch_wait_ms_max: this.opts.fetch_wait_ms_max ?? 200,
      batch_records_max: this.batch_size_max,
      session_timeout_ms: this.opts.session_timeout_ms ?? 30_000,
      onBatch: (batch, control) => this.onBatch(batch, control),
      onAssignment: (assigned) => this.parts.assign(assigned),
      onCrash: (error) => this.log.error({ err: { message: error.message } }, 'kafka consumer crashed; the client restarts it'),
    });
    this.committer = createCommitter(this.transport, this.consumer, this.instance_id);
    await this.consumer.run();
  }

  /** One look of the stall watch at the client's statistics; a stalled consumer is replaced. */
  private async checkStall(): Promise<void> {
    if (this.replacing || this.stopping || this.given_up) return;
    const hung = hungAttempt(
      this.parts.all().map((st) => ({ tp: st.tp, started_ms: st.attempt_started_ms })),
      Date.now(),
      this.opts.chunk_hang_ms ?? CHUNK_HANG_MS_DEFAULT,
    );
    if (hung) {
      this.unrecoverable(
        new Error(`an attempt at a chunk of ${tpKey(hung.tp)} has not settled in ${hung.running_ms} ms`),
        'a chunk waits on something that does not answer; it cannot be cancelled and keeps the consumer from stopping',
      );
      return;
    }
    const stats = this.consumer?.statistics();
    if (!stats) return;
    const stall = this.stall.check(
      stats,
      Date.now(),
      this.parts.all().map((st) => st.tp),
      (tp) => (this.parts.peek(tp)?.resume_timer ?? null) !== null,
    );
    if (stall) await this.replaceConsumer(stall);
  }

  /** Only a restart helps: log why and hand over to `onUnrecoverable` (default: exit 70, for the supervisor). */
  private unrecoverable(err: Error, why: string): void {
    this.given_up = true;
    this.log.fatal({ err: err.message, why }, 'exiting so that the supervisor restarts this instance');
    (this.opts.onUnrecoverable ?? (() => process.exit(70)))(err);
  }

  /**
   * Leaves the group with the stalled consumer (in-flight batches finish and commit first) and
   * joins with a new one; the partitions are owned afresh, from their committed offsets.
   */
  private async replaceConsumer(stall: Stall): Promise<void> {
    this.replacing = true;
    this.m.consumer_replacements.inc({ reason: stall.reason });
    this.log.error(
      { reason: stall.reason, idle_ms: stall.idle_ms, waiting: stall.partitions.map((p) => ({ tp: tpKey(p), records: p.waiting })) },
      {
        unfetched: 'kafka consumer does not fetch partitions assigned to it; replacing it',
        waiting: 'kafka consumer holds fetched records it does not deliver (confluentinc/confluent-kafka-javascript#476); replacing it',
        silent: 'kafka consumer stopped polling its client (no statistics, nothing delivered); replacing it',
      }[stall.reason],
    );
    const stop_timeout_ms = this.opts.stalled_stop_timeout_ms ?? STALLED_STOP_TIMEOUT_MS_DEFAULT;
    try {
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([
        (this.consumer?.stop() ?? Promise.resolve()).then(
          () => true,
          (err: unknown) => (this.log.warn({ err: errorMessage(err) }, 'stopping the stalled consumer failed'), true),
        ),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), stop_timeout_ms))),
      ]);
      clearTimeout(timer);
      if (!stopped) {
        // Still in the group, it keeps its partitions from every other member: only a restart frees them.
        this.unrecoverable(
          new Error(`the stalled kafka consumer did not leave its group within ${stop_timeout_ms} ms`),
          'a stalled consumer that stays in its group keeps its partitions from every other member',
        );
        return;
      }
      for (const st of this.parts.all()) if (st.resume_timer) clearTimeout(st.resume_timer);
      this.parts.clear();
      await this.committer?.close().catch(() => undefined);
      this.stall.reset(Date.now());
      // Until a new consumer joins (Kafka may be down right now): without one the instance would idle for good.
      for (let attempt = 0; !this.stopping; attempt++) {
        try {
          await this.startConsumer();
          this.log.info('kafka consumer replaced');
          // stop() ran while the new consumer was joining: it must not outlive the runtime.
          if (this.stopping) await this.consumer?.stop().catch(() => undefined);
          break;
        } catch (err) {
          const backoff_ms = blockBackoffMs(attempt, 1_000, 30_000);
          this.log.error({ err: errorMessage(err), backoff_ms }, 'starting the new kafka consumer failed; retrying');
          await this.consumer?.stop().catch(() => undefined);
          await sleep(backoff_ms);
        }
      }
    } finally {
      this.replacing = false;
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    await this.consumer?.stop().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'consumer stop failed'));
    for (const st of this.parts.all()) {
      if (st.resume_timer) clearTimeout(st.resume_timer);
      await this.parts.flushPendingDeletes(st).catch(() => undefined);
    }
    this.parts.clear();
    await this.committer?.close().catch(() => undefined);
    if (this.owned.transport) await this.transport.close().catch(() => undefined);
    if (this.owned.pool) await this.pool.end().catch(() => undefined);
    this.log.info('stream runtime stopped');
  }

  // -------------------------------------------------------------------------
  // Assignment
  // -------------------------------------------------------------------------

  // -------------------------------------------------------------------------
  // Batches
  // -------------------------------------------------------------------------

  private async onBatch(batch: FetchedBatch, control: BatchControl): Promise<void> {
    const st = this.parts.state({ topic: batch.topic, partition: batch.partition });
    this.stall.batchStarted(Date.now());
    try {
      await this.runBatch(st, batch, control);
    } finally {
      st.attempt_started_ms = null;
      this.stall.batchEnded(Date.now());
    }
  }

  private async runBatch(st: PartitionState, batch: FetchedBatch, control: BatchControl): Promise<void> {
    let records = batch.records;
    let failures = 0;
    const labels = { topic: batch.topic, partition: String(batch.partition) };
    while (records.length > 0) {
      if (this.stopping || !control.isRunning()) return;
      st.attempt_started_ms = Date.now();
      try {
        await this.parts.ensureOwned(st);
        await this.parts.flushPendingDeletes(st);
        // Records below the committed offset were committed by a previous owner.
        const floor = st.committed_floor;
        const skipped = records.filter((r) => BigInt(r.offset) < floor);
        if (skipped.length > 0) {
          control.markConsumed(skipped[skipped.length - 1]!.offset);
          records = records.filter((r) => BigInt(r.offset) >= floor);
          continue;
        }
        const chunk = records.slice(0, this.batch_size_max);
        st.in_chunk = true;
        const { consumed, wait_ms } = await this.processChunk(st, chunk).finally(() => (st.in_chunk = false));
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
        st.attempt_started_ms = null; // the backoff is bounded: the next attempt starts the clock again
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
      const entry = await this.dispatch.toEntry(st.rung, fetched);
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

    const t = { queued: now - chunk[0]!.timestamp_ms, decode: msSince(started) } as Record<string, number>;
    const keys = [...new Set(entries.map((e) => e.plan.key))];
    const rows = st.nothing_parked ? [] : await this.store.loadRows(keys);
    t.parking_read = msSince(started);
    const plan = new ChunkPlan(this.policy, rows);
    const spans: Span[] = [];
    try {
      await this.dispatch.runHandlers(st.tp, entries, rows, plan, spans);
      t.handle = msSince(started);
      const outgoing = await this.outgoing.buildOutgoing(st.rung, entries, plan);
      t.build = msSince(started);
      const last = entries[entries.length - 1]!.fetched;
      const mark: CompletionMark = { topic: st.tp.topic, partition: st.tp.partition, next_offset: BigInt(last.offset) + 1n };
      if (plan.upserts.size > 0) {
        st.nothing_parked = false;
        st.park_writes++;
      }
      await this.store.writeBeforeCommit(st.tp, st.epoch, [...plan.upserts.values()], [...plan.completions.values()], mark);
      t.parking_write = msSince(started);
      await this.commit(st, outgoing, mark.next_offset);
      t.commit = msSince(started);
      this.log.debug({ tp: tpKey(st.tp), records: entries.length, outgoing: outgoing.length, at_ms: t }, 'chunk committed');
      this.observePhases(t);
      if (plan.completions.size > 0) {
        st.pending_deletes.push(mark);
        await this.parts
          .flushPendingDeletes(st)
          .catch((err: unknown) =>
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

  /** `t`: milliseconds since the chunk started at the end of each phase (and `queued`, the first record's age). */
  private observePhases(t: Record<string, number>): void {
    const h = this.m.chunk_phase_seconds;
    h.observe({ phase: 'queued' }, Math.max(0, t.queued!) / 1000);
    let prev = 0;
    for (const phase of ['decode', 'parking_read', 'handle', 'build', 'parking_write', 'commit'] as const) {
      h.observe({ phase }, Math.max(0, t[phase]! - prev) / 1000);
      prev = t[phase]!;
    }
  }

  // -------------------------------------------------------------------------
  // Transaction content and commit
  // -------------------------------------------------------------------------

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
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function catalogDelays(service: string): number[] {
  const spec = loadCatalog().consumers.find((c) => c.service === service);
  if (!spec) throw new Error(`service ${service} has no consumer entry in schemas/topics.json (retry_delays_ms); pass retry_delays_ms`);
  return spec.retry_delays_ms;
}
