import { describe, expect, it } from 'vitest';
import {
  afterFailure,
  blockBackoffMs,
  ladderHeaders,
  parseLadderHeaders,
  pauseForMs,
  routeRecord,
  rungOfTopic,
  stripLadderHeaders,
  validatePolicy,
  LadderHeaderError,
} from './ladder.js';

const policy = { retry_delays_ms: [1000, 10_000, 60_000] };

describe('ladder rules', () => {
  it('processes a record only when no earlier record of its key is parked', () => {
    expect(routeRecord(5n, [])).toEqual({ kind: 'process' });
    expect(routeRecord(5n, [{ source_offset: 5n, rung: 2 }])).toEqual({ kind: 'process' }); // its own row
    expect(routeRecord(5n, [{ source_offset: 7n, rung: 1 }])).toEqual({ kind: 'process' });
    expect(
      routeRecord(9n, [
        { source_offset: 7n, rung: 3 },
        { source_offset: 4n, rung: 2 },
      ]),
    ).toEqual({ kind: 'follow', rung: 2, head_offset: 4n });
  });

  it('climbs one rung per transient failure, then dead-letters; permanent and poison go straight to the DLQ', () => {
    expect(afterFailure('TRANSIENT', 1, policy)).toEqual({ kind: 'retry', rung: 1 });
    expect(afterFailure('TRANSIENT', 3, policy)).toEqual({ kind: 'retry', rung: 3 });
    expect(afterFailure('TRANSIENT', 4, policy)).toEqual({ kind: 'dead_letter', error_class: 'TRANSIENT' });
    expect(afterFailure('PERMANENT', 1, policy)).toEqual({ kind: 'dead_letter', error_class: 'PERMANENT' });
    expect(afterFailure('POISON', 2, policy)).toEqual({ kind: 'dead_letter', error_class: 'POISON' });
    expect(() => afterFailure('TRANSIENT', 0, policy)).toThrow();
  });

  it('bounds pauses and backoff', () => {
    expect(pauseForMs(5_000, 4_000, 1, policy)).toBe(1_000);
    expect(pauseForMs(4_000, 5_000, 1, policy)).toBe(0);
    expect(pauseForMs(10_000_000, 0, 1, policy)).toBe(1_000); // clock skew cannot park a partition longer than its rung
    expect(blockBackoffMs(0)).toBe(100);
    expect(blockBackoffMs(3)).toBe(800);
    expect(blockBackoffMs(100)).toBe(30_000);
    expect(() => validatePolicy({ retry_delays_ms: [] })).toThrow();
    expect(() => validatePolicy({ retry_delays_ms: [-1] })).toThrow();
  });

  it('round-trips ladder headers and keeps the original ones', () => {
    const original = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'tidemark-attempt': 'stale' };
    const h = ladderHeaders(original, {
      source_topic: 'webhooks.received.v1',
      source_partition: 3,
      source_offset: 9_007_199_254_740_993n,
      attempts_made: 2,
      due_at_ms: 1_700_000_000_000,
      first_failure_at_ms: 1_699_999_990_000,
      last_error: 'x'.repeat(1_000),
      rung: 2,
    });
    expect(h.traceparent).toBe(original.traceparent);
    const parsed = parseLadderHeaders(h);
    expect(parsed).toMatchObject({
      source_partition: 3,
      source_offset: 9_007_199_254_740_993n,
      attempts_made: 2,
      rung: 2,
      first_failure_at_ms: 1_699_999_990_000,
    });
    expect(parsed.last_error!.length).toBeLessThanOrEqual(300);
    expect(stripLadderHeaders(h)).toEqual({ traceparent: original.traceparent });
    expect(() => parseLadderHeaders({ traceparent: 'x' })).toThrow(LadderHeaderError);
  });

  it('names rung topics', () => {
    expect(rungOfTopic('dedupe.retry.2', 'dedupe')).toBe(2);
    expect(rungOfTopic('webhooks.received.v1', 'dedupe')).toBeNull();
  });
});
