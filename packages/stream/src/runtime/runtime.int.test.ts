/**
 * The runtime on real Kafka + registry + Postgres: ordered retries with parking,
 * other keys' latency, poison records, ladder exhaustion, DLQ replay, restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createMetrics, initTelemetry, type AuditRecord, type CanonicalEvent } from '@tidemark/common';
import { InfrastructureError, PermanentError, TransientError, type Handler, type InputRecord } from '../handler.js';
import { runConsumer, type RunConsumerOptions, type RunningConsumer } from './consumer.js';
import { createTestEnv, SKIP_INTEGRATION, testEvent, type TestEnv } from '../testing/env.js';
import { listDeadLetters, replayDeadLetters, showDeadLetter } from '../dlq/ops.js';
import { ParkingStore } from '../parking/store.js';
import type { Stall } from './stall.js';
import type { ConsumerStatistics, PartitionBacklog } from '../kafka/transport.js';

const SERVICE = 'streamtest';
const DELAYS_MS = [1000, 1500, 2000];

interface Applied {
  event_id: string;
  wallet: string;
  at_ms: number;
  attempt: number;
}

class TestHandler implements Handler<CanonicalEvent> {
  readonly service = SERVICE;
  readonly input_topic = 'webhooks.received.v1';
  readonly applied: Applied[] = [];
  /** event id → remaining transient failures (Infinity: always). */
  readonly failTransient = new Map<string, number>();
  readonly failPermanentOnce = new Set<string>();
  readonly attempts = new Map<string, number>();
  /** Calls left that fail as if the database were down (every key). */
  infraFailuresLeft = 0;
  /** event id → a promise its handling waits for (a call that does not answer). */
  readonly hangOn = new Map<string, Promise<void>>();

  async handle(r: InputRecord<CanonicalEvent>) {
    const id = r.value.event_id;
    this.attempts.set(id, (this.attempts.get(id) ?? 0) + 1);
    await this.hangOn.get(id);
    if (this.infraFailuresLeft > 0) {
      this.infraFailuresLeft--;
      throw new InfrastructureError('postgres unreachable', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      });
    }
    const left = this.failTransient.get(id) ?? 0;
    if (left > 0) {
      this.failTransient.set(id, left - 1);
      throw new TransientError(`risk api unavailable for ${id}`);
    }
    if (this.failPermanentOnce.delete(id)) throw new PermanentError(`invalid content in ${id}`);
    this.applied.push({ event_id: id, wallet: r.key, at_ms: Date.now(), attempt: r.attempt });
    return { outputs: [{ topic: 'events.unique.v1', key: r.key, value: r.value }], audit: [{ action: 'passed' }] };
  }
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeout_ms: number, what: string): Promise<void> {
  const until = Date.now() + timeout_ms;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}`);
}

describe.skipIf(SKIP_INTEGRATION)('stream runtime on Kafka + Postgres', () => {
  let env: TestEnv;
  let handler: TestHandler;
  let running: RunningConsumer | null = null;
  const logger = createLogger('streamtest', process.env.TEST_LOG_LEVEL ?? 'warn');

  /** The suite's runtime settings, and what a test changes. */
  const options = (more: Partial<RunConsumerOptions<CanonicalEvent>> = {}): RunConsumerOptions<CanonicalEvent> => ({
    handler,
    logger,
    metrics: createMetrics(SERVICE),
    config: env.env,
    pool: env.pool,
    codec: env.codec,
    retry_delays_ms: DELAYS_MS,
    session_timeout_ms: 10_000,
    ...more,
  });

  const start = async () => {
    running = await runConsumer(options({ batch_size_max: 200 }));
    await waitFor(() => running!.isReady(), 30_000, 'group join');
  };

  beforeAll(async () => {
    initTelemetry(SERVICE); // spans are created (not exported) and traceparent propagates
    env = await createTestEnv({
      topics: ['webhooks.received.v1', 'events.unique.v1', 'audit.v1'],
      consumers: [
        { service: SERVICE, input: 'webhooks.received.v1', retry_delays_ms: DELAYS_MS, retry_partitions: 3, dlq_retention_ms: 86_400_000 },
      ],
    });
    handler = new TestHandler();
    await start();
  }, 90_000);

  afterAll(async () => {
    await running?.stop();
    await env?.cleanup();
  }, 60_000);

  it('keeps wallet W in order through retries while other wallets flow at full speed', async () => {
    const W = 'wal_W';
    const others = Array.from({ length: 8 }, (_, i) => `wal_o${i}`);
    const sentAt = new Map<string, number>();
    // W's first event fails twice (rung 1 then rung 2), its third fails once more when it is processed.
    handler.failTransient.set('W-0', 2);
    handler.failTransient.set('W-2', 1);
    const rounds = 30;
    for (let i = 0; i < rounds; i++) {
      const batch = [
        ...(i < 6 ? [{ key: W, value: testEvent({ event_id: `W-${i}`, wallet_id: W, seq: i }) }] : []),
        ...others.map((o) => ({ key: o, value: testEvent({ event_id: `${o}-${i}`, wallet_id: o, seq: i }) })),
      ];
      const t = Date.now();
      for (const b of batch) sentAt.set(b.value.event_id, t);
      await env.produceEvents('webhooks.received.v1', batch);
      await new Promise((r) => setTimeout(r, 40));
    }
    const total = rounds * others.length + 6;
    await waitFor(() => handler.applied.length >= total, 60_000, 'all events applied');

    const wOrder = handler.applied.filter((a) => a.wallet === W).map((a) => a.event_id);
    expect(wOrder).toEqual(['W-0', 'W-1', 'W-2', 'W-3', 'W-4', 'W-5']);
    const wDone = handler.applied.find((a) => a.event_id === 'W-0')!;
    expect(wDone.attempt).toBe(3);
    expect(wDone.at_ms - sentAt.get('W-0')!).toBeGreaterThanOrEqual(DELAYS_MS[0]! + DELAYS_MS[1]!);

    const latencies = handler.applied.filter((a) => a.wallet !== W).map((a) => a.at_ms - sentAt.get(a.event_id)!);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const wLatency = handler.applied.filter((a) => a.wallet === W).map((a) => a.at_ms - sentAt.get(a.event_id)!);
    console.log(
      `[latency] other wallets (n=${latencies.length}): p50=${p50} ms p99=${p99} ms max=${Math.max(...latencies)} ms; wallet W: ${wLatency.join(', ')} ms`,
    );
    // Other wallets never wait behind W's retries: everything they sent in the first ten rounds
    // (while W-0 sat in the ladder, which takes at least two rung delays) is applied before W-0.
    // An order check, not a timing bound: the latencies above are printed, not asserted.
    const wDoneIndex = handler.applied.findIndex((a) => a.event_id === 'W-0');
    const early = others.flatMap((o) => Array.from({ length: 10 }, (_, i) => `${o}-${i}`));
    const appliedBeforeW = new Set(handler.applied.slice(0, wDoneIndex).map((a) => a.event_id));
    expect(early.filter((id) => !appliedBeforeW.has(id))).toEqual([]);

    // Output: every event exactly once; W's in order.
    let ids: string[] = [];
    await waitFor(
      async () => {
        const out = await env.readAll('events.unique.v1');
        ids = await Promise.all(out.map(async (r) => (await env.codec.decode<CanonicalEvent>(r.value!)).event_id));
        return ids.length >= total;
      },
      20_000,
      'outputs committed',
    );
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
    expect(ids.filter((id) => id.startsWith('W-'))).toEqual(['W-0', 'W-1', 'W-2', 'W-3', 'W-4', 'W-5']);
    // Parking released.
    await waitFor(async () => (await new ParkingStore(env.pool, running!.group_id).parkedKeyCount()) === 0, 10_000, 'parking released');
  }, 120_000);

  it('sends a poison record to the DLQ without stalling its partition', async () => {
    const P = 'wal_P';
    const t0 = Date.now();
    await env.produce('webhooks.received.v1', [{ key: P, value: Buffer.from('not avro at all') }]);
    await env.produceEvents('webhooks.received.v1', [
      { key: P, value: testEvent({ event_id: 'P-1', wallet_id: P }) },
      { key: P, value: testEvent({ event_id: 'P-2', wallet_id: P }) },
    ]);
    await waitFor(() => handler.applied.some((a) => a.event_id === 'P-2'), 15_000, 'records after the poison one');
    const after = handler.applied.find((a) => a.event_id === 'P-1')!;
    // Not stalled: the next record of the same key went straight through, not through the ladder.
    expect(after.attempt).toBe(1);
    console.log(`[latency] record after the poison one applied ${after.at_ms - t0} ms after it was produced`);
    let entries: Awaited<ReturnType<typeof listDeadLetters>>['entries'] = [];
    await waitFor(
      async () => (entries = (await listDeadLetters(ctx(), { service: SERVICE, key: P })).entries).length >= 1,
      15_000,
      'dead letter committed',
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]!.error_class).toBe('POISON');
    expect(entries[0]!.attempts).toBe(1);
    expect(entries[0]!.original_topic).toBe(env.topic('webhooks.received.v1'));
    expect(Buffer.from(entries[0]!.payload_base64, 'base64').toString()).toBe('not avro at all');
  }, 60_000);

  it('dead-letters after the last rung, keeps the key in order, and replays idempotently', async () => {
    const Z = 'wal_Z';
    handler.failTransient.set('Z-0', Infinity);
    handler.failPermanentOnce.add('Z-2');
    await env.produceEvents(
      'webhooks.received.v1',
      [0, 1, 2, 3].map((i) => ({ key: Z, value: testEvent({ event_id: `Z-${i}`, wallet_id: Z }) })),
    );
    await waitFor(() => handler.applied.some((a) => a.event_id === 'Z-3'), 30_000, 'Z-3 after Z-0 was dead-lettered');
    expect(handler.applied.filter((a) => a.wallet === Z).map((a) => a.event_id)).toEqual(['Z-1', 'Z-3']);
    expect(handler.attempts.get('Z-0')).toBe(DELAYS_MS.length + 1);

    let entries: Awaited<ReturnType<typeof listDeadLetters>>['entries'] = [];
    await waitFor(
      async () => (entries = (await listDeadLetters(ctx(), { service: SERVICE, key: Z })).entries).length >= 2,
      15_000,
      'dead letters committed',
    );
    expect(entries.map((e) => [e.error_class, e.attempts])).toEqual([
      ['TRANSIENT', DELAYS_MS.length + 1],
      ['PERMANENT', 1],
    ]);
    const z0 = entries[0]!;
    expect(z0.error_message).toContain('risk api unavailable');
    expect(z0.error_stack).toContain('TransientError');
    expect((z0.value as CanonicalEvent).event_id).toBe('Z-0');
    expect(await showDeadLetter(ctx(), z0.ref)).toMatchObject({ id: z0.id, state: 'open' });

    // Replay Z-2 (the handler accepts it now): it takes the normal path again.
    const z2 = entries[1]!;
    const first = await replayDeadLetters(ctx(), { refs: [z2.ref], actor: 'test-operator' });
    expect(first.replayed).toHaveLength(1);
    const second = await replayDeadLetters(ctx(), { refs: [z2.ref], actor: 'test-operator' });
    expect(second.replayed).toHaveLength(0);
    expect(second.skipped[0]!.reason).toBe('already replayed');
    await waitFor(() => handler.applied.some((a) => a.event_id === 'Z-2'), 15_000, 'replayed Z-2');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(handler.applied.filter((a) => a.event_id === 'Z-2')).toHaveLength(1);
    const open = await listDeadLetters(ctx(), { service: SERVICE, key: Z });
    expect(open.entries.map((e) => e.id)).toEqual([z0.id]);
    const all = await listDeadLetters(ctx(), { service: SERVICE, key: Z, include_resolved: true, error_contains: 'invalid content' });
    expect(all.entries.map((e) => [e.id, e.state])).toEqual([[z2.id, 'replayed']]);
  }, 90_000);

  it('keeps parking across a restart', async () => {
    const R = 'wal_R';
    handler.failTransient.set('R-0', 1);
    await env.produceEvents(
      'webhooks.received.v1',
      [0, 1, 2].map((i) => ({ key: R, value: testEvent({ event_id: `R-${i}`, wallet_id: R }) })),
    );
    await waitFor(() => (handler.attempts.get('R-0') ?? 0) >= 1, 10_000, 'R-0 first attempt');
    await running!.stop();
    running = null;
    await start();
    await waitFor(() => handler.applied.some((a) => a.event_id === 'R-2'), 30_000, 'R after restart');
    expect(handler.applied.filter((a) => a.wallet === R).map((a) => a.event_id)).toEqual(['R-0', 'R-1', 'R-2']);
  }, 90_000);

  it('blocks in place on infrastructure failures: no ladder, no DLQ, order kept', async () => {
    const I = 'wal_I';
    handler.infraFailuresLeft = 4;
    await env.produceEvents(
      'webhooks.received.v1',
      [0, 1, 2].map((i) => ({ key: I, value: testEvent({ event_id: `I-${i}`, wallet_id: I }) })),
    );
    await waitFor(() => handler.applied.some((a) => a.event_id === 'I-2'), 30_000, 'records after the outage');
    const applied = handler.applied.filter((a) => a.wallet === I);
    expect(applied.map((a) => [a.event_id, a.attempt])).toEqual([
      ['I-0', 1],
      ['I-1', 1],
      ['I-2', 1],
    ]); // never laddered
    expect(handler.infraFailuresLeft).toBe(0);
    const audits = await Promise.all((await env.readAll('audit.v1')).map((r) => env.codec.decode<AuditRecord>(r.value!)));
    expect(audits.filter((a) => a.key === I && a.action !== 'passed')).toEqual([]);
  }, 60_000);

  it('continues the trace from the record headers into outputs and audit', async () => {
    const trace_id = '4bf92f3577b34da6a3ce929d0e0e4736';
    await env.produceEvents('webhooks.received.v1', [
      {
        key: 'wal_T',
        value: testEvent({ event_id: 'T-1', wallet_id: 'wal_T' }),
        headers: { traceparent: `00-${trace_id}-00f067aa0ba902b7-01` },
      },
    ]);
    await waitFor(() => handler.applied.some((a) => a.event_id === 'T-1'), 15_000, 'traced event');
    let out: Awaited<ReturnType<TestEnv['readAll']>> = [];
    await waitFor(
      async () => {
        out = [];
        for (const r of await env.readAll('events.unique.v1'))
          if ((await env.codec.decode<CanonicalEvent>(r.value!)).event_id === 'T-1') out.push(r);
        return out.length === 1;
      },
      15_000,
      'traced output',
    );
    const traceparent = out[0]!.headers.traceparent ?? '';
    expect(traceparent.split('-')[1]).toBe(trace_id);
    expect(traceparent.split('-')[2]).not.toBe('00f067aa0ba902b7'); // a child span: the handling
    const audits = await Promise.all((await env.readAll('audit.v1')).map((r) => env.codec.decode<AuditRecord>(r.value!)));
    const passed = audits.find((a) => a.event_id === 'T-1' && a.action === 'passed');
    expect(passed?.trace_id).toBe(trace_id);
  }, 60_000);

  it('replaces a stalled consumer and carries on from the committed offsets: every event once, keys in order', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `wal_s${i}`);
    const rounds = 30;
    const runtime = running as unknown as {
      replaceConsumer(stall: Stall): Promise<void>;
      consumer: { statistics(): ConsumerStatistics | null } | null;
    };
    let replaced: Promise<void> | null = null;
    for (let i = 0; i < rounds; i++) {
      await env.produceEvents(
        'webhooks.received.v1',
        keys.map((k) => ({ key: k, value: testEvent({ event_id: `${k}-${i}`, wallet_id: k, seq: i }) })),
      );
      // Halfway, as the stall watch does on a stalled consumer (the stall itself cannot be forced).
      if (i === rounds / 2) replaced = runtime.replaceConsumer({ reason: 'silent', idle_ms: 60_000, partitions: [] });
      await new Promise((r) => setTimeout(r, 30));
    }
    await replaced;
    expect(running!.isReady()).toBe(true);
    const mine = () => handler.applied.filter((a) => keys.includes(a.wallet));
    await waitFor(() => mine().length >= rounds * keys.length, 60_000, 'every event after the replacement');
    await new Promise((r) => setTimeout(r, 1_000)); // anything applied twice would show by now
    expect(mine()).toHaveLength(rounds * keys.length);
    for (const k of keys)
      expect(
        mine()
          .filter((a) => a.wallet === k)
          .map((a) => a.event_id),
      ).toEqual(Array.from({ length: rounds }, (_, i) => `${k}-${i}`));
    // The outputs too: one each, exactly once through the replacement.
    const outputs = await Promise.all((await env.readAll('events.unique.v1')).map((r) => env.codec.decode<CanonicalEvent>(r.value!)));
    const ids = outputs.filter((o) => keys.includes(o.wallet_id ?? '')).map((o) => o.event_id);
    expect(ids).toHaveLength(rounds * keys.length);
    expect(new Set(ids).size).toBe(rounds * keys.length);
    // The watch's input, from the real client's statistics: every assigned input partition, caught up.
    if (env.transport.client === 'kafkajs') {
      expect(runtime.consumer?.statistics()).toBeNull(); // no statistics, and no stall of this kind
      return;
    }
    const input = `${env.prefix}webhooks.received.v1`;
    let backlog: PartitionBacklog[] = [];
    await waitFor(
      () => {
        backlog = (runtime.consumer?.statistics()?.partitions ?? []).filter((b) => b.topic === input);
        return backlog.length > 0;
      },
      15_000,
      'librdkafka statistics of the input partitions',
    );
    expect(backlog.every((b) => b.waiting === 0)).toBe(true);
    expect(runtime.consumer?.statistics()?.brokers_up).toBe(true);
    expect(backlog.filter((b) => b.fetching)).toHaveLength(backlog.length); // one member: every partition is its own, and fetched
    // Idle, the client still hands statistics over every few seconds: silence is a sign of a stall, not of idleness.
    await new Promise((r) => setTimeout(r, 12_000));
    expect(Date.now() - runtime.consumer!.statistics()!.updated_ms).toBeLessThan(8_000);
  }, 120_000);

  it('a stalled consumer that cannot leave its group ends the instance instead of keeping its partitions', async () => {
    // The suite's member steps aside, so the one under test owns every partition.
    await running?.stop();
    running = null;
    const unrecoverable: Error[] = [];
    const metrics = createMetrics(SERVICE);
    const doomed = await runConsumer(
      options({ metrics, stalled_stop_timeout_ms: 1_000, onUnrecoverable: (err) => unrecoverable.push(err) }),
    );
    const runtime = doomed as unknown as {
      replaceConsumer(stall: Stall): Promise<void>;
      consumer: { stop(): Promise<void> } | null;
    };
    try {
      await waitFor(() => doomed.isReady(), 30_000, 'group join');
      const stuck = runtime.consumer!;
      const leave = stuck.stop.bind(stuck);
      // What the stalled client did: its disconnect waited for a fetch that never returned.
      stuck.stop = () => new Promise<void>(() => undefined);
      const started = Date.now();
      await runtime.replaceConsumer({ reason: 'unfetched', idle_ms: 60_000, partitions: [] });
      expect(unrecoverable).toHaveLength(1);
      expect(unrecoverable[0]!.message).toBe('the stalled kafka consumer did not leave its group within 1000 ms');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(runtime.consumer).toBe(stuck); // no second member joined beside the stuck one
      expect(await metrics.text()).toMatch(/tidemark_stream_consumer_replacements_total\{[^}]*reason="unfetched"[^}]*\} 1/);
      stuck.stop = leave;
    } finally {
      await doomed.stop();
      await start();
    }
  }, 120_000);

  it('a chunk that waits on something that never answers ends the instance; its event is not lost', async () => {
    await running?.stop();
    running = null;
    let answer: () => void = () => undefined;
    handler.hangOn.set('H-0', new Promise<void>((resolve) => (answer = resolve)));
    const unrecoverable: Error[] = [];
    const hanging = await runConsumer(options({ chunk_hang_ms: 2_000, onUnrecoverable: (err) => unrecoverable.push(err) }));
    try {
      await waitFor(() => hanging.isReady(), 30_000, 'group join');
      await env.produceEvents('webhooks.received.v1', [
        { key: 'wal_H', value: testEvent({ event_id: 'H-0', wallet_id: 'wal_H', seq: 0 }) },
      ]);
      await waitFor(() => unrecoverable.length > 0, 30_000, 'the hung attempt to be noticed');
      expect(unrecoverable[0]!.message).toMatch(/^an attempt at a chunk of .*webhooks\.received\.v1\/\d+ has not settled in \d+ ms$/);
      expect(handler.applied.some((a) => a.event_id === 'H-0')).toBe(false);
    } finally {
      // What a restart does to the hung call; the instance stops, and the next one handles the event.
      handler.hangOn.delete('H-0');
      answer();
      await hanging.stop();
      await start();
    }
    await waitFor(() => handler.applied.some((a) => a.event_id === 'H-0'), 30_000, 'H-0 after the restart');
    expect(handler.applied.filter((a) => a.event_id === 'H-0')).toHaveLength(1);
  }, 120_000);

  const ctx = () => ({ transport: env.transport, pool: env.pool, codec: env.codec, prefix: env.prefix });
});
