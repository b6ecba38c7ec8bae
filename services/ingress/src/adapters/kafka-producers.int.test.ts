/**
 * The kafkajs lane on the real broker: a failed send replaces the producer (a new producer id)
 * and the next send goes through it and is acknowledged.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { baseConfigSchema, createKafka, createLogger, kafkaConnection, loadConfig } from '@tidemark/common';
import { KafkajsLane } from './kafka-producers.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
// The broker's address and client security from the environment (SASL_SSL as the admin on the local broker).
const config = loadConfig(baseConfigSchema);
const TOPIC = `lane${randomUUID().slice(0, 8)}.webhooks.received.v1`;

async function until(cond: () => boolean, timeout_ms: number): Promise<void> {
  const end = Date.now() + timeout_ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(SKIP)('ingress kafkajs lane', () => {
  const kafka = createKafka({ ...kafkaConnection(config), client_id: 'lane-test' });
  let admin: Admin;
  let lane: KafkajsLane;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    // Records over 2 KiB are refused by the broker (MESSAGE_TOO_LARGE): a send that fails for sure.
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }],
      waitForLeaders: true,
    });
    lane = new KafkajsLane(kafka, createLogger('lane-test', 'silent'));
    await until(() => lane.link.connected, 30_000);
  }, 60_000);

  afterAll(async () => {
    await lane?.stop();
    await admin?.deleteTopics({ topics: [TOPIC] }).catch(() => undefined);
    await admin?.disconnect();
  });

  it('replaces its producer after a failed send; the next send is acknowledged and stored once', async () => {
    const send = (value: string) =>
      lane.sendBatch({ topicMessages: [{ topic: TOPIC, messages: [{ key: 'w', value }] }], acks: -1, timeout: 5_000 });
    await expect(send('x'.repeat(8_192))).rejects.toThrow();
    expect(lane.replacements).toBe(1);
    await until(() => lane.link.connected, 30_000);
    await send('small');
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    // Only the acknowledged record is in the log (the refused one never was).
    expect(offsets.map((o) => [o.partition, o.high])).toEqual([[0, '1']]);
  }, 60_000);
});
