/**
 * Kafka transactions of the runtime: each chunk's outgoing records and its input position
 * commit atomically. Two ways, chosen by the transport's fencing (kafka/transport.ts):
 *
 * - PartitionCommitter (kafkajs, no KIP-447): one transactional producer per input
 *   partition, id `<group>-<topic>-<partition>`; owning a partition registers that id, which
 *   aborts or completes the previous owner's open transaction and fences it for good.
 * - GroupCommitter (librdkafka, KIP-447): one transactional producer per instance; offsets are
 *   committed with the consumer's group metadata, so the broker refuses a commit from a member
 *   that lost the partition. Chunks of different partitions that are ready while a transaction
 *   is in flight share the next one (group commit): one round-trip set for many chunks.
 */
import type { OutgoingRecord, KafkaTransport, StreamConsumer, TopicPartition, TransactionalProducer } from '../kafka/transport.js';

export interface Committer {
  /** Makes this instance able to commit `tp`'s positions; per partition: fences the previous owner. */
  own(tp: TopicPartition): Promise<void>;
  /** The partition was revoked: frees what `own` took. */
  release(tp: TopicPartition): void;
  /** Sends `outgoing` and commits `tp`'s position `next_offset` in one transaction; throws when the outcome is not a commit. */
  commit(tp: TopicPartition, outgoing: OutgoingRecord[], next_offset: bigint): Promise<void>;
  close(): Promise<void>;
}

export function createCommitter(transport: KafkaTransport, consumer: StreamConsumer, instance_id: string): Committer {
  return transport.fencing === 'group-metadata'
    ? new GroupCommitter(transport, consumer, `${consumer.group_id}-${instance_id}`)
    : new PartitionCommitter(transport, consumer);
}

const tpKey = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

export class PartitionCommitter implements Committer {
  private readonly producers = new Map<string, TransactionalProducer>();

  constructor(
    private readonly transport: KafkaTransport,
    private readonly consumer: StreamConsumer,
  ) {}

  async own(tp: TopicPartition): Promise<void> {
    this.release(tp);
    const producer = await this.transport.transactionalProducer(`${this.consumer.group_id}-${tp.topic}-${tp.partition}`);
    try {
      // The first transaction registers the id: the previous owner's open transaction ends now.
      const txn = await producer.begin();
      await txn.abort();
    } catch (err) {
      await producer.close().catch(() => undefined);
      throw err;
    }
    this.producers.set(tpKey(tp), producer);
  }

  release(tp: TopicPartition): void {
    const producer = this.producers.get(tpKey(tp));
    this.producers.delete(tpKey(tp));
    void producer?.close().catch(() => undefined);
  }

  async commit(tp: TopicPartition, outgoing: OutgoingRecord[], next_offset: bigint): Promise<void> {
    const producer = this.producers.get(tpKey(tp));
    if (!producer) throw new Error(`no producer for ${tpKey(tp)}`);
    const txn = await producer.begin();
    try {
      await txn.send(outgoing);
      await txn.commitWithOffsets(this.consumer, [{ ...tp, next_offset: next_offset.toString() }]);
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    const all = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(all.map((p) => p.close().catch(() => undefined)));
  }
}

interface Pending {
  tp: TopicPartition;
  outgoing: OutgoingRecord[];
  next_offset: bigint;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Most records one shared transaction carries; later chunks wait for the next one. */
export const GROUP_TRANSACTION_RECORDS_MAX = 20_000;

export class GroupCommitter implements Committer {
  private producer: Promise<TransactionalProducer> | null = null;
  private queue: Pending[] = [];
  private running = false;
  private closed = false;

  constructor(
    private readonly transport: KafkaTransport,
    private readonly consumer: StreamConsumer,
    readonly transactional_id: string,
  ) {}

  private getProducer(): Promise<TransactionalProducer> {
    if (!this.producer) {
      const p = this.transport.transactionalProducer(this.transactional_id);
      this.producer = p;
      p.catch(() => {
        if (this.producer === p) this.producer = null;
      });
    }
    return this.producer;
  }

  /** A producer whose transaction failed in a way abort could not repair is replaced (re-registers the id). */
  private async dropProducer(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    const producer = await p?.catch(() => null);
    await producer?.close().catch(() => undefined);
  }

  async own(): Promise<void> {
    // Registering the instance's transactional id once is all the producer side needs;
    // zombie fencing is the broker's generation check on every offset commit.
    await this.getProducer();
  }

  release(): void {}

  commit(tp: TopicPartition, outgoing: OutgoingRecord[], next_offset: bigint): Promise<void> {
    if (this.closed) return Promise.reject(new Error('committer closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ tp, outgoing, next_offset, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let records = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (batch.length > 0 && records + next.outgoing.length > GROUP_TRANSACTION_RECORDS_MAX) break;
      batch.push(this.queue.shift()!);
      records += next.outgoing.length;
    }
    return batch;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        try {
          await this.runTransaction(batch);
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async runTransaction(batch: Pending[]): Promise<void> {
    const producer = await this.getProducer();
    let txn;
    try {
      txn = await producer.begin();
    } catch (err) {
      await this.dropProducer();
      throw err;
    }
    try {
      await txn.send(batch.flatMap((p) => p.outgoing));
      await txn.commitWithOffsets(
        this.consumer,
        batch.map((p) => ({ topic: p.tp.topic, partition: p.tp.partition, next_offset: p.next_offset.toString() })),
      );
    } catch (err) {
      try {
        await txn.abort();
      } catch {
        await this.dropProducer();
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('committer closed'));
    await this.dropProducer();
  }
}
