import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareTransaction } from './compare.js';
import { impliedPosition, PairTallies, judgePair, pairKey, isZero } from './balance.js';
import type { Buckets, LedgerTx, ProviderRecord } from './model.js';
import { parseSignedUnits } from './units.js';

const U = (text: string): bigint => parseSignedUnits(text);

function provider(over: Partial<ProviderRecord> = {}): ProviderRecord {
  return {
    transaction_id: 'tx_1',
    wallet_id: 'wal_1',
    asset: 'BTC',
    amount: '0.50000000',
    direction: 'in',
    status: 'confirmed',
    updated_at: '2026-11-23T10:00:00.000Z',
    updated_at_ms: Date.parse('2026-11-23T10:00:00.000Z'),
    ...over,
  };
}

function ledger(over: Partial<LedgerTx> = {}): LedgerTx {
  return {
    transaction_id: 'tx_1',
    wallet_id: 'wal_1',
    asset: 'BTC',
    direction: 'in',
    status: 'confirmed',
    amount: '0.5',
    position: { pending: 0n, available: U('0.5'), held: 0n },
    held: false,
    last_event_at_ms: Date.parse('2026-11-23T10:00:00.000Z'),
    ...over,
  };
}

describe('compareTransaction', () => {
  it('matches equal transactions whatever the decimal formatting', () => {
    const c = compareTransaction(provider({ amount: '0.50000000' }), ledger({ amount: '0.5' }));
    expect(c.outcome).toBe('matched');
    expect(c.findings).toEqual([]);
    expect(c.heal).toBeNull();
  });

  it('reports missing_in_ledger with the provider side and a heal plan', () => {
    const c = compareTransaction(provider(), null);
    expect(c.outcome).toBe('missing_in_ledger');
    expect(c.findings).toHaveLength(1);
    expect(c.findings[0]).toMatchObject({
      kind: 'missing_in_ledger',
      transaction_id: 'tx_1',
      wallet_id: 'wal_1',
      asset: 'BTC',
      ledger_value: null,
      provider_value: 'in confirmed 0.50000000',
    });
    expect(c.heal).toEqual({ healable: true, event_type: 'deposit.confirmed', status: 'confirmed', amount: '0.5' });
  });

  it('reports missing_at_provider with the ledger side and no heal', () => {
    const c = compareTransaction(null, ledger());
    expect(c.outcome).toBe('missing_at_provider');
    expect(c.findings[0]).toMatchObject({ kind: 'missing_at_provider', ledger_value: 'in confirmed 0.5', provider_value: null });
    expect(c.heal).toBeNull();
  });

  it('reports amount_mismatch with both amounts, the drift, and heals with the provider amount', () => {
    const c = compareTransaction(
      provider({ amount: '0.5' }),
      ledger({ amount: '0.55', position: { pending: 0n, available: U('0.55'), held: 0n } }),
    );
    expect(c.outcome).toBe('mismatched');
    expect(c.findings.map((f) => f.kind)).toEqual(['amount_mismatch']);
    expect(c.findings[0]).toMatchObject({ ledger_value: '0.55', provider_value: '0.5' });
    expect(c.amount_drift).toEqual({ asset: 'BTC', units: U('0.05') });
    expect(c.heal).toMatchObject({ healable: true, event_type: 'deposit.confirmed', amount: '0.5' });
  });

  it('reports status_mismatch with both statuses and the divergence', () => {
    const c = compareTransaction(
      provider({ status: 'confirmed' }),
      ledger({ status: 'pending', position: { pending: U('0.5'), available: 0n, held: 0n } }),
    );
    expect(c.findings.map((f) => f.kind)).toEqual(['status_mismatch']);
    expect(c.findings[0]).toMatchObject({ ledger_value: 'pending', provider_value: 'confirmed' });
    expect(c.status_divergence).toBe('pending -> confirmed');
    expect(c.heal).toMatchObject({ healable: true, event_type: 'deposit.confirmed' });
  });

  it('heals a backwards status (confirmed deposit the provider failed) with an authoritative event', () => {
    const c = compareTransaction(provider({ status: 'failed' }), ledger());
    expect(c.heal).toMatchObject({ healable: true, event_type: 'deposit.failed', status: 'failed' });
  });

  it('reports both amount and status when both differ, healed by one event', () => {
    const c = compareTransaction(
      provider({ direction: 'out', status: 'confirmed', amount: '2' }),
      ledger({ direction: 'out', status: 'pending', amount: '3', position: { pending: 0n, available: U('-3'), held: U('3') } }),
    );
    expect(c.findings.map((f) => f.kind).sort()).toEqual(['amount_mismatch', 'status_mismatch']);
    expect(c.heal).toMatchObject({ healable: true, event_type: 'withdrawal.confirmed', amount: '2' });
  });

  it('treats a different wallet or direction as not healable', () => {
    const w = compareTransaction(provider({ wallet_id: 'wal_2' }), ledger());
    expect(w.findings.map((f) => f.kind)).toEqual(['balance_mismatch']);
    expect(w.heal).toMatchObject({ healable: false });
    const d = compareTransaction(provider({ direction: 'out' }), ledger());
    expect(d.findings.map((f) => f.kind)).toEqual(['status_mismatch']);
    expect(d.findings[0]).toMatchObject({ ledger_value: 'in confirmed', provider_value: 'out confirmed' });
    expect(d.heal).toMatchObject({ healable: false });
  });

  it('cannot heal a reversed withdrawal (no event type expresses it)', () => {
    const c = compareTransaction(provider({ direction: 'out', status: 'reversed' }), null);
    expect(c.heal).toMatchObject({ healable: false });
  });

  it('compares 18-decimal and 78-digit amounts exactly', () => {
    const tiny = compareTransaction(
      provider({ asset: 'ETH', amount: '0.000000000000000001' }),
      ledger({ asset: 'ETH', amount: '0.000000000000000002' }),
    );
    expect(tiny.findings.map((f) => f.kind)).toEqual(['amount_mismatch']);
    expect(tiny.amount_drift?.units).toBe(1n);
    const big = '123456789012345678901234567890123456789012345678901234567890.123456789012345678';
    const bigPlus = '123456789012345678901234567890123456789012345678901234567890.123456789012345679';
    expect(
      compareTransaction(provider({ amount: big }), ledger({ amount: big, position: { pending: 0n, available: U(big), held: 0n } }))
        .outcome,
    ).toBe('matched');
    expect(compareTransaction(provider({ amount: big }), ledger({ amount: bigPlus })).findings.map((f) => f.kind)).toEqual([
      'amount_mismatch',
    ]);
    // A JS number would have called these equal.
    expect(Number(big) === Number(bigPlus)).toBe(true);
  });

  it('equal amounts in any formatting always match (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.integer({ min: 0, max: 18 }),
        fc.integer({ min: 0, max: 6 }),
        (units, decimals, pad_max) => {
          const pad = Math.min(pad_max, 18 - decimals); // the contract allows at most 18 decimals, padding included
          const text = units.toString().padStart(decimals + 1, '0');
          const amount = decimals === 0 ? text : `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
          const padded = amount.includes('.') ? amount + '0'.repeat(pad) : pad > 0 ? `${amount}.${'0'.repeat(pad)}` : amount;
          const normalized = amount.includes('.') ? amount.replace(/0+$/, '').replace(/\.$/, '') : amount;
          const c = compareTransaction(
            provider({ amount: padded }),
            ledger({ amount: normalized, position: impliedPosition('in', 'confirmed', U(normalized), false) }),
          );
          return c.outcome === 'matched';
        },
      ),
    );
  });
});

describe('balance rule', () => {
  function tally(comparisons: ReturnType<typeof compareTransaction>[]): PairTallies {
    const t = new PairTallies(100);
    for (const c of comparisons) {
      for (const e of c.effects) {
        if (e.kind === 'ledger') t.noteLedger(e.wallet_id, e.asset, e.buckets);
        else if (e.kind === 'implied') t.noteImplied(e.wallet_id, e.asset, e.buckets);
        else t.noteUnexplained(e.wallet_id, e.asset, e.buckets);
      }
    }
    return t;
  }
  const zero: Buckets = { pending: 0n, available: 0n, held: 0n };

  it('implies DESIGN 3.3 positions per status', () => {
    expect(impliedPosition('in', 'pending', 5n, false)).toEqual({ pending: 5n, available: 0n, held: 0n });
    expect(impliedPosition('in', 'confirmed', 5n, false)).toEqual({ pending: 0n, available: 5n, held: 0n });
    expect(impliedPosition('in', 'confirmed', 5n, true)).toEqual({ pending: 0n, available: 0n, held: 5n });
    expect(impliedPosition('in', 'failed', 5n, false)).toEqual(zero);
    expect(impliedPosition('in', 'reversed', 5n, false)).toEqual(zero);
    expect(impliedPosition('out', 'pending', 5n, false)).toEqual({ pending: 0n, available: -5n, held: 5n });
    expect(impliedPosition('out', 'confirmed', 5n, false)).toEqual({ pending: 0n, available: -5n, held: 0n });
    expect(impliedPosition('out', 'failed', 5n, false)).toEqual(zero);
  });

  it('a clean window over a consistent ledger has no residual', () => {
    const cs = [
      compareTransaction(provider(), ledger()),
      compareTransaction(
        provider({ transaction_id: 'tx_2', direction: 'out', status: 'pending', amount: '0.2' }),
        ledger({
          transaction_id: 'tx_2',
          direction: 'out',
          status: 'pending',
          amount: '0.2',
          position: { pending: 0n, available: U('-0.2'), held: U('0.2') },
        }),
      ),
    ];
    const t = tally(cs);
    const v = judgePair(t.get(pairKey('wal_1', 'BTC'))!, {
      balance: { pending: 0n, available: U('0.3'), held: U('0.2') },
      tx_count: 2,
      positions_total: null,
    });
    expect(v.drift_checked).toBe(true);
    expect(isZero(v.residual)).toBe(true);
    expect(v.provider_balance).toEqual({ pending: 0n, available: U('0.3'), held: U('0.2') });
  });

  it('differences explained by transaction findings are not reported again', () => {
    const cs = [
      compareTransaction(provider(), null), // missing in ledger
      compareTransaction(
        provider({ transaction_id: 'tx_2', amount: '1' }),
        ledger({ transaction_id: 'tx_2', amount: '1.1', position: { pending: 0n, available: U('1.1'), held: 0n } }),
      ),
      compareTransaction(provider({ transaction_id: 'tx_3', status: 'failed' }), ledger({ transaction_id: 'tx_3' })),
    ];
    const t = tally(cs);
    const v = judgePair(t.get(pairKey('wal_1', 'BTC'))!, {
      balance: { pending: 0n, available: U('1.6'), held: 0n },
      tx_count: 2,
      positions_total: null,
    });
    expect(isZero(v.residual)).toBe(true);
  });

  it('catches drift of the balance table against the transactions', () => {
    const t = tally([compareTransaction(provider(), ledger())]);
    const v = judgePair(t.get(pairKey('wal_1', 'BTC'))!, {
      balance: { pending: 0n, available: U('0.6'), held: 0n },
      tx_count: 1,
      positions_total: null,
    });
    expect(v.residual).toEqual({ pending: 0n, available: U('0.1'), held: 0n });
  });

  it('catches money in the wrong bucket when status and amount agree', () => {
    // The ledger says confirmed but still keeps the money in pending.
    const t = tally([compareTransaction(provider(), ledger({ position: { pending: U('0.5'), available: 0n, held: 0n } }))]);
    const v = judgePair(t.get(pairKey('wal_1', 'BTC'))!, {
      balance: { pending: U('0.5'), available: 0n, held: 0n },
      tx_count: 1,
      positions_total: null,
    });
    expect(v.residual).toEqual({ pending: U('0.5'), available: U('-0.5'), held: 0n });
  });

  it('takes out-of-window transactions as the ledger has them', () => {
    const t = tally([compareTransaction(provider(), ledger())]);
    // 3 ledger transactions of the pair, 2 outside the window contributing 1.0 available.
    const v = judgePair(t.get(pairKey('wal_1', 'BTC'))!, {
      balance: { pending: 0n, available: U('1.5'), held: 0n },
      tx_count: 3,
      positions_total: { pending: 0n, available: U('1.5'), held: 0n },
    });
    expect(isZero(v.residual)).toBe(true);
    expect(v.provider_balance.available).toBe(U('1.5'));
    // Without the ledger's total, drift cannot be judged for a partial pair.
    const partial = judgePair(t.get(pairKey('wal_1', 'BTC'))!, {
      balance: { pending: 0n, available: U('9'), held: 0n },
      tx_count: 3,
      positions_total: null,
    });
    expect(partial.drift_checked).toBe(false);
    expect(isZero(partial.residual)).toBe(true);
  });

  it('bounds the number of pairs tracked', () => {
    const t = new PairTallies(2);
    t.noteLedger('a', 'BTC', zero);
    t.noteLedger('b', 'BTC', zero);
    expect(() => t.noteLedger('c', 'BTC', zero)).toThrow(/more than 2/);
  });
});
