import { describe, expect, it } from 'vitest';
import { BatchWriter, WriteRejected, WriteTimeout, type BatchProducer } from './batch-writer.js';

/** A producer whose acks the test releases by hand (records what was sent, in order). */
class ManualProducer implements BatchProducer {
  readonly sent: Array<{ records: string[]; release: (error?: Error) => void }> = [];
  sendBatch(batch: Parameters<BatchProducer['sendBatch']>[0]): Promise<unknown> {
    expect(batch.acks).toBe(-1);
    return new Promise((resolve, reject) => {
      this.sent.push({
        records: batch.topicMessages.flatMap((t) => t.messages.map((m) => `${t.topic}:${String(m.value)}`)),
        release: (error) => (error ? reject(error) : resolve([])),
      });
    });
  }
}

const rec = (topic: string, value: string) => ({ topic, message: { key: 'k', value } });
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function writer(producers: BatchProducer[], over: Partial<ConstructorParameters<typeof BatchWriter>[0]> = {}) {
  return new BatchWriter({
    producers,
    linger_ms: 1,
    batch_records_max: 10,
    queue_records_max: 40,
    ack_timeout_ms: 200,
    detached_records_max: 5,
    ...over,
  });
}

describe('BatchWriter', () => {
  it('batches concurrent writes and resolves each only after its batch is acknowledged', async () => {
    const p = new ManualProducer();
    const w = writer([p]);
    const settled: string[] = [];
    const a = w.write([rec('events', 'a'), rec('audit', 'a')]).then(() => settled.push('a'));
    const b = w.write([rec('events', 'b'), rec('audit', 'b')]).then(() => settled.push('b'));
    await tick();
    expect(p.sent).toHaveLength(1);
    expect(p.sent[0]!.records.sort()).toEqual(['audit:a', 'audit:b', 'events:a', 'events:b']);
    // While the batch is in flight, the next write waits behind it (one in flight per producer).
    const c = w.write([rec('events', 'c')]).then(() => settled.push('c'));
    await tick();
    expect(p.sent).toHaveLength(1);
    expect(settled).toEqual([]);
    p.sent[0]!.release();
    await Promise.all([a, b]);
    await tick();
    expect(p.sent).toHaveLength(2);
    expect(settled.sort()).toEqual(['a', 'b']);
    p.sent[1]!.release();
    await c;
    expect(settled).toContain('c');
  });

  it('a write never splits across batches and batches respect batch_records_max', async () => {
    const p = new ManualProducer();
    const w = writer([p], { batch_records_max: 4 });
    const writes = [0, 1, 2, 3, 4].map((i) => w.write([rec('e', `${i}`), rec('a', `${i}`)]));
    for (let round = 0; round < 3; round++) {
      await tick();
      expect(p.sent[round]!.records.length).toBeLessThanOrEqual(4);
      p.sent[round]!.release();
    }
    await Promise.all(writes);
    expect(p.sent.flatMap((s) => s.records)).toHaveLength(10);
  });

  it('two producers keep two batches in flight', async () => {
    const p1 = new ManualProducer();
    const p2 = new ManualProducer();
    const w = writer([p1, p2]);
    const a = w.write([rec('e', 'a')]);
    await tick();
    const b = w.write([rec('e', 'b')]);
    await tick();
    expect(p1.sent.length + p2.sent.length).toBe(2);
    [...p1.sent, ...p2.sent].forEach((s) => s.release());
    await Promise.all([a, b]);
  });

  it('times out: a queued write is withdrawn (never sent); an in-flight one rejects', async () => {
    const p = new ManualProducer();
    const w = writer([p], { ack_timeout_ms: 50 });
    const first = w.write([rec('e', 'first')]);
    await tick();
    const queued = w.write([rec('e', 'queued')]);
    await expect(first).rejects.toBeInstanceOf(WriteTimeout);
    await expect(queued).rejects.toBeInstanceOf(WriteTimeout);
    p.sent[0]!.release();
    await tick(20);
    expect(p.sent.flatMap((s) => s.records)).toEqual(['e:first']);
  });

  it('a failed batch rejects its writes; a full queue rejects at once', async () => {
    const p = new ManualProducer();
    const w = writer([p], { queue_records_max: 10 });
    const a = w.write([rec('e', 'a')]);
    await tick();
    p.sent[0]!.release(new Error('broker gone'));
    await expect(a).rejects.toThrow(WriteRejected);
    const many = Array.from({ length: 10 }, (_, i) => w.write([rec('e', `${i}`)]));
    await expect(w.write([rec('e', 'overflow')])).rejects.toThrow(/queue full/);
    many.forEach((m) => m.catch(() => undefined));
  });

  it('detached records ride along, are bounded (oldest dropped), and are retried after a failure', async () => {
    const p = new ManualProducer();
    let dropped = 0;
    const w = writer([p], { detached_records_max: 3, on_detached_dropped: (n) => (dropped += n) });
    const a = w.write([rec('e', 'a')]);
    await tick();
    for (const v of ['1', '2', '3', '4', '5']) w.writeDetached(rec('audit', v));
    expect(dropped).toBe(2);
    p.sent[0]!.release();
    await a;
    await tick();
    expect(p.sent[1]!.records).toEqual(['audit:3', 'audit:4', 'audit:5']);
    p.sent[1]!.release(new Error('down'));
    await tick(300);
    expect(p.sent[2]!.records).toEqual(['audit:3', 'audit:4', 'audit:5']);
    p.sent[2]!.release();
    await tick();
  });

  it('close() sends what is queued, waits for it, then refuses writes', async () => {
    const p = new ManualProducer();
    const w = writer([p]);
    w.writeDetached(rec('audit', 'x'));
    const closing = w.close(1_000);
    await tick();
    p.sent[0]!.release();
    await closing;
    expect(p.sent[0]!.records).toEqual(['audit:x']);
    await expect(w.write([rec('e', 'late')])).rejects.toThrow(/closed/);
  });
});
