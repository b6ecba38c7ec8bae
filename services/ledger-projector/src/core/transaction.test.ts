import { describe, expect, it } from 'vitest';
import { accountId, externalAccount, walletAccount } from './accounts.js';
import { formatUnits, parseAmount } from './amount.js';
import { AccountBook, ev, replay, replayScreened, screen } from './testkit.js';
import {
  LedgerConflictError,
  ReleaseRejectedError,
  applyEvent,
  applyRelease,
  applyEscalation,
  EscalationRejectedError,
  statementStatus,
  stateFromJson,
  stateToJson,
  txStatus,
  type Decision,
  type TxState,
} from './transaction.js';

const PENDING = accountId(walletAccount('wal_42', 'BTC', 'pending'));
const AVAILABLE = accountId(walletAccount('wal_42', 'BTC', 'available'));
const HELD = accountId(walletAccount('wal_42', 'BTC', 'held'));
const EXTERNAL = accountId(externalAccount('generic', 'BTC'));

function buckets(book: AccountBook) {
  return {
    pending: formatUnits(book.get(PENDING)),
    available: formatUnits(book.get(AVAILABLE)),
    held: formatUnits(book.get(HELD)),
    external: formatUnits(book.get(EXTERNAL)),
  };
}

describe('deposit events (DESIGN 3.3 table, in order)', () => {
  it('deposit.detected: pending += amount (debit wallet pending, credit custody clearing)', () => {
    const { newState, postings } = applyEvent(null, ev('deposit.detected', '0.50000000'), screen());
    expect(postings).toEqual([
      {
        asset: 'BTC',
        debit: walletAccount('wal_42', 'BTC', 'pending'),
        credit: externalAccount('generic', 'BTC'),
        amount_units: parseAmount('0.5'),
      },
    ]);
    expect(txStatus(newState)).toBe('pending');
  });

  it('deposit.confirmed after detected: pending -> available', () => {
    const { book, states } = replayScreened(['deposit.detected', '0.5'], ['deposit.confirmed', '0.5']);
    expect(buckets(book)).toEqual({ pending: '0', available: '0.5', held: '0', external: '-0.5' });
    expect(txStatus(states.values().next().value!)).toBe('confirmed');
  });

  it.each(['REVIEW', 'BLOCK'] as const)('deposit.confirmed with %s credits held', (decision) => {
    const { book } = replay([
      { event: ev('deposit.detected', '0.5'), screening: screen(decision) },
      { event: ev('deposit.confirmed', '0.5'), screening: screen(decision) },
    ]);
    expect(buckets(book)).toEqual({ pending: '0', available: '0', held: '0.5', external: '-0.5' });
  });

  it('deposit.confirmed without detected credits directly from custody clearing', () => {
    const { postings } = applyEvent(null, ev('deposit.confirmed', '2'), screen());
    expect(postings).toHaveLength(1);
    expect(accountId(postings[0]!.debit)).toBe(AVAILABLE);
    expect(accountId(postings[0]!.credit)).toBe(EXTERNAL);
  });

  it('deposit.failed removes pending', () => {
    const { book, states } = replayScreened(['deposit.detected', '1.25'], ['deposit.failed', '1.25']);
    expect(buckets(book)).toEqual({ pending: '0', available: '0', held: '0', external: '0' });
    expect(txStatus(states.values().next().value!)).toBe('failed');
  });

  it('deposit.reversed undoes a credited deposit (available or held)', () => {
    for (const decision of ['ALLOW', 'REVIEW'] as const) {
      const { book, states } = replay([
        { event: ev('deposit.detected', '3'), screening: screen(decision) },
        { event: ev('deposit.confirmed', '3'), screening: screen(decision) },
        { event: ev('deposit.reversed', '3'), screening: screen(decision) },
      ]);
      expect(buckets(book)).toEqual({ pending: '0', available: '0', held: '0', external: '0' });
      expect(txStatus(states.values().next().value!)).toBe('reversed');
    }
  });
});

describe('withdrawal events (DESIGN 3.3 table, in order)', () => {
  it('withdrawal.requested: available -= amount, held += amount', () => {
    const { postings } = applyEvent(null, ev('withdrawal.requested', '0.1'), screen());
    expect(postings).toEqual([
      {
        asset: 'BTC',
        debit: walletAccount('wal_42', 'BTC', 'held'),
        credit: walletAccount('wal_42', 'BTC', 'available'),
        amount_units: parseAmount('0.1'),
      },
    ]);
  });

  it('withdrawal.broadcast is status only', () => {
    const first = applyEvent(null, ev('withdrawal.requested', '0.1'), screen());
    const second = applyEvent(first.newState, ev('withdrawal.broadcast', '0.1'), screen());
    expect(second.postings).toEqual([]);
    expect(txStatus(second.newState)).toBe('broadcast');
  });

  it('withdrawal.confirmed: held -= amount (funds left custody)', () => {
    const { book } = replayScreened(['withdrawal.requested', '0.1'], ['withdrawal.broadcast', '0.1'], ['withdrawal.confirmed', '0.1']);
    expect(buckets(book)).toEqual({ pending: '0', available: '-0.1', held: '0', external: '0.1' });
  });

  it('withdrawal.failed: held -> available', () => {
    const { book, states } = replayScreened(['withdrawal.requested', '0.1'], ['withdrawal.failed', '0.1']);
    expect(buckets(book)).toEqual({ pending: '0', available: '0', held: '0', external: '0' });
    expect(statementStatus(txStatus(states.values().next().value!))).toBe('failed');
  });
});

describe('out-of-order arrival and duplicates', () => {
  it('confirmed before detected: the late detected adds no pending', () => {
    const { book } = replayScreened(['deposit.confirmed', '0.5'], ['deposit.detected', '0.5']);
    expect(buckets(book)).toEqual({ pending: '0', available: '0.5', held: '0', external: '-0.5' });
  });

  it('failed before detected: nothing pending', () => {
    const { book } = replayScreened(['deposit.failed', '0.5'], ['deposit.detected', '0.5']);
    expect(book.snapshot()).toEqual({});
  });

  it('reversed before confirmed: never credited', () => {
    const { book } = replayScreened(['deposit.detected', '0.5'], ['deposit.reversed', '0.5'], ['deposit.confirmed', '0.5']);
    expect(book.snapshot()).toEqual({});
  });

  it('withdrawal.confirmed before requested: the late request holds nothing', () => {
    const { book } = replayScreened(['withdrawal.confirmed', '0.1'], ['withdrawal.requested', '0.1'], ['withdrawal.broadcast', '0.1']);
    expect(buckets(book)).toEqual({ pending: '0', available: '-0.1', held: '0', external: '0.1' });
  });

  it('a duplicate is a no-op with an equal state', () => {
    const first = applyEvent(null, ev('deposit.detected', '0.5'), screen());
    const again = applyEvent(first.newState, ev('deposit.detected', '0.5'), screen());
    expect(again.postings).toEqual([]);
    expect(stateToJson(again.newState)).toEqual(stateToJson(first.newState));
  });

  it('a late REVIEW decision on any event of a confirmed deposit moves it to held', () => {
    const { book } = replay([
      { event: ev('deposit.confirmed', '0.5'), screening: screen('ALLOW') },
      { event: ev('deposit.detected', '0.5'), screening: screen('REVIEW') },
    ]);
    expect(buckets(book).held).toBe('0.5');
    expect(buckets(book).available).toBe('0');
  });

  it('amount differences: the confirmed amount wins and the difference is an anomaly', () => {
    const { book, states } = replayScreened(['deposit.detected', '1.0'], ['deposit.confirmed', '0.999']);
    expect(buckets(book)).toEqual({ pending: '0', available: '0.999', held: '0', external: '-0.999' });
    expect(states.values().next().value!.anomalies).toEqual(['amount_mismatch:deposit.detected=1:deposit.confirmed=0.999']);
  });

  it('confirmed and failed both seen: credited, recorded as conflicting outcomes', () => {
    const { book, states } = replayScreened(['deposit.failed', '1'], ['deposit.confirmed', '1']);
    expect(buckets(book).available).toBe('1');
    expect(states.values().next().value!.anomalies).toContain('conflicting_outcomes:deposit.confirmed+deposit.failed');
  });
});

describe('conflicts', () => {
  it('rejects a withdrawal event on a deposit transaction', () => {
    const { newState } = applyEvent(null, ev('deposit.detected', '1'), screen());
    expect(() => applyEvent(newState, ev('withdrawal.requested', '1'), screen())).toThrow(LedgerConflictError);
  });
  it('rejects another wallet or asset for the same transaction', () => {
    const { newState } = applyEvent(null, ev('deposit.detected', '1'), screen());
    expect(() => applyEvent(newState, ev('deposit.confirmed', '1', { wallet_id: 'wal_x' }), screen())).toThrow(LedgerConflictError);
    expect(() => applyEvent(newState, ev('deposit.confirmed', '1', { asset: 'ETH' }), screen())).toThrow(LedgerConflictError);
  });
});

/** A deposit of `amount`, detected and confirmed, both screened `decision`. */
function confirmedDeposit(amount: string, decision: Decision): TxState {
  const { states } = replay([
    { event: ev('deposit.detected', amount), screening: screen(decision) },
    { event: ev('deposit.confirmed', amount), screening: screen(decision) },
  ]);
  return states.values().next().value!;
}

describe('release', () => {
  const reviewedDeposit = (decision: Decision = 'REVIEW') => confirmedDeposit('7.000000000000000001', decision);

  it('moves held to available for a REVIEW decision, once', () => {
    const state = reviewedDeposit();
    const released = applyRelease(state, { by: 'officer', at_ms: 1 });
    expect(released.already_released).toBe(false);
    expect(released.postings).toEqual([
      {
        asset: 'BTC',
        debit: walletAccount('wal_42', 'BTC', 'available'),
        credit: walletAccount('wal_42', 'BTC', 'held'),
        amount_units: parseAmount('7.000000000000000001'),
      },
    ]);
    const again = applyRelease(released.newState, { by: 'officer', at_ms: 2 });
    expect(again.already_released).toBe(true);
    expect(again.postings).toEqual([]);
  });

  it('refuses BLOCK, ALLOW, unconfirmed deposits and withdrawals', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof ReleaseRejectedError ? err.code : String(err);
      }
      return 'no error';
    };
    expect(code(() => applyRelease(reviewedDeposit('BLOCK'), { by: 'o', at_ms: 1 }))).toBe('blocked_not_releasable');
    expect(code(() => applyRelease(reviewedDeposit('ALLOW'), { by: 'o', at_ms: 1 }))).toBe('not_under_review');
    const pendingOnly = applyEvent(null, ev('deposit.detected', '1'), screen('REVIEW')).newState;
    expect(code(() => applyRelease(pendingOnly, { by: 'o', at_ms: 1 }))).toBe('nothing_held');
    const withdrawal = applyEvent(null, ev('withdrawal.requested', '1'), screen('REVIEW')).newState;
    expect(code(() => applyRelease(withdrawal, { by: 'o', at_ms: 1 }))).toBe('not_a_deposit');
  });

  it('a reversal after a release undoes the credit from available', () => {
    const released = applyRelease(reviewedDeposit(), { by: 'officer', at_ms: 1 }).newState;
    const reversed = applyEvent(released, ev('deposit.reversed', '7.000000000000000001'), screen('REVIEW'));
    expect(reversed.newState.position).toEqual({ pending: 0n, available: 0n, held: 0n });
    expect(accountId(reversed.postings[0]!.credit)).toBe(AVAILABLE);
  });
});

describe('escalation', () => {
  const reviewedDeposit = (decision: Decision = 'REVIEW') => confirmedDeposit('2.5', decision);

  it('turns REVIEW into BLOCK with the reason recorded; held funds stay held and cannot be released', () => {
    const escalated = applyEscalation(reviewedDeposit(), { by: 'officer', at_ms: 1, reason: 'counterparty matches an open case' });
    expect(escalated.already_blocked).toBe(false);
    expect(escalated.postings).toEqual([]);
    expect(escalated.newState.decision).toBe('BLOCK');
    expect(escalated.newState.position).toEqual({ pending: 0n, available: 0n, held: parseAmount('2.5') });
    expect(escalated.newState.reasons.at(-1)).toMatchObject({ code: 'COMPLIANCE_ESCALATED', outcome: 'BLOCK' });
    expect(() => applyRelease(escalated.newState, { by: 'o', at_ms: 2 })).toThrow(ReleaseRejectedError);
    // A later ALLOW-screened event cannot lower the decision again.
    const later = applyEvent(escalated.newState, ev('deposit.confirmed', '2.5'), screen('ALLOW'));
    expect(later.newState.decision).toBe('BLOCK');
  });

  it('moves released funds back to held', () => {
    const released = applyRelease(reviewedDeposit(), { by: 'officer', at_ms: 1 }).newState;
    const escalated = applyEscalation(released, { by: 'officer2', at_ms: 2, reason: 'new information' });
    expect(escalated.newState.position).toEqual({ pending: 0n, available: 0n, held: parseAmount('2.5') });
    expect(escalated.postings).toEqual([
      {
        asset: 'BTC',
        debit: walletAccount('wal_42', 'BTC', 'held'),
        credit: walletAccount('wal_42', 'BTC', 'available'),
        amount_units: parseAmount('2.5'),
      },
    ]);
  });

  it('is idempotent on BLOCK and refuses ALLOW', () => {
    const blocked = applyEscalation(reviewedDeposit('BLOCK'), { by: 'o', at_ms: 1, reason: 'x' });
    expect(blocked.already_blocked).toBe(true);
    expect(blocked.postings).toEqual([]);
    expect(() => applyEscalation(reviewedDeposit('ALLOW'), { by: 'o', at_ms: 1, reason: 'x' })).toThrow(EscalationRejectedError);
  });
});

describe('state serialization', () => {
  it('round-trips through JSON with exact amounts', () => {
    const big = '123456789012345678901234567890123456789012345678901234567890.123456789012345678';
    const { newState } = applyEvent(null, ev('deposit.detected', big), screen('REVIEW'));
    const json = JSON.parse(JSON.stringify(stateToJson(newState)));
    expect(stateFromJson(json)).toEqual(newState);
    expect(json.position.pending).toBe(big);
  });
});
