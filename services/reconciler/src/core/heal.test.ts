import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import { resolveSchema } from '@tidemark/common';
import { buildHealEvent, eventTypeFor, healEventId, planHeal } from './heal.js';
import type { ProviderRecord } from './model.js';

const record: ProviderRecord = {
  transaction_id: 'tx_8842',
  wallet_id: 'wal_42',
  asset: 'BTC',
  amount: '0.50000000',
  direction: 'in',
  status: 'confirmed',
  updated_at: '2026-11-23T10:00:00.123Z',
  updated_at_ms: Date.parse('2026-11-23T10:00:00.123Z'),
};

describe('heal planning', () => {
  it('maps every provider status to the event type that expresses it', () => {
    expect(eventTypeFor('in', 'pending')).toBe('deposit.detected');
    expect(eventTypeFor('in', 'confirmed')).toBe('deposit.confirmed');
    expect(eventTypeFor('in', 'failed')).toBe('deposit.failed');
    expect(eventTypeFor('in', 'reversed')).toBe('deposit.reversed');
    expect(eventTypeFor('out', 'pending')).toBe('withdrawal.requested');
    expect(eventTypeFor('out', 'confirmed')).toBe('withdrawal.confirmed');
    expect(eventTypeFor('out', 'failed')).toBe('withdrawal.failed');
    expect(eventTypeFor('out', 'reversed')).toBeNull();
  });

  it('derives the same event id for the same provider record, a different one when it changes', () => {
    const a = healEventId('tx_1', 'deposit.confirmed', '0.50000000', 1000);
    expect(a).toBe('recon:tx_1:deposit.confirmed:0.5:1000');
    expect(healEventId('tx_1', 'deposit.confirmed', '0.5', 1000)).toBe(a);
    expect(healEventId('tx_1', 'deposit.confirmed', '0.5', 2000)).not.toBe(a);
    expect(healEventId('tx_1', 'deposit.confirmed', '0.6', 1000)).not.toBe(a);
    expect(healEventId('tx_1', 'deposit.failed', '0.5', 1000)).not.toBe(a);
  });

  it('hashes ids that would be too long, deterministically', () => {
    const long = 'tx_' + 'x'.repeat(250);
    const id = healEventId(long, 'deposit.confirmed', '1', 1);
    expect(id).toMatch(/^recon:[0-9a-f]{40}$/);
    expect(healEventId(long, 'deposit.confirmed', '1.0', 1)).toBe(id);
  });

  it('builds a RECONCILIATION-sourced canonical event that fits the Avro schema', () => {
    const plan = planHeal(null, record);
    if (!plan.healable) throw new Error('expected healable');
    const event = buildHealEvent({
      provider: 'generic',
      record,
      plan,
      ingress_id: '0192f0c8-0000-7000-8000-000000000000',
      now_ms: 1_800_000_000_000,
    });
    expect(event).toMatchObject({
      provider: 'generic',
      event_id: `recon:tx_8842:deposit.confirmed:0.5:${record.updated_at_ms}`,
      event_type: 'deposit.confirmed',
      source: 'RECONCILIATION',
      partition_key: 'wal_42',
      wallet_id: 'wal_42',
      transaction_id: 'tx_8842',
      amount: '0.5',
      occurred_at_ms: record.updated_at_ms,
      received_at_ms: 1_800_000_000_000,
    });
    expect(event.body_sha256).toMatch(/^[0-9a-f]{64}$/);
    const type = avro.Type.forSchema(resolveSchema('dev.tidemark.events.v1.CanonicalEvent') as avro.Schema);
    expect(type.isValid(event)).toBe(true);
  });
});
