/**
 * Stall watch: notices a consumer that stopped handing records to the runtime while it stays
 * in its group, heartbeats and keeps its partitions (so no other member takes them over).
 *
 * The librdkafka client's KafkaJS-style consumer does this now and then. Seen here: in a chaos
 * run both dedupe instances, restarted after kill -9 within 13 s of each other, stayed in a
 * steady group for minutes with 8 partitions assigned and librdkafka fetching none of them
 * (`fetch_state` none: the assignment was never started), while the KafkaJS layer waited on a
 * fetch from librdkafka that never returned; and in one of about a dozen two-instance ledger
 * catch-ups one instance committed nothing of its three partitions. Its workers can also wait
 * for a wake-up that does not come (confluentinc/confluent-kafka-javascript#476, open).
 *
 * Three signs, read from librdkafka's statistics (every few seconds):
 * - unfetched: a partition the runtime was assigned is not fetched by librdkafka for `stall_ms`;
 * - waiting: a partition's records sit in the client's fetch queue for `stall_ms`;
 * - silent: no statistics for `stall_ms` (a healthy consumer hands them over even when idle).
 * Partitions the runtime paused (a rung waiting for its next due record) are left out, and nothing
 * counts while the client reaches no broker (a Kafka restart: a chaos run replaced a consumer once,
 * 55 s into a broker restart, before this rule).
 * Either counts only while no batch of any partition runs and none started or ended for
 * `stall_ms`: a chunk blocked in place for minutes (Postgres down) keeps the watch quiet, as
 * such a stall leaves every worker idle. (The client's delivered position is no sign: librdkafka
 * moves it past transaction markers and aborted records the application never sees.)
 *
 * A running batch keeps that watch quiet, so an attempt that never ends is watched on its own
 * (`hungAttempt`): every attempt at a chunk (owning the partition, handling, the Kafka transaction)
 * is bounded by the timeouts of what it waits for, and one that has not settled within `hang_ms`
 * waits on something that will not answer. It cannot be cancelled and it keeps the consumer from
 * stopping (stop waits for in-flight batches), so the instance ends and its supervisor restarts it;
 * the attempt's transaction never committed, so its records are processed again by the next owner.
 * Seen here once (2026-12-07, e2e bench): a screening instance sat for five minutes with nothing
 * delivered, no sign in the statistics and no log line, and its consumer never left the group when
 * the service was stopped.
 */
import type { ConsumerStatistics, TopicPartition } from '../kafka/transport.js';
import { tpKey } from './records.js';

export interface Stall {
  reason: 'unfetched' | 'waiting' | 'silent';
  /** How long the consumer has delivered nothing. */
  idle_ms: number;
  /** The partitions concerned (none for `silent`), with the records waiting in the client's queue. */
  partitions: Array<TopicPartition & { waiting: number }>;
}

export class StallWatch {
  private active = 0;
  private last_activity_ms: number;
  private readonly pending_since = new Map<string, number>();

  constructor(
    readonly stall_ms: number,
    now_ms: number,
  ) {
    if (!Number.isFinite(stall_ms) || stall_ms <= 0) throw new Error(`stall_ms must be positive, got ${stall_ms}`);
    this.last_activity_ms = now_ms;
  }

  batchStarted(now_ms: number): void {
    this.active++;
    this.activity(now_ms);
  }

  batchEnded(now_ms: number): void {
    this.active = Math.max(0, this.active - 1);
    this.activity(now_ms);
  }

  /** A new consumer: nothing delivered by the old one counts. */
  reset(now_ms: number): void {
    this.active = 0;
    this.activity(now_ms);
  }

  private activity(now_ms: number): void {
    this.last_activity_ms = now_ms;
    this.pending_since.clear();
  }

  /**
   * One look at the client's statistics. `assigned`: the partitions the runtime was assigned;
   * `paused(tp)`: the runtime paused the partition on purpose.
   */
  check(stats: ConsumerStatistics, now_ms: number, assigned: TopicPartition[], paused: (tp: TopicPartition) => boolean): Stall | null {
    if (this.active > 0) {
      this.pending_since.clear();
      return null;
    }
    if (stats.brokers_up === false) {
      // Kafka is down (a broker restart): nothing can be fetched, and the idle time starts again once it is back.
      this.activity(now_ms);
      return null;
    }
    const byKey = new Map(stats.partitions.map((p) => [tpKey(p), p]));
    const pending = new Map<string, { reason: 'unfetched' | 'waiting'; tp: TopicPartition; waiting: number }>();
    for (const tp of assigned) {
      if (paused(tp)) continue;
      const p = byKey.get(tpKey(tp));
      if (!p?.fetching) pending.set(`u:${tpKey(tp)}`, { reason: 'unfetched', tp, waiting: p?.waiting ?? 0 });
      else if (p.waiting > 0) pending.set(`w:${tpKey(tp)}`, { reason: 'waiting', tp, waiting: p.waiting });
    }
    for (const k of [...this.pending_since.keys()]) if (!pending.has(k)) this.pending_since.delete(k);
    const due: Array<{ reason: 'unfetched' | 'waiting'; tp: TopicPartition; waiting: number }> = [];
    for (const [k, p] of pending) {
      const since = this.pending_since.get(k) ?? now_ms;
      this.pending_since.set(k, since);
      if (now_ms - since >= this.stall_ms) due.push(p);
    }
    const idle_ms = now_ms - this.last_activity_ms;
    if (idle_ms < this.stall_ms) return null;
    if (now_ms - stats.updated_ms >= this.stall_ms) return { reason: 'silent', idle_ms, partitions: [] };
    if (due.length === 0) return null;
    const reason = due.some((d) => d.reason === 'unfetched') ? 'unfetched' : 'waiting';
    return {
      reason,
      idle_ms,
      partitions: due.filter((d) => d.reason === reason).map((d) => ({ topic: d.tp.topic, partition: d.tp.partition, waiting: d.waiting })),
    };
  }
}

/** The partition whose current attempt has run for `hang_ms` or longer (the oldest one), or null. */
export function hungAttempt(
  attempts: Array<{ tp: TopicPartition; started_ms: number | null }>,
  now_ms: number,
  hang_ms: number,
): { tp: TopicPartition; running_ms: number } | null {
  let oldest: { tp: TopicPartition; running_ms: number } | null = null;
  for (const a of attempts) {
    if (a.started_ms === null) continue;
    const running_ms = now_ms - a.started_ms;
    if (running_ms >= hang_ms && (!oldest || running_ms > oldest.running_ms)) oldest = { tp: a.tp, running_ms };
  }
  return oldest;
}
