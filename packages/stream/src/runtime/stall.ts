/**
 * Stall watch: notices a consumer that holds readable records of a partition but stopped
 * handing them to the runtime.
 *
 * The librdkafka client's KafkaJS-style consumer can stop calling eachBatch while it stays
 * in its group, heartbeats and keeps its partitions, so nobody else takes them over: its
 * workers wait for a signal that does not come (confluentinc/confluent-kafka-javascript#476,
 * open; seen here once in about a dozen two-instance catch-up runs: one instance never got
 * a batch for its three partitions). The client's own statistics still show the records it
 * fetched and did not deliver, so the runtime can tell a stall from an idle partition.
 *
 * The watch looks at the consumer as a whole, as that stall leaves every worker waiting: a
 * partition is pending while the client reports records waiting for it (in its fetch queue,
 * or taken from librdkafka past what the runtime received) and it is not paused, and no batch
 * of any partition runs. Any batch starting or ending resets every partition's wait, so a
 * chunk blocked in place for minutes (Postgres down) never makes its neighbours look stalled.
 * Pending for `stall_ms`: stalled.
 */
import type { PartitionBacklog, TopicPartition } from '../kafka/transport.js';

const key = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

export interface StalledPartition extends TopicPartition {
  waiting: number;
  pending_ms: number;
}

export class StallWatch {
  private readonly received_next = new Map<string, bigint>();
  private readonly active = new Map<string, number>();
  private readonly pending_since = new Map<string, number>();

  constructor(readonly stall_ms: number) {
    if (!Number.isFinite(stall_ms) || stall_ms <= 0) throw new Error(`stall_ms must be positive, got ${stall_ms}`);
  }

  /** A batch of `tp` starts; `last_offset` is its last record's offset. */
  batchStarted(tp: TopicPartition, last_offset: bigint | null): void {
    const k = key(tp);
    this.active.set(k, (this.active.get(k) ?? 0) + 1);
    this.pending_since.clear();
    if (last_offset !== null && last_offset + 1n > (this.received_next.get(k) ?? -1n)) this.received_next.set(k, last_offset + 1n);
  }

  batchEnded(tp: TopicPartition): void {
    const k = key(tp);
    const n = (this.active.get(k) ?? 1) - 1;
    if (n > 0) this.active.set(k, n);
    else this.active.delete(k);
    this.pending_since.clear();
  }

  /** Forget everything (a new consumer: its assignment and positions start afresh). */
  reset(): void {
    this.received_next.clear();
    this.active.clear();
    this.pending_since.clear();
  }

  /**
   * One look at the client's statistics. `paused(tp)`: the runtime paused the partition on
   * purpose (a retry rung waiting for its next record to be due). `floor(tp)`: the committed
   * position the runtime started the partition from (null: not known yet), for partitions it
   * has not received a batch of. Returns the stalled ones.
   */
  check(
    backlog: PartitionBacklog[],
    now_ms: number,
    paused: (tp: TopicPartition) => boolean,
    floor: (tp: TopicPartition) => bigint | null,
  ): StalledPartition[] {
    const stalled: StalledPartition[] = [];
    if (this.active.size > 0) {
      this.pending_since.clear(); // the consumer delivers: whatever waits, waits for a worker
      return stalled;
    }
    const seen = new Set<string>();
    for (const b of backlog) {
      const k = key(b);
      seen.add(k);
      const received_next = this.received_next.get(k) ?? floor(b);
      const undelivered = b.app_offset !== null && received_next !== null && b.app_offset > received_next;
      const pending = (b.waiting > 0 || undelivered) && !paused(b);
      if (!pending) {
        this.pending_since.delete(k);
        continue;
      }
      const since = this.pending_since.get(k);
      if (since === undefined) {
        this.pending_since.set(k, now_ms);
        continue;
      }
      if (now_ms - since >= this.stall_ms)
        stalled.push({ topic: b.topic, partition: b.partition, waiting: b.waiting, pending_ms: now_ms - since });
    }
    for (const k of [...this.pending_since.keys()]) if (!seen.has(k)) this.pending_since.delete(k);
    return stalled;
  }
}
