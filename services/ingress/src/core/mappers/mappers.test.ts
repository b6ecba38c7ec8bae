import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KNOWN_EVENT_TYPES, type DeliveryFacts } from '../canonical.js';
import { mapCustodianX } from './custodian-x.js';
import { mapGeneric } from './generic.js';
import { mapLedgerpay, LEDGERPAY_EVENT_TYPES } from './ledgerpay.js';

const delivery: DeliveryFacts = {
  provider: 'p',
  ingress_id: '0190-ingress',
  received_at_ms: 1_764_000_000_000,
  body_sha256: 'ab'.repeat(32),
};

function genericBody(overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
  return {
    id: 'evt_01JDQ6ZK8Q',
    type: 'deposit.confirmed',
    occurred_at: '2026-11-23T10:00:00.123Z',
    data: {
      transaction_id: 'tx_8842',
      wallet_id: 'wal_42',
      asset: 'btc',
      network: 'bitcoin',
      amount: '0.50000000',
      tx_hash: '9f2c',
      from_address: 'bc1qfrom',
      to_address: 'bc1qto',
      confirmations: 3,
      counterparty: { name: 'ACME GmbH', country: 'de' },
      ...data,
    },
    ...overrides,
  };
}

describe('generic mapper (DESIGN 3.2 body)', () => {
  it('maps the reference body to the canonical record', () => {
    const result = mapGeneric(genericBody(), delivery);
    expect(result).toEqual({
      ok: true,
      known_type: true,
      event: {
        ingress_id: '0190-ingress',
        provider: 'p',
        event_id: 'evt_01JDQ6ZK8Q',
        event_type: 'deposit.confirmed',
        occurred_at_ms: Date.parse('2026-11-23T10:00:00.123Z'),
        received_at_ms: delivery.received_at_ms,
        partition_key: 'wal_42',
        transaction_id: 'tx_8842',
        wallet_id: 'wal_42',
        customer_id: null,
        asset: 'BTC',
        network: 'bitcoin',
        amount: '0.50000000',
        tx_hash: '9f2c',
        from_address: 'bc1qfrom',
        to_address: 'bc1qto',
        confirmations: 3,
        counterparty_name: 'ACME GmbH',
        counterparty_country: 'DE',
        kyc_status: null,
        source: 'WEBHOOK',
        body_sha256: delivery.body_sha256,
      },
    });
  });

  it('optional fields may be absent or null; unknown extra fields are ignored', () => {
    const result = mapGeneric(
      genericBody({ extra: 1 }, { tx_hash: undefined, from_address: null, confirmations: undefined, counterparty: null, note: 'x' }),
      delivery,
    );
    expect(result).toMatchObject({ ok: true, event: { tx_hash: null, from_address: null, confirmations: null, counterparty_name: null } });
  });

  it('kyc.status_changed is keyed by wallet, or by customer when there is no wallet', () => {
    const kyc = {
      id: 'evt_k',
      type: 'kyc.status_changed',
      occurred_at: '2026-01-01T00:00:00+01:00',
      data: { customer_id: 'cus_1', status: 'approved' },
    };
    expect(mapGeneric(kyc, delivery)).toMatchObject({
      ok: true,
      event: { partition_key: 'cus_1', kyc_status: 'approved', occurred_at_ms: Date.parse('2025-12-31T23:00:00Z') },
    });
    expect(mapGeneric({ ...kyc, data: { ...kyc.data, wallet_id: 'wal_9' } }, delivery)).toMatchObject({
      ok: true,
      event: { partition_key: 'wal_9' },
    });
    expect(mapGeneric({ ...kyc, data: { status: 'approved' } }, delivery)).toMatchObject({
      ok: false,
      message: expect.stringContaining('customer_id'),
    });
  });

  it('every known transaction type requires transaction_id, wallet_id, asset, network, amount', () => {
    for (const type of KNOWN_EVENT_TYPES.filter((t) => t !== 'kyc.status_changed')) {
      expect(mapGeneric(genericBody({ type }), delivery).ok, type).toBe(true);
      for (const field of ['transaction_id', 'wallet_id', 'asset', 'network', 'amount']) {
        const result = mapGeneric(genericBody({ type }, { [field]: undefined }), delivery);
        expect(result, `${type} without ${field}`).toMatchObject({
          ok: false,
          reason: 'schema_validation_failed',
          message: expect.stringContaining(field),
        });
      }
    }
  });

  it('money is refused as a JSON number, and checked as a decimal string', () => {
    expect(mapGeneric(genericBody({}, { amount: 0.5 }), delivery)).toMatchObject({ ok: false, message: expect.stringContaining('amount') });
    for (const bad of ['-1', '1e3', '0.1234567890123456789', ' 1', '1'.repeat(79)]) {
      expect(mapGeneric(genericBody({}, { amount: bad }), delivery).ok, bad).toBe(false);
    }
  });

  it('unknown event types are accepted as received (not projected downstream)', () => {
    expect(mapGeneric(genericBody({ type: 'card.issued' }, { amount: undefined, network: undefined }), delivery)).toMatchObject({
      ok: true,
      known_type: false,
      event: { event_type: 'card.issued', partition_key: 'wal_42' },
    });
    expect(mapGeneric({ id: 'evt_u', type: 'ping', occurred_at: '2026-01-01T00:00:00Z', data: {} }, delivery)).toMatchObject({
      ok: true,
      known_type: false,
      event: { partition_key: 'p:evt_u' },
    });
    // Known fields stay typed even on unknown types.
    expect(mapGeneric(genericBody({ type: 'card.issued' }, { confirmations: 'three' }), delivery).ok).toBe(false);
  });

  it('rejects wrong shapes with a message naming the field, never its value', () => {
    const cases: unknown[] = [
      null,
      [],
      'x',
      42,
      {},
      genericBody({ id: '' }),
      genericBody({ occurred_at: 'yesterday' }),
      genericBody({ occurred_at: '2026-11-23T10:00:00' }),
      genericBody({ data: 'x' }),
      genericBody({}, { counterparty: { country: 'Germany' } }),
      genericBody({}, { confirmations: -1 }),
      genericBody({ id: 'has space' }),
    ];
    for (const body of cases) {
      const result = mapGeneric(body, delivery);
      expect(result.ok, JSON.stringify(body)).toBe(false);
    }
    const result = mapGeneric(genericBody({}, { amount: 'SECRET-VALUE-123' }), delivery);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).not.toContain('SECRET-VALUE-123');
  });

  it('never throws on arbitrary JSON (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(typeof mapGeneric(value, delivery).ok).toBe('boolean');
      }),
    );
  });
});

describe('ledgerpay mapper (Stripe-shaped events)', () => {
  const event = (type: string, object: Record<string, unknown>) => ({
    id: 'evt_1Q2',
    object: 'event',
    created: 1_764_000_000,
    type,
    livemode: true,
    data: { object },
  });
  const deposit = {
    id: 'cdep_7',
    object: 'crypto_deposit',
    wallet: 'wal_5',
    customer: 'cus_5',
    currency: 'usdc',
    network: 'ethereum',
    amount: '125.50',
    transaction_hash: '0xabc',
    source_address: '0xfrom',
    destination_address: '0xto',
    confirmations: 12,
  };

  it('maps every documented type to its canonical type', () => {
    for (const [type, canonical] of Object.entries(LEDGERPAY_EVENT_TYPES)) {
      const object = canonical === 'kyc.status_changed' ? { id: 'cus_5', object: 'customer', verification_status: 'verified' } : deposit;
      expect(mapLedgerpay(event(type, object), delivery), type).toMatchObject({
        ok: true,
        known_type: true,
        event: { event_type: canonical },
      });
    }
  });

  it('carries fields over', () => {
    expect(mapLedgerpay(event('crypto_deposit.succeeded', deposit), delivery)).toMatchObject({
      ok: true,
      event: {
        event_id: 'evt_1Q2',
        occurred_at_ms: 1_764_000_000_000,
        transaction_id: 'cdep_7',
        wallet_id: 'wal_5',
        customer_id: 'cus_5',
        asset: 'USDC',
        amount: '125.50',
        partition_key: 'wal_5',
        to_address: '0xto',
      },
    });
    expect(
      mapLedgerpay(event('customer.verification_updated', { id: 'cus_5', object: 'customer', verification_status: 'verified' }), delivery),
    ).toMatchObject({ ok: true, event: { customer_id: 'cus_5', transaction_id: null, partition_key: 'cus_5', kyc_status: 'verified' } });
  });

  it('unknown types pass through; bad shapes fail', () => {
    expect(mapLedgerpay(event('invoice.paid', { id: 'in_1', object: 'invoice', customer: 'cus_1' }), delivery)).toMatchObject({
      ok: true,
      known_type: false,
      event: { event_type: 'invoice.paid', partition_key: 'cus_1' },
    });
    expect(mapLedgerpay({ ...event('crypto_deposit.succeeded', deposit), object: 'list' }, delivery).ok).toBe(false);
    expect(mapLedgerpay(event('crypto_deposit.succeeded', { ...deposit, amount: 125.5 }), delivery).ok).toBe(false);
  });
});

describe('custodian-x mapper (direction/state, base units)', () => {
  const transfer = {
    id: 'trf_1',
    direction: 'INCOMING',
    state: 'CONFIRMED',
    vault_id: 'wal_8',
    owner_id: 'cus_8',
    asset_id: 'eth',
    chain: 'ethereum',
    amount_base_units: '1500000000000000000',
    decimals: 18,
    tx_hash: '0xh',
    source: { address: '0xs' },
    destination: { address: '0xd' },
    confirmations: 64,
    counterparty: { legal_name: 'Beta AG', country_code: 'CH' },
  };
  const note = (over: Record<string, unknown> = {}) => ({
    notification_id: 'ntf_1',
    kind: 'transfer.updated',
    timestamp_ms: 1_764_000_000_123,
    transfer,
    ...over,
  });

  it('maps a confirmed incoming transfer with exact base-unit conversion', () => {
    expect(mapCustodianX(note(), delivery)).toMatchObject({
      ok: true,
      known_type: true,
      event: {
        event_id: 'ntf_1',
        event_type: 'deposit.confirmed',
        occurred_at_ms: 1_764_000_000_123,
        amount: '1.5',
        asset: 'ETH',
        wallet_id: 'wal_8',
        from_address: '0xs',
        to_address: '0xd',
        counterparty_name: 'Beta AG',
        counterparty_country: 'CH',
      },
    });
    expect(mapCustodianX(note({ transfer: { ...transfer, amount_base_units: '1', decimals: 18 } }), delivery)).toMatchObject({
      ok: true,
      event: { amount: '0.000000000000000001' },
    });
  });

  it('outgoing states map to withdrawals; unknown states pass through as received', () => {
    expect(mapCustodianX(note({ transfer: { ...transfer, direction: 'OUTGOING', state: 'BROADCAST' } }), delivery)).toMatchObject({
      ok: true,
      event: { event_type: 'withdrawal.broadcast' },
    });
    expect(mapCustodianX(note({ transfer: { ...transfer, state: 'PENDING_AML' } }), delivery)).toMatchObject({
      ok: true,
      known_type: false,
      event: { event_type: 'transfer.incoming.pending_aml' },
    });
  });

  it('kyc updates and malformed notifications', () => {
    expect(
      mapCustodianX(
        { notification_id: 'ntf_2', kind: 'customer.kyc_updated', timestamp_ms: 1, customer: { id: 'cus_8', kyc_state: 'APPROVED' } },
        delivery,
      ),
    ).toMatchObject({ ok: true, event: { event_type: 'kyc.status_changed', partition_key: 'cus_8', kyc_status: 'approved' } });
    expect(mapCustodianX(note({ transfer: { ...transfer, amount_base_units: '1.5' } }), delivery).ok).toBe(false);
    expect(mapCustodianX(note({ transfer: { ...transfer, decimals: 19 } }), delivery).ok).toBe(false);
    expect(mapCustodianX(note({ transfer: undefined }), delivery).ok).toBe(false);
    expect(mapCustodianX(note({ transfer: { ...transfer, vault_id: undefined } }), delivery)).toMatchObject({
      ok: false,
      message: expect.stringContaining('wallet_id'),
    });
  });
});
