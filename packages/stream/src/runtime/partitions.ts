/**
 * Which input partitions this instance owns, and making that ownership safe: on every
 * (re)join the revoked partitions are dropped and the assigned ones owned eagerly; owning a
 * partition fences its previous owner (the committer: transactional id per partition, or the
 * group generation with KIP-447), bumps its Postgres epoch (fencing the previous owner's
 * parking writes), reads the group's committed offset and resolves completion marks a crash
 * left behind.
 */
import type { Logger } from '@tidemark/common';
import { errorMessage } from '../errors.js';
import type { StreamConsumer, TopicPartition } from '../kafka/transport.js';
import type { CompletionMark, ParkingStore } from '../parking/store.js';
import type { Committer } from './committer.js';
import type { StreamMetrics } from './metrics.js';
import { tpKey } from './records.js';

export interface PartitionState {
  tp: TopicPartition;
  rung: number | null;
  generation: number;
  epoch: bigint;
  committed_floor: bigint;
  resume_timer: NodeJS.Timeout | null;
  pending_deletes: CompletionMark[];
  /** In-progress ownership (assignment starts it eagerly; batches wait for it). */
  owning: Promise<void> | null;
  /**
   * A main partition whose keys are known to have no parked rows: its chunks skip the parking
   * read. Only this partition's owner parks its keys (a record of the main topic enters the
   * ladder from here; rungs only move or finish rows that exist), so the owner knows: it is
   * set when the group had no parked rows at ownership or at a later check (`recheckNothingParked`),
   * and cleared before any chunk of the partition writes a parked row.
   */
  nothing_parked: boolean;
  /** Chunks of this partition that wrote parked rows (a check that raced one is void). */
  park_writes: number;
  /** A chunk of this partition is being processed. */
  in_chunk: boolean;
  /** When the current attempt at this partition's next chunk began (ownership, chunk, commit); null between attempts. */
  attempt_started_ms: number | null;
}

export interface PartitionOwnershipOptions {
  rung_topics: string[];
  store: ParkingStore;
  instance_id: string;
  log: Logger;
  m: StreamMetrics;
  consumer(): StreamConsumer | null;
  committer(): Committer | null;
}

export class PartitionOwnership {
  /** Bumped on every (re)join; a partition owned in an older generation is owned afresh. */
  generation = 0;
  /** True once the member joined its group. */
  joined = false;
  private readonly states = new Map<string, PartitionState>();

  constructor(private readonly o: PartitionOwnershipOptions) {}

  all(): PartitionState[] {
    return [...this.states.values()];
  }

  /** The partition's state if this member has it (unlike `state`, creates none). */
  peek(tp: TopicPartition): PartitionState | undefined {
    return this.states.get(tpKey(tp));
  }

  clear(): void {
    this.states.clear();
  }

  /** A (re)join: drops revoked partitions, starts owning the assigned ones at once (batches wait for it). */
  assign(assigned: TopicPartition[]): void {
    this.generation++;
    this.joined = true;
    const keep = new Set(assigned.map(tpKey));
    for (const [k, st] of this.states) {
      if (keep.has(k)) continue;
      if (st.resume_timer) {
        clearTimeout(st.resume_timer);
        this.o.consumer()?.resume(st.tp);
      }
      this.states.delete(k);
      this.o.committer()?.release(st.tp);
      this.o.m.lag.remove({ topic: st.tp.topic, partition: String(st.tp.partition) });
    }
    this.o.log.info({ generation: this.generation, assigned: assigned.map(tpKey) }, 'partitions assigned');
    // Own the new assignment right away so the first records do not pay for it (batches wait for it).
    for (const tp of assigned) {
      const st = this.state(tp);
      void this.ensureOwned(st).catch((err: unknown) =>
        this.o.log.warn({ tp: tpKey(tp), err: errorMessage(err) }, 'owning partition failed; retried on its next batch'),
      );
    }
  }

  state(tp: TopicPartition): PartitionState {
    const k = tpKey(tp);
    let st = this.states.get(k);
    if (!st) {
      const rungIndex = this.o.rung_topics.indexOf(tp.topic);
      st = {
        tp,
        rung: rungIndex >= 0 ? rungIndex + 1 : null,
        generation: -1,
        epoch: 0n,
        committed_floor: 0n,
        resume_timer: null,
        pending_deletes: [],
        owning: null,
        nothing_parked: false,
        park_writes: 0,
        in_chunk: false,
        attempt_started_ms: null,
      };
      this.states.set(k, st);
    }
    return st;
  }

  /**
   * Makes this instance the fenced owner of the partition for the current generation:
   * registers the partition's transactional id (aborting/completing a previous
   * owner's transaction), bumps the Postgres epoch, reads the committed offset (now
   * stable) and resolves completion marks left by a crash.
   */
  async ensureOwned(st: PartitionState): Promise<void> {
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
    const consumer = this.o.consumer();
    const committer = this.o.committer();
    if (!consumer || !committer) throw new Error('stream runtime not started');
    await committer.own(st.tp);
    st.epoch = await this.o.store.claimPartition(st.tp, this.o.instance_id);
    const committed = await consumer.committedOffset(st.tp);
    const resolved = await this.o.store.resolveMarks(st.tp, committed);
    // After the epoch bump: a previous owner can no longer park a key of this partition.
    st.nothing_parked = st.rung === null && (await this.o.store.parkedKeyCount()) === 0;
    st.pending_deletes = [];
    st.committed_floor = committed ?? 0n;
    st.generation = generation;
    this.o.log.info(
      { tp: tpKey(st.tp), epoch: st.epoch.toString(), committed: committed?.toString() ?? null, ...resolved },
      'partition owned',
    );
  }

  /**
   * Main partitions with parked rows before: nothing parked any more when the group has no
   * parked rows at all, unless a chunk of the partition ran or parked while the count was read,
   * or the member rejoined meanwhile (ownership computes it afresh).
   */
  async recheckNothingParked(): Promise<void> {
    const generation = this.generation;
    const candidates = this.all()
      .filter((st) => st.rung === null && !st.nothing_parked && !st.in_chunk && !st.owning && st.generation === generation)
      .map((st) => ({ st, park_writes: st.park_writes }));
    if (candidates.length === 0) return;
    if ((await this.o.store.parkedKeyCount()) !== 0 || this.generation !== generation) return;
    for (const { st, park_writes } of candidates) {
      if (!st.in_chunk && st.park_writes === park_writes && st.generation === generation) st.nothing_parked = true;
    }
  }

  async flushPendingDeletes(st: PartitionState): Promise<void> {
    while (st.pending_deletes.length > 0) {
      await this.o.store.deleteCompleted(st.pending_deletes[0]!);
      st.pending_deletes.shift();
    }
  }
}
