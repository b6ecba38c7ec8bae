/**
 * The librdkafka implementation of Tidemark's Kafka interface
 * (@confluentinc/kafka-javascript, its KafkaJS-style API). The default client.
 *
 * Facts this file relies on (1.10.1, read from its source and checked against Kafka 4.4):
 * - KIP-447: `sendOffsets({ consumer })` commits offsets with the consumer's group metadata,
 *   so one transactional producer serves every input partition of an instance and the broker
 *   refuses a commit from a member of an older generation (`fencing: 'group-metadata'`);
 * - `committed()` of a read_committed consumer asks the broker for stable offsets
 *   (require_stable), so it waits for a transactional offset commit still in flight;
 * - with `eachBatchAutoResolve: false`, records after the last `resolveOffset` are fetched
 *   again; `pause()` and a rebalance take effect only after every in-flight batch returned,
 *   so no batch of ours runs across an assignment change;
 * - librdkafka heartbeats on its own thread, so a long batch needs no heartbeat calls (it is
 *   bounded by max.poll.interval.ms instead).
 */
import { randomUUID } from 'node:crypto';
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import {
  confluentModule,
  createConfluentProducer,
  headersToStrings,
  librdkafkaSecurity,
  readerGroupPrefix,
  type ConfluentProducerOptions,
  type KafkaSecurity,
} from '@tidemark/common';
import { AdminBackedTransport, KafkaStyleTransactionalProducer, toFetchedBatch, type KafkaStyleAdmin } from './admin-ops.js';
import type {
  ConsumerOptions,
  ConsumerStatistics,
  FetchedRecord,
  PartitionBacklog,
  StreamConsumer,
  TopicPartition,
  TransactionalProducer,
} from './transport.js';

/** Longest a batch may take before librdkafka considers the member dead (blocked chunks retry in place). */
const MAX_POLL_INTERVAL_MS = 300_000;
/** How long `run()` waits for the first group join (readiness reports the join either way). */
const FIRST_JOIN_WAIT_MS = 60_000;
/** librdkafka statistics (per-partition fetch state and fetch queue) for the runtime's stall watch. */
const STATS_INTERVAL_MS = 5_000;

/**
 * What the stall watch reads from a librdkafka statistics document: every known partition of the
 * subscribed topics with the records in its fetch queue and whether librdkafka fetches it
 * (`fetch_state` other than none/stopped), and whether the client is connected to any broker
 * (a partition is not fetched while every broker is down, and that is no stall).
 */
export function readStatistics(json: string): Omit<ConsumerStatistics, 'updated_ms'> {
  const stats = JSON.parse(json) as {
    topics?: Record<string, { partitions?: Record<string, { partition?: number; fetch_state?: string; fetchq_cnt?: number }> }>;
    brokers?: Record<string, { source?: string; state?: string }>;
  };
  const partitions: PartitionBacklog[] = [];
  for (const [topic, t] of Object.entries(stats.topics ?? {})) {
    for (const p of Object.values(t.partitions ?? {})) {
      // -1 is librdkafka's internal unassigned-partition queue.
      if (p.partition === undefined || p.partition < 0) continue;
      const fetching = p.fetch_state !== undefined && p.fetch_state !== 'none' && p.fetch_state !== 'stopped';
      partitions.push({ topic, partition: p.partition, waiting: p.fetchq_cnt ?? 0, fetching });
    }
  }
  // Real brokers only: librdkafka also lists an internal one and logical ones (the group coordinator).
  const brokers = Object.values(stats.brokers ?? {}).filter((b) => b.source === 'learned' || b.source === 'configured');
  return { partitions, brokers_up: brokers.length === 0 ? null : brokers.some((b) => b.state === 'UP') };
}

export interface ConfluentTransportOptions {
  /** Bootstrap servers, for the plain (group-less) reader of `readTopic`. */
  brokers: string[];
  /** Client security for the plain reader (the same principal as the KafkaJS-style client). */
  security?: KafkaSecurity;
  /** Producer tuning for transactional producers (linger, transaction timeout). */
  producer?: Omit<ConfluentProducerOptions, 'transactional_id'>;
}

export class ConfluentTransport extends AdminBackedTransport {
  readonly client = 'confluent' as const;
  readonly fencing = 'group-metadata' as const;

  constructor(
    private readonly kafka: KafkaJS.Kafka,
    private readonly opts: ConfluentTransportOptions,
  ) {
    super(() => kafka.admin() as unknown as KafkaStyleAdmin);
  }

  consumer(opts: ConsumerOptions): StreamConsumer {
    return new ConfluentConsumer(this.kafka, opts);
  }

  async transactionalProducer(transactional_id: string): Promise<TransactionalProducer> {
    const producer = createConfluentProducer(this.kafka, { ...this.opts.producer, transactional_id });
    await producer.connect();
    return new KafkaStyleTransactionalProducer(producer, transactional_id, (txn) => ({
      sendBatch: (topicMessages) => txn.sendBatch({ topicMessages }),
      sendOffsets: (consumer: StreamConsumer, topics) => {
        if (!(consumer instanceof ConfluentConsumer))
          throw new Error('commitWithOffsets needs a consumer of the same (confluent) transport');
        return txn.sendOffsets({ consumer: consumer.native, topics });
      },
    }));
  }

  async readTopic(
    topic: string,
    opts: { records_max: number; timeout_ms: number },
  ): Promise<{ records: FetchedRecord[]; complete: boolean }> {
    const { marks, ends: pending } = await this.readableEnds(topic);
    if (pending.size === 0) return { records: [], complete: true };
    const { KafkaConsumer } = confluentModule();
    const reader = new KafkaConsumer(
      {
        'bootstrap.servers': this.opts.brokers.join(','),
        ...librdkafkaSecurity(this.opts.security),
        'group.id': `${readerGroupPrefix(topic)}${randomUUID()}`,
        'enable.auto.commit': false,
        'enable.partition.eof': true,
        'isolation.level': 'read_committed',
        'fetch.wait.max.ms': 50,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    const records: FetchedRecord[] = [];
    const deadline = Date.now() + opts.timeout_ms;
    reader.on('partition.eof', (eof: { partition: number }) => pending.delete(eof.partition));
    await new Promise<void>((resolve, reject) => reader.connect({ timeout: opts.timeout_ms }, (err) => (err ? reject(err) : resolve())));
    try {
      reader.assign([...pending.keys()].map((partition) => ({ topic, partition, offset: Number(marks.get(partition)!.low) })));
      while (pending.size > 0 && records.length < opts.records_max && Date.now() < deadline) {
        const batch = await new Promise<
          Array<{
            partition: number;
            offset: number;
            key?: Buffer | string | null;
            value: Buffer | null;
            headers?: Array<Record<string, unknown>>;
            timestamp?: number;
          }>
        >((resolve, reject) => reader.consume(500, (err, messages) => (err ? reject(err) : resolve(messages as never))));
        for (const m of batch) {
          const end = marks.get(m.partition)?.high ?? 0n;
          if (BigInt(m.offset) + 1n >= end) pending.delete(m.partition);
          if (BigInt(m.offset) >= end) continue;
          records.push({
            topic,
            partition: m.partition,
            offset: String(m.offset),
            key: m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key),
            value: m.value ?? null,
            headers: headersToStrings(Object.assign({}, ...(m.headers ?? [])) as Record<string, unknown>),
            timestamp_ms: Number(m.timestamp ?? 0),
          });
        }
      }
    } finally {
      await new Promise<void>((resolve) => reader.disconnect(() => resolve()));
    }
    records.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
    return { records: records.slice(0, opts.records_max), complete: pending.size === 0 && records.length <= opts.records_max };
  }
}

class ConfluentConsumer implements StreamConsumer {
  private readonly consumer: KafkaJS.Consumer;
  readonly group_id: string;
  private running = false;
  private stats: ConsumerStatistics | null = null;
  private assigned: () => void = () => undefined;
  private readonly firstAssignment = new Promise<void>((resolve) => (this.assigned = resolve));

  constructor(
    kafka: KafkaJS.Kafka,
    private readonly opts: ConsumerOptions,
  ) {
    this.group_id = opts.group_id;
    const codes = confluentModule().CODES.ERRORS;
    this.consumer = kafka.consumer({
      'group.id': opts.group_id,
      'isolation.level': 'read_committed',
      'enable.auto.commit': false,
      'auto.offset.reset': 'earliest',
      'allow.auto.create.topics': false,
      'session.timeout.ms': opts.session_timeout_ms,
      'max.poll.interval.ms': Math.max(MAX_POLL_INTERVAL_MS, opts.session_timeout_ms),
      // The broker answers a waiting read_committed fetch as soon as a commit marker makes records
      // readable (the marker's append completes it), so a long wait costs no latency: one hop at
      // 5/s and 100/s measured p50 13 ms with 500 ms as with 10 ms (packages/stream/bench/hop.bench.ts).
      // A short wait only polls: with 10 ms an idle stack's broker spent 20 % of a core on fetches.
      'fetch.wait.max.ms': opts.fetch_wait_ms_max,
      'js.consumer.max.batch.size': opts.batch_records_max,
      'statistics.interval.ms': STATS_INTERVAL_MS,
      stats_cb: (data: { message?: string } | string) => {
        try {
          this.stats = { updated_ms: Date.now(), ...readStatistics(typeof data === 'string' ? data : (data.message ?? '{}')) };
        } catch {
          // A statistics document we cannot read: the stall watch keeps the previous one.
        }
      },
      rebalance_cb: (err: { code: number }, assignment: Array<{ topic: string; partition: number }>) => {
        if (err.code === codes.ERR__ASSIGN_PARTITIONS) {
          opts.onAssignment(assignment.map((a) => ({ topic: a.topic, partition: a.partition })));
          this.assigned();
        }
      },
    } as unknown as KafkaJS.ConsumerConstructorConfig);
  }

  /** Resolves once the member joined its group and got its first assignment (as kafkajs' run does), or after FIRST_JOIN_WAIT_MS. */
  async run(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.opts.topics });
    this.running = true;
    this.stats = { updated_ms: Date.now(), partitions: [], brokers_up: null };
    const joined = this.firstAssignment;
    await this.consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitions_concurrency,
      eachBatch: async ({ batch, resolveOffset, isRunning, isStale }) => {
        await this.opts.onBatch(toFetchedBatch(batch), {
          markConsumed: (offset) => resolveOffset(offset),
          heartbeat: async () => undefined,
          isRunning: () => this.running && isRunning() && !isStale(),
        });
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([joined, new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_JOIN_WAIT_MS)))]);
    clearTimeout(timer);
  }

  pause(tp: TopicPartition): void {
    this.consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
  }

  resume(tp: TopicPartition): void {
    this.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.consumer.disconnect();
  }

  async committedOffset(tp: TopicPartition): Promise<bigint | null> {
    const [c] = await this.consumer.committed([{ topic: tp.topic, partition: tp.partition }], 10_000);
    if (c?.offset === null || c?.offset === undefined) return null;
    const offset = BigInt(c.offset);
    return offset >= 0n ? offset : null;
  }

  statistics(): ConsumerStatistics | null {
    return this.stats;
  }

  /** The client's consumer, for `sendOffsets` (KIP-447 group metadata). */
  get native(): KafkaJS.Consumer {
    return this.consumer;
  }
}
