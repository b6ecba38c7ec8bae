/**
 * The kafkajs implementation of Tidemark's Kafka interface.
 *
 * Facts this file relies on (kafkajs 2.2.4, read from its source):
 * - with `eachBatchAutoResolve: false` and `autoCommit: false` the fetch position of a
 *   partition is exactly what we resolve; unresolved records are fetched again;
 * - a member re-joins only after all batches of the current fetch settled, so no batch
 *   of ours is in flight while the assignment changes;
 * - a transactional producer registers its transactional id (InitProducerId, which
 *   fences older holders and completes/aborts their open transaction) on its first
 *   `transaction()`.
 */
import type { Consumer, Kafka } from 'kafkajs';
import {
  AdminBackedTransport,
  KafkaStyleTransactionalProducer,
  toFetchedBatch,
  toFetchedRecord,
  type KafkaStyleAdmin,
} from './admin-ops.js';
import { createIdempotentProducer, readerGroupPrefix } from '@tidemark/common';
import { installKafkajsPatches } from '@tidemark/common';
import { randomUUID } from 'node:crypto';
import type { ConsumerOptions, FetchedRecord, StreamConsumer, TopicPartition, TransactionalProducer } from './transport.js';

// kafkajs 2 prints a one-off notice about its (Java-compatible) default partitioner.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export class KafkajsTransport extends AdminBackedTransport {
  readonly client = 'kafkajs' as const;
  readonly fencing = 'transactional-id-per-partition' as const;

  constructor(private readonly kafka: Kafka) {
    super(() => kafka.admin() as unknown as KafkaStyleAdmin);
    installKafkajsPatches();
  }

  consumer(opts: ConsumerOptions): StreamConsumer {
    return new KafkajsConsumer(this.kafka, opts, (group_id, topic) => this.committedOffsets(group_id, topic));
  }

  async transactionalProducer(transactional_id: string): Promise<TransactionalProducer> {
    const producer = createIdempotentProducer(this.kafka, { transactional_id });
    await producer.connect();
    return new KafkaStyleTransactionalProducer(producer, transactional_id, (txn) => ({
      sendBatch: (topicMessages) => txn.sendBatch({ acks: -1, topicMessages }),
      sendOffsets: (consumer, topics) => txn.sendOffsets({ consumerGroupId: consumer.group_id, topics }),
    }));
  }

  async readTopic(
    topic: string,
    opts: { records_max: number; timeout_ms: number },
  ): Promise<{ records: FetchedRecord[]; complete: boolean }> {
    const { ends: remaining } = await this.readableEnds(topic);
    if (remaining.size === 0) return { records: [], complete: true };
    const groupId = `${readerGroupPrefix(topic)}${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 200, readUncommitted: false, allowAutoTopicCreation: false });
    const records: FetchedRecord[] = [];
    let complete = false;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const timer = setTimeout(finish, opts.timeout_ms);
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      const { partition, lastOffset } = event.payload as { partition: number; lastOffset: string };
      const end = remaining.get(partition);
      if (end !== undefined && BigInt(lastOffset) + 1n >= end) remaining.delete(partition);
      if (remaining.size === 0) {
        complete = true;
        finish();
      }
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const end = remaining.get(batch.partition);
            if (end === undefined || BigInt(m.offset) >= end) continue;
            records.push(toFetchedRecord(topic, batch.partition, m));
            if (records.length >= opts.records_max) finish();
          }
        },
      });
      await finished;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
      await this.deleteGroup(groupId).catch(() => undefined);
    }
    records.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
    return { records: records.slice(0, opts.records_max), complete: complete && records.length <= opts.records_max };
  }
}

class KafkajsConsumer implements StreamConsumer {
  private readonly consumer: Consumer;
  readonly group_id: string;

  constructor(
    kafka: Kafka,
    private readonly opts: ConsumerOptions,
    private readonly committed: (group_id: string, topic: string) => Promise<Map<number, bigint>>,
  ) {
    this.group_id = opts.group_id;
    this.consumer = kafka.consumer({
      groupId: opts.group_id,
      sessionTimeout: opts.session_timeout_ms,
      rebalanceTimeout: Math.max(opts.session_timeout_ms * 2, 30_000),
      heartbeatInterval: Math.max(500, Math.floor(opts.session_timeout_ms / 10)),
      maxWaitTimeInMs: opts.fetch_wait_ms_max,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 100, retries: 10, maxRetryTime: 5_000, restartOnFailure: async () => true },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const assigned: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) assigned.push({ topic, partition });
      }
      opts.onAssignment(assigned);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const err = event.payload.error;
      opts.onCrash(err instanceof Error ? err : new Error(String(err)));
    });
  }

  async run(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.opts.topics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitions_concurrency,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
        await this.opts.onBatch(toFetchedBatch(batch), {
          markConsumed: (offset) => resolveOffset(offset),
          heartbeat,
          isRunning,
        });
      },
    });
  }

  pause(tp: TopicPartition): void {
    this.consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
  }

  resume(tp: TopicPartition): void {
    this.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  /** kafkajs keeps no per-partition statistics (and its consumer has no stall of this kind). */
  statistics(): null {
    return null;
  }

  /** Not stable by itself: the per-partition fencing registers the transactional id first (see the runtime). */
  async committedOffset(tp: TopicPartition): Promise<bigint | null> {
    return (await this.committed(this.group_id, tp.topic)).get(tp.partition) ?? null;
  }
}
