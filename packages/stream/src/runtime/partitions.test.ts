/**
 * When a main partition may skip the per-chunk parking read: only when the group had no
 * parked rows, and never on a count that raced a chunk of the partition or a rejoin.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '@tidemark/common';
import type { ParkingStore } from '../parking/store.js';
import type { StreamMetrics } from './metrics.js';
import { PartitionOwnership } from './partitions.js';

const MAIN = { topic: 'webhooks.received.v1', partition: 0 };
const RUNG = { topic: 'svc.retry.1', partition: 0 };

/** A store whose parked-key count answers when the test says so. */
function countingStore() {
  const pending: Array<(n: number) => void> = [];
  const store = {
    parkedKeyCount: () => new Promise<number>((resolve) => pending.push(resolve)),
  } as unknown as ParkingStore;
  return {
    store,
    answer: async (n: number) => {
      while (pending.length === 0) await new Promise((r) => setImmediate(r));
      pending.shift()!(n);
    },
  };
}

function ownership(store: ParkingStore) {
  const parts = new PartitionOwnership({
    rung_topics: [RUNG.topic],
    store,
    instance_id: 'i-1',
    log: createLogger('partitions-test', 'silent'),
    m: {} as StreamMetrics,
    consumer: () => null,
    committer: () => null,
  });
  parts.generation = 1;
  const main = parts.state(MAIN);
  const rung = parts.state(RUNG);
  main.generation = rung.generation = 1;
  return { parts, main, rung };
}

describe('nothing parked: the parking read a main partition may skip', () => {
  it('is set for main partitions when the group has no parked rows, never for rungs', async () => {
    const { store, answer } = countingStore();
    const { parts, main, rung } = ownership(store);
    const check = parts.recheckNothingParked();
    await answer(0);
    await check;
    expect(main.nothing_parked).toBe(true);
    expect(rung.nothing_parked).toBe(false);
  });

  it('stays unset while any key of the group is parked', async () => {
    const { store, answer } = countingStore();
    const { parts, main } = ownership(store);
    const check = parts.recheckNothingParked();
    await answer(1);
    await check;
    expect(main.nothing_parked).toBe(false);
  });

  it('ignores a count that raced a chunk which parked, or a chunk in progress', async () => {
    const { store, answer } = countingStore();
    const { parts, main } = ownership(store);
    let check = parts.recheckNothingParked();
    main.park_writes++; // a chunk parked a key while the count was read
    await answer(0);
    await check;
    expect(main.nothing_parked).toBe(false);

    check = parts.recheckNothingParked();
    main.in_chunk = true; // a chunk started meanwhile (it may be about to park)
    await answer(0);
    await check;
    expect(main.nothing_parked).toBe(false);

    main.in_chunk = false;
    check = parts.recheckNothingParked();
    await answer(0);
    await check;
    expect(main.nothing_parked).toBe(true);
  });

  it('ignores a count that raced a rejoin (ownership computes it afresh)', async () => {
    const { store, answer } = countingStore();
    const { parts, main } = ownership(store);
    const check = parts.recheckNothingParked();
    parts.generation = 2;
    await answer(0);
    await check;
    expect(main.nothing_parked).toBe(false);
  });

  it('does not check partitions being owned or in a chunk', async () => {
    const { store } = countingStore();
    const { parts, main } = ownership(store);
    main.in_chunk = true;
    await parts.recheckNothingParked(); // no candidate: resolves without asking the store
    expect(main.nothing_parked).toBe(false);
  });
});
