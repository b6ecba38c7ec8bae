/**
 * What a heal does to the ledger: the reconciler's heal plan applied through the ledger
 * projector's own pure state machine (its public applyEvent), for every kind of
 * difference the simulator injects. After the heal the ledger's transaction matches the
 * provider's record exactly and every posting balances.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyEvent, statementDirection, statementStatus, txStatus, type TxState } from '@tidemark/ledger-projector';
import { compareTransaction } from './core/compare.js';
import type { LedgerTx, ProviderRecord, StatementStatus, Direction } from './core/model.js';
import { parseSignedUnits, formatUnits } from './core/units.js';

type EventType = Parameters<typeof applyEvent>[1]['event_type'];
const ALLOW = { decision: 'ALLOW' as const, reasons: [] };

function event(event_type: EventType, amount: string, authoritative = false) {
  return {
    provider: 'generic',
    event_id: `${event_type}:${amount}:${authoritative}`,
    event_type,
    transaction_id: 'tx_1',
    wallet_id: 'wal_1',
    asset: 'BTC',
    amount_units: parseSignedUnits(amount),
    ...(authoritative ? { authoritative: true } : {}),
  };
}

/** Applies webhook events, returning the state and the net posting effect per account. */
function project(state: TxState | null, events: ReturnType<typeof event>[]): { state: TxState; net: Map<string, bigint> } {
  let s = state;
  const net = new Map<string, bigint>();
  for (const e of events) {
    const r = applyEvent(s, e, ALLOW);
    for (const p of r.postings) {
      const d = JSON.stringify(p.debit);
      const c = JSON.stringify(p.credit);
      net.set(d, (net.get(d) ?? 0n) + p.amount_units);
      net.set(c, (net.get(c) ?? 0n) - p.amount_units);
    }
    s = r.newState;
  }
  return { state: s!, net };
}

function asLedgerTx(s: TxState): LedgerTx {
  const amount =
    s.amounts['deposit.confirmed'] ??
    s.amounts['deposit.detected'] ??
    s.amounts['withdrawal.confirmed'] ??
    s.amounts['withdrawal.requested'] ??
    s.amounts['withdrawal.broadcast'] ??
    s.amounts['deposit.reversed'] ??
    s.amounts['deposit.failed'] ??
    s.amounts['withdrawal.failed'] ??
    0n;
  return {
    transaction_id: s.transaction_id,
    wallet_id: s.wallet_id,
    asset: s.asset,
    direction: statementDirection(s.kind),
    status: statementStatus(txStatus(s)),
    amount: formatUnits(amount),
    position: s.position,
    held: false,
    last_event_at_ms: 0,
  };
}

function providerRecord(direction: Direction, status: StatementStatus, amount: string): ProviderRecord {
  return {
    transaction_id: 'tx_1',
    wallet_id: 'wal_1',
    asset: 'BTC',
    amount,
    direction,
    status,
    updated_at: '2026-11-23T10:00:00Z',
    updated_at_ms: 1,
  };
}

/** Heal `state` towards `truth` the way a run does, then compare again. */
function healAndRecompare(state: TxState | null, truth: ProviderRecord) {
  const first = compareTransaction(truth, state ? asLedgerTx(state) : null);
  if (!first.heal || !first.heal.healable) throw new Error(`expected a healable finding, got ${JSON.stringify(first.heal)}`);
  const healed = project(state, [event(first.heal.event_type as EventType, first.heal.amount, true)]);
  const again = compareTransaction(truth, asLedgerTx(healed.state));
  // Replaying the same heal changes nothing.
  const replay = applyEvent(healed.state, event(first.heal.event_type as EventType, first.heal.amount, true), ALLOW);
  return { first, healed, again, replay };
}

describe('healing through the ledger state machine', () => {
  it('heals a dropped webhook (missing_in_ledger)', () => {
    const { first, again, healed } = healAndRecompare(null, providerRecord('in', 'confirmed', '0.5'));
    expect(first.outcome).toBe('missing_in_ledger');
    expect(again.outcome).toBe('matched');
    expect(healed.state.position).toEqual({ pending: 0n, available: parseSignedUnits('0.5'), held: 0n });
  });

  it('heals an altered amount with an adjustment posting', () => {
    const before = project(null, [event('deposit.detected', '0.55'), event('deposit.confirmed', '0.55')]);
    const { first, again, healed, replay } = healAndRecompare(before.state, providerRecord('in', 'confirmed', '0.5'));
    expect(first.findings.map((f) => f.kind)).toEqual(['amount_mismatch']);
    expect(again.outcome).toBe('matched');
    expect(healed.state.position.available).toBe(parseSignedUnits('0.5'));
    // The adjustment moved exactly the difference out of the wallet, balanced against the clearing account.
    const moved = [...healed.net.values()];
    expect(moved.reduce((a, b) => a + b, 0n)).toBe(0n);
    expect(moved.map((v) => (v < 0n ? -v : v))).toContain(parseSignedUnits('0.05'));
    expect(replay.postings).toEqual([]);
  });

  it('heals a changed status, forwards and backwards', () => {
    for (const [events, truth] of [
      [[event('deposit.detected', '1')], providerRecord('in', 'confirmed', '1')],
      [[event('deposit.detected', '1'), event('deposit.confirmed', '1')], providerRecord('in', 'failed', '1')],
      [[event('deposit.confirmed', '1'), event('deposit.reversed', '1')], providerRecord('in', 'confirmed', '1')],
      [[event('withdrawal.requested', '2'), event('withdrawal.confirmed', '2')], providerRecord('out', 'failed', '2')],
      [[event('withdrawal.requested', '2'), event('withdrawal.failed', '2')], providerRecord('out', 'confirmed', '2')],
    ] as const) {
      const before = project(null, [...events]);
      const { first, again, replay } = healAndRecompare(before.state, truth);
      expect(first.findings.map((f) => f.kind)).toEqual(['status_mismatch']);
      expect(again.outcome).toBe('matched');
      expect(replay.postings).toEqual([]);
    }
  });

  it('any ledger state heals to any expressible provider record (property)', () => {
    const depositTypes: EventType[] = ['deposit.detected', 'deposit.confirmed', 'deposit.failed', 'deposit.reversed'];
    const withdrawalTypes: EventType[] = ['withdrawal.requested', 'withdrawal.broadcast', 'withdrawal.confirmed', 'withdrawal.failed'];
    const amount = fc.bigInt({ min: 1n, max: 10n ** 30n }).map((u) => formatUnits(u));
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(3), amount), { minLength: 1, maxLength: 5 }),
        fc.constantFrom<StatementStatus>('pending', 'confirmed', 'failed', 'reversed'),
        amount,
        (deposit, evs, status, truth_amount) => {
          const direction: Direction = deposit ? 'in' : 'out';
          if (!deposit && status === 'reversed') return true; // not expressible: reported for an operator
          const types = deposit ? depositTypes : withdrawalTypes;
          const before = project(
            null,
            evs.map(([i, a]) => event(types[i]!, a)),
          );
          const truth = providerRecord(direction, status, truth_amount);
          const first = compareTransaction(truth, asLedgerTx(before.state));
          if (first.outcome === 'matched') return true;
          const { again } = healAndRecompare(before.state, truth);
          return again.outcome === 'matched';
        },
      ),
      { numRuns: 300 },
    );
  });
});
