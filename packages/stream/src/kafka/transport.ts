/**
 * Tidemark's own small Kafka interface. The runtime and the DLQ operations only see
 * these types; `confluent.ts` (librdkafka, the default) and `kafkajs.ts` implement them,
 * `select.ts` picks one (TIDEMARK_KAFKA_CLIENT).
 */

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface FetchedRecord {
  topic: string;
  partition: number;
  /** Decimal string (64-bit). */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp_ms: number;
}

export interface FetchedBatch {
  topic: string;
  partition: number;
  records: FetchedRecord[];
  /** Offset of the next record to be written to the partition (decimal string). */
  high_watermark: string;
}

export interface BatchControl {
  /** Marks everything up to and including `offset` as consumed by this member (fetch position). */
  markConsumed(offset: string): void;
  /** Keeps group membership alive during long work; throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping. */
  isRunning(): boolean;
}

export interface ConsumerOptions {
  group_id: string;
  topics: string[];
  /** Batches of different partitions processed at the same time. */
  partitions_concurrency: number;
  /** Longest a fetch waits for data on the broker; bounds the latency of resumed partitions. */
  fetch_wait_ms_max: number;
  /** Most records handed to one onBatch call. */
  batch_records_max: number;
  session_timeout_ms: number;
  onBatch(batch: FetchedBatch, control: BatchControl): Promise<void>;
  /** Called after every (re)join with this member's assignment. */
  onAssignment(assigned: TopicPartition[]): void;
  /** Called when the client gives up (it is restarted by the client when retriable). */
  onCrash(error: Error): void;
}

/** What a client holds for an assigned partition and has not handed to the application. */
export interface PartitionBacklog extends TopicPartition {
  /** Records fetched from the broker, waiting in the client's queue. */
  waiting: number;
  /** The client fetches the partition (false: it was never started, or was stopped). */
  fetching: boolean;
}

/** The client's latest statistics of its assigned partitions. */
export interface ConsumerStatistics {
  /** When the client last handed statistics over (or the consumer started, before the first). */
  updated_ms: number;
  partitions: PartitionBacklog[];
  /** Whether the client is connected to any broker (null: not known yet). */
  brokers_up: boolean | null;
}

export interface StreamConsumer {
  readonly group_id: string;
  run(): Promise<void>;
  pause(tp: TopicPartition): void;
  resume(tp: TopicPartition): void;
  /** Finishes in-flight batches, leaves the group and disconnects. */
  stop(): Promise<void>;
  /**
   * The group's committed offset of `tp` (absent: none). Stable: a transactional offset
   * commit still pending for the partition is waited for (KIP-447 `require_stable`), where
   * the client supports it.
   */
  committedOffset(tp: TopicPartition): Promise<bigint | null>;
  /**
   * The client's latest statistics (refreshed every few seconds), or null when the client keeps
   * none; the runtime's stall watch reads them (runtime/stall.ts).
   */
  statistics(): ConsumerStatistics | null;
}

export interface InputPosition extends TopicPartition {
  /** Last consumed offset + 1 (decimal string). */
  next_offset: string;
}

export interface OutgoingRecord {
  topic: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

export interface Transaction {
  send(records: OutgoingRecord[]): Promise<void>;
  /**
   * Adds the consumed positions of input partitions to the transaction and commits. With
   * group-metadata fencing the offsets are bound to `consumer`'s group generation (KIP-447):
   * a member that lost the partitions in a rebalance can no longer commit them.
   */
  commitWithOffsets(consumer: StreamConsumer, positions: InputPosition[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface TransactionalProducer {
  readonly transactional_id: string;
  /** Starts a transaction; the first call registers the transactional id (fencing any older holder). */
  begin(): Promise<Transaction>;
  close(): Promise<void>;
}

/**
 * How a client keeps a zombie instance (one that lost its partitions but does not know it
 * yet) from committing:
 * - `transactional-id-per-partition`: one transactional producer per input partition; the
 *   new owner registers the same id, which fences the old one (kafkajs has no KIP-447);
 * - `group-metadata`: KIP-447; one transactional producer per instance, offsets committed
 *   with the consumer's group generation, which the broker checks.
 */
export type Fencing = 'transactional-id-per-partition' | 'group-metadata';

export interface KafkaTransport {
  readonly client: 'confluent' | 'kafkajs';
  readonly fencing: Fencing;
  consumer(opts: ConsumerOptions): StreamConsumer;
  transactionalProducer(transactional_id: string): Promise<TransactionalProducer>;
  /** Committed offsets of `group_id` for `topic`, by partition (absent: none committed). */
  committedOffsets(group_id: string, topic: string): Promise<Map<number, bigint>>;
  /** Low and high watermarks by partition. */
  watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>>;
  deleteRecordsBefore(topic: string, partition: number, offset: bigint): Promise<void>;
  deleteGroup(group_id: string): Promise<void>;
  /**
   * Reads a topic's committed records from its start to its current end (bounded by
   * `records_max` and `timeout_ms`) without joining any service's consumer group.
   */
  readTopic(topic: string, opts: { records_max: number; timeout_ms: number }): Promise<{ records: FetchedRecord[]; complete: boolean }>;
  topicExists(topic: string): Promise<boolean>;
  close(): Promise<void>;
}
