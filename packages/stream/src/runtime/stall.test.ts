import { describe, expect, it } from 'vitest';
import { backlogFromStats } from '../kafka/confluent.js';
import type { PartitionBacklog } from '../kafka/transport.js';
import { StallWatch } from './stall.js';

const tp = { topic: 'in', partition: 0 };
const other = { topic: 'in', partition: 1 };
const waiting = (n: number, app_offset: bigint | null = null, p = tp): PartitionBacklog => ({ ...p, waiting: n, app_offset });
const notPaused = () => false;
const noFloor = () => null;

describe('StallWatch', () => {
  it('reports a partition whose records wait longer than stall_ms without a batch', () => {
    const w = new StallWatch(60_000);
    expect(w.check([waiting(500)], 0, notPaused, noFloor)).toEqual([]);
    expect(w.check([waiting(500)], 55_000, notPaused, noFloor)).toEqual([]);
    expect(w.check([waiting(500)], 60_000, notPaused, noFloor)).toEqual([{ ...tp, waiting: 500, pending_ms: 60_000 }]);
  });

  it('an idle partition (nothing waiting, everything received) is never stalled', () => {
    const w = new StallWatch(1_000);
    w.batchStarted(tp, 99n);
    w.batchEnded(tp);
    for (const now of [0, 5_000, 600_000]) expect(w.check([waiting(0, 100n)], now, notPaused, noFloor)).toEqual([]);
  });

  it('any batch resets the wait; while any batch runs nothing is stalled (a chunk blocked in place)', () => {
    const w = new StallWatch(10_000);
    w.check([waiting(10), waiting(4, null, other)], 0, notPaused, noFloor);
    w.batchStarted(other, 5n); // another partition's chunk, blocked on Postgres for minutes
    expect(w.check([waiting(10), waiting(4, null, other)], 20_000, notPaused, noFloor)).toEqual([]);
    expect(w.check([waiting(10), waiting(4, null, other)], 300_000, notPaused, noFloor)).toEqual([]);
    w.batchEnded(other);
    expect(w.check([waiting(10)], 301_000, notPaused, noFloor)).toEqual([]); // the wait starts again here
    expect(w.check([waiting(10)], 310_000, notPaused, noFloor)).toEqual([]);
    expect(w.check([waiting(10)], 311_000, notPaused, noFloor)).toHaveLength(1);
  });

  it('paused partitions (a rung waiting for its next due record) are not stalled', () => {
    const w = new StallWatch(1_000);
    const paused = (p: { partition: number }) => p.partition === 0;
    w.check([waiting(3), waiting(3, null, other)], 0, paused, noFloor);
    expect(w.check([waiting(3), waiting(3, null, other)], 5_000, paused, noFloor)).toEqual([{ ...other, waiting: 3, pending_ms: 5_000 }]);
  });

  it('records the client took past what the runtime received count as waiting (the JS-side cache)', () => {
    const w = new StallWatch(1_000);
    w.batchStarted(tp, 99n);
    w.batchEnded(tp);
    w.check([waiting(0, 250n)], 0, notPaused, noFloor);
    expect(w.check([waiting(0, 250n)], 2_000, notPaused, noFloor)).toHaveLength(1);
  });

  it('without any batch yet, the committed floor tells what was received', () => {
    const w = new StallWatch(1_000);
    const floor = () => 40n;
    w.check([waiting(0, 40n)], 0, notPaused, floor);
    expect(w.check([waiting(0, 40n)], 2_000, notPaused, floor)).toEqual([]); // caught up to the floor
    w.check([waiting(0, 41n)], 3_000, notPaused, floor);
    expect(w.check([waiting(0, 41n)], 4_000, notPaused, floor)).toHaveLength(1);
  });

  it('forgets partitions that leave the statistics, and everything on reset', () => {
    const w = new StallWatch(1_000);
    w.check([waiting(1)], 0, notPaused, noFloor);
    w.check([], 500, notPaused, noFloor); // revoked
    w.check([waiting(1)], 1_000, notPaused, noFloor);
    expect(w.check([waiting(1)], 1_500, notPaused, noFloor)).toEqual([]);
    w.reset();
    w.check([waiting(1)], 2_000, notPaused, noFloor);
    expect(w.check([waiting(1)], 2_500, notPaused, noFloor)).toEqual([]);
    expect(w.check([waiting(1)], 3_000, notPaused, noFloor)).toHaveLength(1);
  });

  it('refuses a non-positive threshold', () => {
    expect(() => new StallWatch(0)).toThrow(/stall_ms/);
  });
});

describe('backlogFromStats (librdkafka statistics)', () => {
  it('reads the fetch queue and delivered position of the fetching partitions only', () => {
    const stats = JSON.stringify({
      name: 'rdkafka#consumer-1',
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
    expect(backlogFromStats(stats)).toEqual([
      { topic: 'in', partition: 0, waiting: 1200, app_offset: 5000n },
      { topic: 'in', partition: 1, waiting: 0, app_offset: null },
    ]);
  });

  it('a document without topics is no backlog', () => {
    expect(backlogFromStats('{"name":"c"}')).toEqual([]);
  });
});
