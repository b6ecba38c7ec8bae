/**
 * Reads audit.v1 with a fresh consumer group from the point in time the check needs up
 * to the high watermark each partition had when the read started, handing each record to
 * `onRecord` (the conservation check folds them in bounded memory). The group seeks each
 * partition to its start offset (no committed offsets are needed) and is deleted afterwards. Reads are read_committed: audit records of aborted stage transactions do
 * not count.
 *
 * Start point: the first offsets at or after `from_ms` (Kafka's time index), which is the
 * beginning of the topic for any window that starts before the oldest record; every
 * record relevant to events that entered at or after `from_ms` is at or after it, since
 * an event's own records share one partition (key provider:event_id) and follow its entry.
 */
import type { Kafka } from 'kafkajs';
import { type AuditRecord, type AvroCodec, type Logger, topicName } from '@tidemark/common';

export class AuditReadError extends Error {
  override readonly name = 'AuditReadError';
}

export interface AuditReadResult {
  records: number;
  undecodable: number;
  partitions: number;
  /** Timestamp of the newest audit record read (the trail's as-of), ISO or null. */
  as_of: string | null;
}

export async function readAuditTrail(opts: {
  kafka: Kafka;
  codec: AvroCodec;
  prefix: string;
  from_ms: number;
  run_id: string;
  timeout_ms: number;
  logger: Logger;
  onRecord: (record: AuditRecord) => void;
}): Promise<AuditReadResult> {
  const topic = topicName('audit.v1', opts.prefix);
  // `<prefix>reconciler-…`: the reconciler principal may use (and delete) groups under that prefix (acls.ts).
  const groupId = `${topicName('reconciler', opts.prefix)}-audit-${opts.run_id}`;
  const admin = opts.kafka.admin();
  await admin.connect();
  const result: AuditReadResult = { records: 0, undecodable: 0, partitions: 0, as_of: null };
  let newest_ms = -1;
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) throw new AuditReadError(`topic ${topic} does not exist; run \`npx tidemark topics apply\` first`);
    const high = await admin.fetchTopicOffsets(topic);
    const start = await admin.fetchTopicOffsetsByTimestamp(topic, opts.from_ms);
    result.partitions = high.length;
    /** Next offset still to read, per partition, and the end (exclusive) to reach. */
    const next = new Map<number, bigint>();
    const end = new Map<number, bigint>();
    for (const h of high) {
      const s = start.find((x) => x.partition === h.partition);
      const from = BigInt(s?.offset ?? h.low);
      const low = BigInt(h.low);
      next.set(h.partition, from < low ? low : from);
      end.set(h.partition, BigInt(h.high));
    }
    const pending = () => [...end.entries()].filter(([p, e]) => (next.get(p) ?? 0n) < e).map(([p]) => p);
    if (pending().length === 0) return result;

    /** First offset to read per partition (records before it, fetched before the seek lands, are skipped). */
    const first = new Map(next);
    // Short fetch waits: partitions already read to their end must not hold up the others.
    const consumer = opts.kafka.consumer({
      groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxWaitTimeInMs: 250,
    });
    let failure: unknown = null;
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const { partition, lastOffset } = e.payload as { partition: number; lastOffset: string };
      const after = BigInt(lastOffset) + 1n;
      if (after > (next.get(partition) ?? 0n)) next.set(partition, after);
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch, heartbeat }) => {
          const stop = end.get(batch.partition) ?? 0n;
          const from = first.get(batch.partition) ?? 0n;
          for (const message of batch.messages) {
            const offset = BigInt(message.offset);
            if (offset >= stop) break;
            if (offset < from) continue;
            if (!message.value) continue;
            try {
              const record = await opts.codec.decode<AuditRecord>(message.value);
              result.records += 1;
              if (record.at_ms > newest_ms) newest_ms = record.at_ms;
              opts.onRecord(record);
            } catch (err) {
              if ((err as Error).name === 'ConservationCapacityError') {
                failure = err;
                throw err;
              }
              result.undecodable += 1;
            }
          }
          await heartbeat();
        },
      });
      // A fresh group starts at the beginning; move each partition to where the check needs to start.
      for (const [partition, offset] of first) consumer.seek({ topic, partition, offset: offset.toString() });
      const deadline = Date.now() + opts.timeout_ms;
      while (pending().length > 0) {
        if (failure) throw failure;
        if (Date.now() > deadline) {
          throw new AuditReadError(
            `could not read ${topic} to its end within ${opts.timeout_ms} ms (partitions still behind: ${pending().join(', ')}); an open transaction or an unavailable broker may hold it back`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (failure) throw failure;
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await admin
        .deleteGroups([groupId])
        .catch((err: unknown) => opts.logger.warn({ err: (err as Error).message, groupId }, 'could not delete the audit reader group'));
    }
    result.as_of = newest_ms >= 0 ? new Date(newest_ms).toISOString() : null;
    return result;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
