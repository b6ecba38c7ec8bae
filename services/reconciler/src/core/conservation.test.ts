import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildAudit, type AuditRecord } from '@tidemark/common';
import { ConservationCheck, ConservationCapacityError } from './conservation.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const window = { since_ms: T0, until_ms: T0 + 3_600_000 };

function audit(stage: string, action: string, event_id: string, at_ms: number, extra: Partial<AuditRecord> = {}): AuditRecord {
  return buildAudit({
    stage,
    action,
    provider: 'generic',
    event_id,
    event_type: 'deposit.confirmed',
    key: 'wal_1',
    at_ms,
    trace_id: null,
    ...extra,
  });
}

function check(records: AuditRecord[], opts: { now_ms?: number; settle_ms?: number; stuck_ms?: number; tracks_max?: number } = {}) {
  const now = opts.now_ms ?? T0 + 3_600_000;
  const c = new ConservationCheck({
    provider: 'generic',
    window,
    settled_before_ms: now - (opts.settle_ms ?? 30_000),
    stuck_before_ms: now - (opts.stuck_ms ?? 900_000),
    tracks_max: opts.tracks_max ?? 1_000,
  });
  for (const r of records) c.observe(r);
  return c.finish();
}

describe('conservation check', () => {
  it('balances when every accepted event is projected, rejected with a reason, or dead-lettered', () => {
    const { summary, findings } = check([
      audit('ingress', 'accepted', 'e1', T0 + 1),
      audit('dedupe', 'passed', 'e1', T0 + 2),
      audit('ledger-projector', 'projected', 'e1', T0 + 3),
      audit('ingress', 'accepted', 'e2', T0 + 1),
      audit('ledger-projector', 'rejected', 'e2', T0 + 5, { reason: 'unknown_event_type' }),
      audit('ingress', 'accepted', 'e3', T0 + 1),
      audit('compliance-screening', 'dead_lettered', 'e3', T0 + 9, { reason: 'TRANSIENT' }),
    ]);
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({ events_entered: 3, projected: 1, rejected: 1, dead_lettered: 1, not_conserved: 0, ok: true });
  });

  it('counts redeliveries as accounted for when the first delivery is', () => {
    const { summary, findings } = check([
      audit('ingress', 'accepted', 'e1', T0 + 1),
      audit('ingress', 'accepted', 'e1', T0 + 2),
      audit('dedupe', 'duplicate', 'e1', T0 + 3),
      audit('ledger-projector', 'projected', 'e1', T0 + 4),
      audit('ingress', 'accepted', 'e1', T0 + 10), // a redelivery after the event was resolved
      audit('dedupe', 'duplicate', 'e1', T0 + 11),
    ]);
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({ events_entered: 1, deliveries: 3, duplicates: 2, projected: 1 });
  });

  it('reports an accepted event that vanished, but not one still settling', () => {
    const now = T0 + 3_600_000;
    const { summary, findings } = check(
      [
        audit('ingress', 'accepted', 'lost', T0 + 1),
        audit('dedupe', 'passed', 'lost', T0 + 2),
        audit('ingress', 'accepted', 'fresh', now - 5_000),
      ],
      { now_ms: now },
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ kind: 'not_conserved', event_key: 'generic:lost', wallet_id: 'wal_1' });
    expect(summary).toMatchObject({ not_conserved: 1, in_flight: 1, ok: false });
  });

  it('does not count an ingress rejection (a request never accepted) as an outcome', () => {
    const { findings } = check([
      audit('ingress', 'accepted', 'e1', T0 + 1),
      audit('ingress', 'rejected', 'e1', T0 + 2, { reason: 'stale_timestamp' }),
    ]);
    expect(findings.map((f) => f.kind)).toEqual(['not_conserved']);
  });

  it('reports events in the retry ladder longer than the threshold as stuck, younger ones as in flight', () => {
    const now = T0 + 3_600_000;
    const { summary, findings } = check(
      [
        audit('ingress', 'accepted', 'old', T0 + 1),
        audit('compliance-screening', 'retried', 'old', T0 + 1_000),
        audit('ingress', 'accepted', 'young', T0 + 1),
        audit('compliance-screening', 'retried', 'young', now - 60_000),
        audit('ingress', 'accepted', 'done', T0 + 1),
        audit('ledger-projector', 'retried', 'done', T0 + 2),
        audit('ledger-projector', 'projected', 'done', T0 + 3),
      ],
      { now_ms: now, stuck_ms: 900_000 },
    );
    expect(findings.map((f) => [f.kind, f.event_key])).toEqual([['stuck_in_retry', 'generic:old']]);
    expect(summary).toMatchObject({ stuck_in_retry: 1, in_flight: 1, projected: 1 });
  });

  it('judges only events that entered inside the window and of the provider', () => {
    const { summary, findings } = check([
      audit('ingress', 'accepted', 'before', T0 - 10),
      audit('ingress', 'accepted', 'other', T0 + 1, { provider: 'ledgerpay' }),
      audit('ledger-projector', 'projected', 'early_outcome', T0 + 1),
    ]);
    expect(findings).toEqual([]);
    expect(summary.events_entered).toBe(0);
  });

  it('accepts an outcome recorded before its entry (stages audit asynchronously)', () => {
    const { findings, summary } = check([audit('ledger-projector', 'projected', 'e1', T0 + 5), audit('ingress', 'accepted', 'e1', T0 + 6)]);
    expect(findings).toEqual([]);
    expect(summary.projected).toBe(1);
  });

  it('counts reconciler heals as entries', () => {
    const { findings, summary } = check([audit('reconciler', 'healed', 'recon:tx_1', T0 + 5)]);
    expect(findings.map((f) => f.kind)).toEqual(['not_conserved']);
    expect(summary.healed_entries).toBe(1);
  });

  it('bounds the open events it keeps', () => {
    expect(() =>
      check(
        [audit('ingress', 'accepted', 'a', T0 + 1), audit('ingress', 'accepted', 'b', T0 + 1), audit('ingress', 'accepted', 'c', T0 + 1)],
        { tracks_max: 2 },
      ),
    ).toThrow(ConservationCapacityError);
  });

  it('the verdict does not depend on the order records are read in (property)', () => {
    const base = [
      audit('ingress', 'accepted', 'e1', T0 + 1),
      audit('dedupe', 'passed', 'e1', T0 + 2),
      audit('ledger-projector', 'projected', 'e1', T0 + 3),
      audit('ingress', 'accepted', 'e2', T0 + 1),
      audit('ingress', 'accepted', 'e2', T0 + 2),
      audit('dedupe', 'duplicate', 'e2', T0 + 3),
      audit('ingress', 'accepted', 'e3', T0 + 1),
      audit('ledger-projector', 'dead_lettered', 'e3', T0 + 4),
    ];
    fc.assert(
      fc.property(fc.shuffledSubarray(base, { minLength: base.length, maxLength: base.length }), (records) => {
        const { findings } = check(records);
        return findings.length === 1 && findings[0]!.event_key === 'generic:e2';
      }),
    );
  });
});
