/**
 * Integration: the audit-trail reader against the real broker and registry — it starts at
 * the first records at or after the requested time, stops at the high watermark the
 * partitions had when it started (records written later are not read), and leaves no
 * consumer group behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditKey, buildAudit, createIdempotentProducer, createLogger, topicName, type AuditRecord } from '@tidemark/common';
import { readAuditTrail } from './audit-reader.js';
import { createTestTopics, type TestTopics } from '../testing/support.js';

describe.skipIf(process.env.TIDEMARK_SKIP_INTEGRATION === '1')('readAuditTrail', () => {
  let topics: TestTopics;
  const now = Date.now();

  async function write(records: Array<{ event_id: string; at_ms: number }>): Promise<void> {
    const producer = createIdempotentProducer(topics.kafka);
    await producer.connect();
    const messages = [];
    for (const r of records) {
      const rec = buildAudit({
        stage: 'ingress',
        action: 'accepted',
        provider: 'generic',
        event_id: r.event_id,
        at_ms: r.at_ms,
        trace_id: null,
      });
      messages.push({ key: auditKey(rec), value: await topics.codec.encode('audit.v1', rec), timestamp: String(r.at_ms) });
    }
    await producer.send({ topic: topicName('audit.v1', topics.prefix), acks: -1, messages });
    await producer.disconnect();
  }

  beforeAll(async () => {
    topics = await createTestTopics('audit');
    const old = Array.from({ length: 30 }, (_, i) => ({ event_id: `old_${i}`, at_ms: now - 2 * 3600_000 + i }));
    const recent = Array.from({ length: 40 }, (_, i) => ({ event_id: `new_${i}`, at_ms: now - 60_000 + i }));
    await write([...old, ...recent]);
  }, 120_000);

  afterAll(async () => {
    await topics?.cleanup();
  });

  it('reads from the requested time to the watermark at start, then removes its group', async () => {
    const seen: AuditRecord[] = [];
    let late: Promise<void> | null = null;
    const result = await readAuditTrail({
      kafka: topics.kafka,
      codec: topics.codec,
      prefix: topics.prefix,
      from_ms: now - 3600_000,
      run_id: `t${now}`,
      timeout_ms: 60_000,
      logger: createLogger('audit-reader-test', 'silent'),
      onRecord: (r) => {
        seen.push(r);
        // Written while the read is under way: beyond the starting watermark, so not read.
        late ??= write([{ event_id: 'late', at_ms: Date.now() }]);
      },
    });
    expect(seen.map((r) => r.event_id).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `new_${i}`).sort());
    expect(result.records).toBe(40);
    expect(result.as_of).toBe(new Date(now - 60_000 + 39).toISOString());
    const groups = await topics.admin.listGroups();
    expect(groups.groups.map((g) => g.groupId)).not.toContain(`${topics.prefix}reconciler-audit-t${now}`);

    // The full read below counts the late record: it must have landed first (its write was not awaited during the read).
    await late;
    const all: AuditRecord[] = [];
    await readAuditTrail({
      kafka: topics.kafka,
      codec: topics.codec,
      prefix: topics.prefix,
      from_ms: 0,
      run_id: `u${now}`,
      timeout_ms: 60_000,
      logger: createLogger('t', 'silent'),
      onRecord: (r) => all.push(r),
    });
    expect(all.length).toBe(71);
  });
});
