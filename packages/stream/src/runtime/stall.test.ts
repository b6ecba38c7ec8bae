import { describe, expect, it } from 'vitest';
import { readStatistics } from '../kafka/confluent.js';
import type { PartitionBacklog } from '../kafka/transport.js';
import { hungAttempt, StallWatch } from './stall.js';

const tp = { topic: 'in', partition: 0 };
const other = { topic: 'in', partition: 1 };
const waiting = (n: number, p = tp, fetching = true): PartitionBacklog => ({ ...p, waiting: n, fetching });
const both = [tp, other];
const notPaused = () => false;

describe('StallWatch', () => {
  /** Statistics handed over at `updated_ms` with these fetch queues. */
  const stats = (updated_ms: number, ...partitions: PartitionBacklog[]) => ({ updated_ms, partitions, brokers_up: true });

  it('silent: no statistics and nothing delivered for stall_ms', () => {
    const w = new StallWatch(60_000, 0);
    expect(w.check(stats(0), 30_000, both, notPaused)).toBeNull();
    expect(w.check(stats(0), 59_000, both, notPaused)).toBeNull();
    expect(w.check(stats(0), 60_000, both, notPaused)).toEqual({ reason: 'silent', idle_ms: 60_000, partitions: [] });
  });

  it('an idle consumer whose statistics keep coming is never stalled', () => {
    const w = new StallWatch(60_000, 0);
    for (let now = 5_000; now <= 600_000; now += 5_000)
      expect(w.check(stats(now - 1_000, waiting(0), waiting(0, other)), now, both, notPaused)).toBeNull();
  });

  it('waiting: fetched records not delivered for stall_ms, statistics fresh', () => {
    const w = new StallWatch(60_000, 0);
    expect(w.check(stats(0, waiting(500)), 0, both, notPaused)).toBeNull();
    expect(w.check(stats(55_000, waiting(500)), 55_000, both, notPaused)).toBeNull();
    expect(w.check(stats(60_000, waiting(500), waiting(0, other)), 60_000, both, notPaused)).toEqual({
      reason: 'waiting',
      idle_ms: 60_000,
      partitions: [{ ...tp, waiting: 500 }],
    });
  });

  it('while a batch runs nothing is stalled (a chunk blocked in place for minutes); batches reset the clock', () => {
    const w = new StallWatch(10_000, 0);
    w.batchStarted(1_000); // a chunk blocked on Postgres, its neighbours' records waiting, the client not polled
    expect(w.check(stats(0, waiting(10, other)), 20_000, both, notPaused)).toBeNull();
    expect(w.check(stats(0, waiting(10, other)), 300_000, both, notPaused)).toBeNull();
    w.batchEnded(301_000);
    expect(w.check(stats(0, waiting(10, other)), 305_000, both, notPaused)).toBeNull(); // idle 4 s only
    expect(w.check(stats(0, waiting(10, other)), 311_000, both, notPaused)).toEqual({ reason: 'silent', idle_ms: 10_000, partitions: [] });
  });

  it('paused partitions (a rung waiting for its next due record) are not waiting', () => {
    const w = new StallWatch(1_000, 0);
    const paused = (p: { partition: number }) => p.partition === 0;
    w.check(stats(0, waiting(3), waiting(3, other)), 0, both, paused);
    expect(w.check(stats(5_000, waiting(3), waiting(3, other)), 5_000, both, paused)).toEqual({
      reason: 'waiting',
      idle_ms: 5_000,
      partitions: [{ ...other, waiting: 3 }],
    });
    expect(w.check(stats(6_000, waiting(3)), 6_000, both, paused)).toBeNull();
  });

  it('records must wait the whole stall_ms: a partition that drained meanwhile starts over', () => {
    const w = new StallWatch(1_000, 0);
    w.check(stats(0, waiting(1)), 0, [tp], notPaused);
    w.check(stats(500, waiting(0)), 500, [tp], notPaused);
    w.check(stats(1_000, waiting(1)), 1_000, [tp], notPaused);
    expect(w.check(stats(1_500, waiting(1)), 1_500, [tp], notPaused)).toBeNull();
    expect(w.check(stats(2_000, waiting(1)), 2_000, [tp], notPaused)?.reason).toBe('waiting');
  });

  it('reset (a new consumer) starts the clock again', () => {
    const w = new StallWatch(1_000, 0);
    expect(w.check(stats(0), 5_000, both, notPaused)?.reason).toBe('silent');
    w.reset(5_000);
    expect(w.check(stats(5_000), 5_500, both, notPaused)).toBeNull();
  });

  it('unfetched: an assigned partition librdkafka does not fetch for stall_ms (assignment never started)', () => {
    const w = new StallWatch(60_000, 0);
    const never = [waiting(0, tp, false), waiting(0, other, false)];
    expect(w.check(stats(0, ...never), 0, both, notPaused)).toBeNull();
    expect(w.check(stats(30_000, ...never), 30_000, both, notPaused)).toBeNull();
    expect(w.check(stats(60_000, ...never), 60_000, both, notPaused)).toEqual({
      reason: 'unfetched',
      idle_ms: 60_000,
      partitions: [
        { ...tp, waiting: 0 },
        { ...other, waiting: 0 },
      ],
    });
  });

  it('partitions of the topics not assigned to this member are not its concern, nor is a partition missing from the statistics once assigned elsewhere', () => {
    const w = new StallWatch(1_000, 0);
    const mine = [tp];
    w.check(stats(0, waiting(0), waiting(0, other, false)), 0, mine, notPaused);
    expect(w.check(stats(5_000, waiting(0), waiting(0, other, false)), 5_000, mine, notPaused)).toBeNull();
    // Assigned but not in the statistics yet counts as not fetched.
    w.check(stats(6_000), 6_000, mine, notPaused);
    expect(w.check(stats(7_000), 7_000, mine, notPaused)?.reason).toBe('unfetched');
  });

  it('nothing counts while the client reaches no broker, and the idle time starts again once it does', () => {
    const w = new StallWatch(60_000, 0);
    const down = (now: number) => ({ ...stats(now, waiting(0, tp, false)), brokers_up: false });
    for (let now = 5_000; now <= 120_000; now += 5_000) expect(w.check(down(now), now, [tp], notPaused)).toBeNull();
    // Back: the partition is still unfetched (librdkafka restarting its fetchers) for less than stall_ms.
    expect(w.check(stats(125_000, waiting(0, tp, false)), 125_000, [tp], notPaused)).toBeNull();
    expect(w.check(stats(180_000, waiting(0, tp, false)), 180_000, [tp], notPaused)).toBeNull();
    expect(w.check(stats(185_000, waiting(0, tp, false)), 185_000, [tp], notPaused)?.reason).toBe('unfetched');
  });

  it('refuses a non-positive threshold', () => {
    expect(() => new StallWatch(0, 0)).toThrow(/stall_ms/);
  });
});

describe('readStatistics (librdkafka statistics)', () => {
  it("reads each partition's fetch queue and whether librdkafka fetches it, and whether any broker is up", () => {
    const stats = JSON.stringify({
      name: 'rdkafka#consumer-1',
      brokers: {
        'sasl_ssl://127.0.0.1:9092/1': { source: 'learned', state: 'UP' },
        'sasl_ssl://127.0.0.1:9092/bootstrap': { source: 'configured', state: 'INIT' },
        GroupCoordinator: { source: 'logical', state: 'UP' },
        ':0/internal': { source: 'internal', state: 'INIT' },
      },
      topics: {
        in: {
          partitions: {
            '0': { partition: 0, fetch_state: 'active', fetchq_cnt: 1200, app_offset: 5000 },
            '1': { partition: 1, fetch_state: 'active', fetchq_cnt: 0, app_offset: -1001 },
            '2': { partition: 2, fetch_state: 'none', fetchq_cnt: 7, app_offset: 10 },
            '-1': { partition: -1, fetch_state: 'none', fetchq_cnt: 0, app_offset: -1001 },
          },
        },
      },
    });
    expect(readStatistics(stats)).toEqual({
      partitions: [
        { topic: 'in', partition: 0, waiting: 1200, fetching: true },
        { topic: 'in', partition: 1, waiting: 0, fetching: true },
        { topic: 'in', partition: 2, waiting: 7, fetching: false },
      ],
      brokers_up: true,
    });
  });

  it('every real broker down is brokers_up false, whatever the logical ones say', () => {
    const stats = JSON.stringify({
      brokers: {
        'sasl_ssl://127.0.0.1:9092/1': { source: 'learned', state: 'CONNECT' },
        'sasl_ssl://127.0.0.1:9092/bootstrap': { source: 'configured', state: 'DOWN' },
        GroupCoordinator: { source: 'logical', state: 'UP' },
      },
    });
    expect(readStatistics(stats).brokers_up).toBe(false);
  });

  it('a document without topics or brokers is no backlog and no verdict on brokers', () => {
    expect(readStatistics('{"name":"c"}')).toEqual({ partitions: [], brokers_up: null });
  });
});

describe('hungAttempt', () => {
  it('names the oldest attempt that has run for hang_ms, and nothing before', () => {
    const attempts = [
      { tp, started_ms: 10_000 },
      { tp: other, started_ms: 4_000 },
      { tp: { topic: 'in', partition: 2 }, started_ms: null },
    ];
    expect(hungAttempt(attempts, 303_999, 300_000)).toBeNull();
    expect(hungAttempt(attempts, 304_000, 300_000)).toEqual({ tp: other, running_ms: 300_000 });
    expect(hungAttempt(attempts, 400_000, 300_000)).toEqual({ tp: other, running_ms: 396_000 });
  });

  it('partitions between attempts are never hung', () => {
    expect(hungAttempt([{ tp, started_ms: null }], 10 ** 9, 1)).toBeNull();
    expect(hungAttempt([], 10 ** 9, 1)).toBeNull();
  });
});
