import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decide, dedupeKey, keyId, parseCoordinates, windowCutoffMs, DEDUPE_WINDOW_DAYS_MIN } from './dedupe.js';

const src = (offset: number, partition = 0) => ({ topic: 'webhooks.received.v1', partition, offset: String(offset) });

describe('dedupe decisions', () => {
  it('passes the delivery whose coordinates hold the claim, drops the others', () => {
    expect(decide(src(5), src(5), null)).toEqual({ kind: 'pass' });
    expect(decide(src(5), src(9), null)).toEqual({ kind: 'duplicate', first: src(5) });
    // An operator replay of the claimed (dead-lettered) record passes.
    expect(decide(src(5), src(42), src(5))).toEqual({ kind: 'pass' });
    expect(decide(src(5), src(42), src(6))).toEqual({ kind: 'duplicate', first: src(5) });
  });

  it('rejects unusable keys with a reason', () => {
    expect(dedupeKey({ provider: 'generic', event_id: 'evt_1' })).toEqual({ ok: true, key: { provider: 'generic', event_id: 'evt_1' } });
    expect(dedupeKey({ provider: '', event_id: 'x' }).ok).toBe(false);
    expect(dedupeKey({ provider: 'generic', event_id: 'x'.repeat(257) }).ok).toBe(false);
    expect(dedupeKey({ provider: 'generic', event_id: 7 }).ok).toBe(false);
  });

  it('parses replay-source coordinates', () => {
    expect(parseCoordinates('p.webhooks.received.v1/3/1234')).toEqual({ topic: 'p.webhooks.received.v1', partition: 3, offset: '1234' });
    expect(parseCoordinates('garbage')).toBeNull();
    expect(parseCoordinates(undefined)).toBeNull();
  });

  it('keeps a window of at least 30 days', () => {
    expect(() => windowCutoffMs(0, 7)).toThrow(/30/);
    expect(windowCutoffMs(100 * 86_400_000, DEDUPE_WINDOW_DAYS_MIN)).toBe(70 * 86_400_000);
  });

  it('emits each event exactly once for any delivery stream with crash replays (model)', () => {
    // Deliveries: event ids in arrival order; crashes: after how many deliveries the
    // uncommitted tail (since the last commit) is replayed. Claims persist; outputs
    // only count when committed.
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 10 }),
        (events, crashes, commits) => {
          const claims = new Map<string, ReturnType<typeof src>>();
          const committed: number[] = [];
          let position = 0;
          let crashIndex = 0;
          let commitIndex = 0;
          while (position < events.length) {
            const size = commits[commitIndex++ % commits.length]!;
            const chunk = events.slice(position, position + size);
            const pending: number[] = [];
            chunk.forEach((ev, i) => {
              const offset = position + i;
              const k = keyId({ provider: 'generic', event_id: String(ev) });
              if (!claims.has(k)) claims.set(k, src(offset));
              if (decide(claims.get(k)!, src(offset), null).kind === 'pass') pending.push(ev);
            });
            const crash = crashes[crashIndex];
            if (crash !== undefined && crash <= chunk.length) {
              crashIndex++;
              continue; // claims written, transaction lost: the chunk is delivered again
            }
            committed.push(...pending);
            position += chunk.length;
          }
          expect([...committed].sort()).toEqual([...new Set(events)].sort());
        },
      ),
      { numRuns: 300 },
    );
  });
});
