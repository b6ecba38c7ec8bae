/**
 * What both clients share: their admin clients have the same KafkaJS-style shape, so the
 * transport's admin operations (committed offsets, watermarks, delete records/groups, topic
 * existence) are written once here, over a lazily connected admin, and `AdminBackedTransport`
 * hands them to both transports. Also what their KafkaJS-style consumers and transactions have
 * in common: a fetched batch in our shape, and a transaction's send / commit-with-offsets
 * (records and offsets grouped by topic).
 */
import type {
  ConsumerOptions,
  FetchedBatch,
  FetchedRecord,
  InputPosition,
  KafkaTransport,
  OutgoingRecord,
  StreamConsumer,
  Transaction,
  TransactionalProducer,
} from './transport.js';
import { headersToStrings } from '@tidemark/common';

/** The part of a KafkaJS-style admin client the transports use (kafkajs and librdkafka's compat API). */
export interface KafkaStyleAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  fetchOffsets(o: {
    groupId: string;
    topics: string[];
  }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
  fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>>;
  deleteTopicRecords(o: { topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<unknown>;
  deleteGroups(group_ids: string[]): Promise<unknown>;
  listTopics(): Promise<string[]>;
}

export class AdminOps {
  private admin: KafkaStyleAdmin | null = null;
  private connecting: Promise<KafkaStyleAdmin> | null = null;

  constructor(private readonly newAdmin: () => KafkaStyleAdmin) {}

  private async get(): Promise<KafkaStyleAdmin> {
    if (this.admin) return this.admin;
    if (!this.connecting) {
      const admin = this.newAdmin();
      this.connecting = admin.connect().then(
        () => {
          this.admin = admin;
          return admin;
        },
        (err: unknown) => {
          this.connecting = null;
          throw err;
        },
      );
    }
    return this.connecting;
  }

  async committedOffsets(group_id: string, topic: string): Promise<Map<number, bigint>> {
    const result = await (await this.get()).fetchOffsets({ groupId: group_id, topics: [topic] });
    const out = new Map<number, bigint>();
    for (const t of result) {
      for (const p of t.partitions) {
        const offset = BigInt(p.offset);
        if (offset >= 0n) out.set(p.partition, offset);
      }
    }
    return out;
  }

  async watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    const offsets = await (await this.get()).fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  }

  async deleteRecordsBefore(topic: string, partition: number, offset: bigint): Promise<void> {
    await (await this.get()).deleteTopicRecords({ topic, partitions: [{ partition, offset: offset.toString() }] });
  }

  async deleteGroup(group_id: string): Promise<void> {
    await (await this.get()).deleteGroups([group_id]);
  }

  async topicExists(topic: string): Promise<boolean> {
    return (await (await this.get()).listTopics()).includes(topic);
  }

  async close(): Promise<void> {
    const admin = this.admin ?? (this.connecting ? await this.connecting.catch(() => null) : null);
    this.admin = null;
    this.connecting = null;
    await admin?.disconnect();
  }
}

/** `items` grouped by `topic`, first-seen topic order kept (the shape of sendBatch and sendOffsets). */
export function byTopic<T extends { topic: string }, U>(items: T[], map: (item: T) => U): Array<{ topic: string; items: U[] }> {
  const groups = new Map<string, U[]>();
  for (const item of items) {
    let list = groups.get(item.topic);
    if (!list) {
      list = [];
      groups.set(item.topic, list);
    }
    list.push(map(item));
  }
  return [...groups].map(([topic, grouped]) => ({ topic, items: grouped }));
}

/** A transport's admin operations, each one `AdminOps` call; the client-specific rest is left to the subclass. */
export abstract class AdminBackedTransport implements KafkaTransport {
  abstract readonly client: KafkaTransport['client'];
  abstract readonly fencing: KafkaTransport['fencing'];
  protected readonly admin: AdminOps;

  constructor(newAdmin: () => KafkaStyleAdmin) {
    this.admin = new AdminOps(newAdmin);
  }

  abstract consumer(opts: ConsumerOptions): StreamConsumer;
  abstract transactionalProducer(transactional_id: string): Promise<TransactionalProducer>;
  abstract readTopic(
    topic: string,
    opts: { records_max: number; timeout_ms: number },
  ): Promise<{ records: FetchedRecord[]; complete: boolean }>;

  committedOffsets(group_id: string, topic: string): Promise<Map<number, bigint>> {
    return this.admin.committedOffsets(group_id, topic);
  }

  watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    return this.admin.watermarks(topic);
  }

  deleteRecordsBefore(topic: string, partition: number, offset: bigint): Promise<void> {
    return this.admin.deleteRecordsBefore(topic, partition, offset);
  }

  deleteGroup(group_id: string): Promise<void> {
    return this.admin.deleteGroup(group_id);
  }

  topicExists(topic: string): Promise<boolean> {
    return this.admin.topicExists(topic);
  }

  /** For `readTopic`: the watermarks of `topic`, and the end (high watermark) of each partition that holds records. */
  protected async readableEnds(topic: string): Promise<{
    marks: Map<number, { low: bigint; high: bigint }>;
    ends: Map<number, bigint>;
  }> {
    const marks = await this.watermarks(topic);
    const ends = new Map<number, bigint>();
    for (const [partition, { low, high }] of marks) if (high > low) ends.set(partition, high);
    return { marks, ends };
  }

  close(): Promise<void> {
    return this.admin.close();
  }
}

/** A batch as both clients' `eachBatch` hands it over (KafkaJS-style). */
export interface KafkaStyleBatch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: Array<{ offset: string; key?: Buffer | null; value?: Buffer | null; headers?: unknown; timestamp: string }>;
}

export function toFetchedRecord(topic: string, partition: number, m: KafkaStyleBatch['messages'][number]): FetchedRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value ?? null,
    headers: headersToStrings(m.headers as Record<string, unknown> | undefined),
    timestamp_ms: Number(m.timestamp),
  };
}

export function toFetchedBatch(batch: KafkaStyleBatch): FetchedBatch {
  return {
    topic: batch.topic,
    partition: batch.partition,
    high_watermark: batch.highWatermark,
    records: batch.messages.map((m) => toFetchedRecord(batch.topic, batch.partition, m)),
  };
}

/** The client calls a transaction is made of; only how records and offsets are sent differs between the clients. */
export interface KafkaStyleTransactionCalls {
  sendBatch(topicMessages: Array<{ topic: string; messages: Array<Omit<OutgoingRecord, 'topic'>> }>): Promise<unknown>;
  sendOffsets(
    consumer: StreamConsumer,
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>,
  ): Promise<unknown>;
  commit(): Promise<unknown>;
  abort(): Promise<unknown>;
}

/** Our `Transaction` over a client's open transaction: records and offsets grouped by topic. */
export function kafkaStyleTransaction(txn: KafkaStyleTransactionCalls): Transaction {
  return {
    async send(records: OutgoingRecord[]) {
      if (records.length === 0) return;
      const topicMessages = byTopic(records, (r) => ({ key: r.key, value: r.value, headers: r.headers })).map((g) => ({
        topic: g.topic,
        messages: g.items,
      }));
      await txn.sendBatch(topicMessages);
    },
    async commitWithOffsets(consumer: StreamConsumer, positions: InputPosition[]) {
      const topics = byTopic(positions, (p) => ({ partition: p.partition, offset: p.next_offset })).map((g) => ({
        topic: g.topic,
        partitions: g.items,
      }));
      await txn.sendOffsets(consumer, topics);
      await txn.commit();
    },
    commit: async () => {
      await txn.commit();
    },
    abort: async () => {
      await txn.abort();
    },
  };
}

/**
 * A transactional producer over a KafkaJS-style client (connected): each `begin()` opens one of
 * its transactions, and `sends` says how that transaction sends records and offsets.
 */
export class KafkaStyleTransactionalProducer<
  T extends Pick<KafkaStyleTransactionCalls, 'commit' | 'abort'>,
> implements TransactionalProducer {
  constructor(
    private readonly producer: { transaction(): Promise<T>; disconnect(): Promise<void> },
    readonly transactional_id: string,
    private readonly sends: (txn: T) => Pick<KafkaStyleTransactionCalls, 'sendBatch' | 'sendOffsets'>,
  ) {}

  async begin(): Promise<Transaction> {
    const txn = await this.producer.transaction();
    return kafkaStyleTransaction({ ...this.sends(txn), commit: () => txn.commit(), abort: () => txn.abort() });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
