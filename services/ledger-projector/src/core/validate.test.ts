import { describe, expect, it } from 'vitest';
import { TRANSACTION_EVENT_TYPES } from '@tidemark/common/events';
import { screenedEvent } from '../testing/events.js';
import { InvalidEventError, toLedgerInput } from './validate.js';
import { parseAmount } from './amount.js';

describe('toLedgerInput', () => {
  it('classifies every v1 event type', () => {
    expect(TRANSACTION_EVENT_TYPES).toHaveLength(8);
    for (const type of TRANSACTION_EVENT_TYPES) {
      const input = toLedgerInput(screenedEvent({ event_id: 'e', event_type: type, amount: '0.50000000' }, 'REVIEW'));
      expect(input.class).toBe('transaction');
      if (input.class === 'transaction') {
        expect(input.event).toMatchObject({
          event_type: type,
          amount_units: parseAmount('0.5'),
          wallet_id: 'wal_42',
          asset: 'BTC',
          transaction_id: 'tx_1',
        });
        expect(input.screening.decision).toBe('REVIEW');
      }
    }
    const kyc = toLedgerInput(
      screenedEvent({
        event_id: 'k',
        event_type: 'kyc.status_changed',
        transaction_id: null,
        wallet_id: null,
        asset: null,
        amount: null,
        customer_id: 'cus_1',
        kyc_status: 'approved',
      }),
    );
    expect(kyc).toMatchObject({ class: 'kyc', customer_id: 'cus_1', kyc_status: 'approved' });
    expect(toLedgerInput(screenedEvent({ event_id: 'u', event_type: 'payout.created' })).class).toBe('unknown');
  });

  it('refuses transaction events missing what the ledger needs', () => {
    const bad = [
      { transaction_id: null },
      { wallet_id: null },
      { asset: null },
      { amount: null },
      { amount: '-1' },
      { amount: '0.1234567890123456789' },
      { amount: '1'.repeat(79) },
      { wallet_id: 'w'.repeat(257) },
    ];
    for (const over of bad) {
      expect(() => toLedgerInput(screenedEvent({ event_id: 'b', event_type: 'deposit.detected', ...over })), JSON.stringify(over)).toThrow(
        InvalidEventError,
      );
    }
    expect(() => toLedgerInput(screenedEvent({ event_id: 'k', event_type: 'kyc.status_changed', kyc_status: null }))).toThrow(
      InvalidEventError,
    );
  });
});
