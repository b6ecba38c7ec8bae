/**
 * The coordinator cache on the real broker: transactions with offsets look the
 * coordinators up once, not before every request, and still commit; a coordinator
 * failure makes the next step look them up again.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfigSchema, loadConfig, kafkaConnection } from './config.js';
import { createIdempotentProducer, createKafka } from './kafka.js';
import { invalidatesCoordinator } from './kafkajs-patches.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const TRANSACTIONS = 20;

describe.skipIf(SKIP)('kafkajs coordinator cache (real broker)', () => {
  const config = loadConfig(baseConfigSchema);
  const kafka = createKafka({ ...kafkaConnection(config), client_id: 'coordinator-cache-test' });
  const topic = `coordcache-${randomUUID().slice(0, 8)}`;
  const group = `${topic}-group`;
  let admin: Admin;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.deleteGroups([group]).catch(() => undefined);
    await admin.disconnect();
  });

  async function transactions(producer: Producer, from: number, count: number): Promise<void> {
    for (let i = from; i < from + count; i++) {
      const txn = await producer.transaction();
      await txn.send({ topic, acks: -1, messages: [{ key: 'k', value: `v${i}` }] });
      await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: String(i + 1) }] }] });
      await txn.commit();
    }
  }

  it('looks coordinators up once for many transactions, and again after a coordinator failure', async () => {
    const producer = createIdempotentProducer(kafka, { transactional_id: `${topic}-txn` });
    const requests: string[] = [];
    producer.on(producer.events.REQUEST, (e) => requests.push(e.payload.apiName));
    await producer.connect();
    try {
      await transactions(producer, 0, TRANSACTIONS);
      const count = (api: string) => requests.filter((r) => r === api).length;
      expect(count('EndTxn')).toBe(TRANSACTIONS);
      expect(count('TxnOffsetCommit')).toBe(TRANSACTIONS);
      // Uncached, kafkajs sends one before each of AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn (80 here).
      const lookups = count('GroupCoordinator');
      expect(lookups).toBeLessThanOrEqual(3);

      // A coordinator request failing makes every cached coordinator stale. Here: a zombie
      // (another producer with an id that a newer producer has fenced) fails its next transaction;
      // this producer's next transaction then looks the coordinators up again.
      const zombie = createIdempotentProducer(kafka, { transactional_id: `${topic}-zombie` });
      await zombie.connect();
      await (await zombie.transaction()).abort(); // kafkajs registers the transactional id on the first transaction
      const successor = createIdempotentProducer(kafka, { transactional_id: `${topic}-zombie` });
      await successor.connect();
      await (await successor.transaction()).abort(); // bumps the epoch: the first producer is now fenced
      const fenced = await zombie.transaction();
      const outcome = await fenced
        .send({ topic, acks: -1, messages: [{ key: 'z', value: 'zombie' }] })
        .then(() => fenced.commit())
        .then(
          () => 'committed',
          (err: Error) => err.name,
        );
      expect(outcome).not.toBe('committed');
      await zombie.disconnect().catch(() => undefined);
      await successor.disconnect();
      await transactions(producer, TRANSACTIONS, 1);
      expect(count('GroupCoordinator')).toBeGreaterThan(lookups);
    } finally {
      await producer.disconnect();
    }
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    expect(offsets[0]?.partitions[0]?.offset).toBe(String(TRANSACTIONS + 1));
  });

  it('keeps the cache across CONCURRENT_TRANSACTIONS retries and drops it on any other failure', () => {
    expect(invalidatesCoordinator({ type: 'CONCURRENT_TRANSACTIONS' })).toBe(false);
    expect(invalidatesCoordinator({ type: 'NOT_COORDINATOR_FOR_GROUP' })).toBe(true);
    expect(invalidatesCoordinator({ type: 'GROUP_COORDINATOR_NOT_AVAILABLE' })).toBe(true);
    expect(invalidatesCoordinator(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(invalidatesCoordinator(null)).toBe(true);
  });
});
