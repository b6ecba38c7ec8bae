/**
 * Tidemark's own small Kafka interface. The runtime and the DLQ operations only see
 * these types; `kafkajs.ts` implements them. Swapping the client (FIELD-NOTES:
 * @platformatic/kafka, @confluentinc/kafka-javascript) means writing one new file.
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
  session_timeout_ms: number;
  onBatch(batch: FetchedBatch, control: BatchControl): Promise<void>;
  /** Called after every (re)join with this member's assignment. */
  onAssignment(assigned: TopicPartition[]): void;
  /** Called when the client gives up (it is restarted by the client when retriable). */
  onCrash(error: Error): void;
}

export interface StreamConsumer {
  run(): Promise<void>;
  pause(tp: TopicPartition): void;
  resume(tp: TopicPartition): void;
  /** Finishes in-flight batches, leaves the group and disconnects. */
  stop(): Promise<void>;
}

export interface OutgoingRecord {
  topic: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

export interface Transaction {
  send(records: OutgoingRecord[]): Promise<void>;
  /** Adds the consumed position (`next_offset` = last consumed + 1) of the input partition and commits. */
  commitWithOffsets(group_id: string, input: TopicPartition, next_offset: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface TransactionalProducer {
  readonly transactional_id: string;
  /** Starts a transaction; the first call registers the transactional id (fencing any older holder). */
  begin(): Promise<Transaction>;
  close(): Promise<void>;
}

export interface KafkaTransport {
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
