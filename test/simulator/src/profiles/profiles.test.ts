import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadSanctionsSnapshot } from '../adapters/files.js';
import { ScenarioGenerator } from '../core/generate.js';
import { parseScenario } from '../core/scenario.js';
import {
  PROFILES,
  custodianXProfile,
  decodeWhsec,
  genericProfile,
  keysFromSecrets,
  ledgerpayProfile,
  standardWebhooksSignature,
} from './profiles.js';

const sanctions = loadSanctionsSnapshot();
const now_s = () => Math.floor(Date.now() / 1000);

function sampleEvents(provider: 'generic' | 'ledgerpay' | 'custodian-x', n = 300) {
  const scenario = parseScenario({
    name: 'sig',
    seed: 17,
    world: { providers: { [provider]: 1 } },
    traffic: { transactions: n },
    amounts: { huge_rate: 0.05 },
  });
  return [...new ScenarioGenerator(scenario, { start_ms: Date.now(), namespace: 'sg', sanctions })].map((g) => g.event);
}

describe('generic: Standard Webhooks signatures verify with the independent `standardwebhooks` library', () => {
  it('reproduces the specification’s published example', () => {
    const key = decodeWhsec('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(standardWebhooksSignature(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('every generated event (all types, huge amounts) verifies, and the body is the DESIGN 3.2 shape', () => {
    const secret = genericProfile.generateSecret();
    const keys = keysFromSecrets(genericProfile, secret);
    const verifier = new Webhook(secret);
    const events = sampleEvents('generic');
    expect(new Set(events.map((e) => e.type)).size).toBe(9);
    for (const event of events) {
      const body = genericProfile.body(event);
      const headers = genericProfile.sign({ body, event, keys, timestamp_s: now_s(), sign_with_all: false });
      expect(headers['webhook-id']).toBe(event.id);
      const payload = verifier.verify(body, headers) as { id: string; type: string; occurred_at: string; data: Record<string, unknown> };
      expect(payload).toMatchObject({ id: event.id, type: event.type, occurred_at: new Date(event.occurred_at_ms).toISOString() });
      expect(typeof payload.data.wallet_id).toBe('string');
      if (event.type === 'kyc.status_changed')
        expect(payload.data).toEqual({ wallet_id: event.wallet_id, customer_id: event.customer_id, status: event.kyc_status });
      else
        expect(payload.data).toMatchObject({
          transaction_id: event.transaction_id,
          asset: event.asset,
          network: event.network,
          amount: event.amount,
        });
      if (event.amount) expect(typeof payload.data.amount).toBe('string');
    }
  });

  it('rotation: with several secrets every one verifies; a tampered body or stale timestamp does not', () => {
    const secrets = [genericProfile.generateSecret(), genericProfile.generateSecret()];
    const keys = keysFromSecrets(genericProfile, secrets.join(','));
    const [event] = sampleEvents('generic', 2);
    const body = genericProfile.body(event!);
    const headers = genericProfile.sign({ body, event: event!, keys, timestamp_s: now_s(), sign_with_all: true });
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of secrets) expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(secrets[0]!).verify(body.replace('"', ' "'), headers)).toThrow();
    const stale = genericProfile.sign({ body, event: event!, keys, timestamp_s: now_s() - 600, sign_with_all: false });
    expect(() => new Webhook(secrets[0]!).verify(body, stale)).toThrow();
    expect(() => new Webhook(genericProfile.generateSecret()).verify(body, headers)).toThrow();
  });
});

describe('ledgerpay: Stripe-style signatures verify with the `stripe` library', () => {
  it('every event verifies and parses back', () => {
    const secret = ledgerpayProfile.generateSecret();
    const keys = keysFromSecrets(ledgerpayProfile, secret);
    const stripe = new Stripe('sk_test_simulator_signature_check');
    for (const event of sampleEvents('ledgerpay', 100)) {
      const body = ledgerpayProfile.body(event);
      const headers = ledgerpayProfile.sign({ body, event, keys, timestamp_s: now_s(), sign_with_all: false });
      const parsed = stripe.webhooks.constructEvent(body, headers['ledgerpay-signature']!, secret) as unknown as {
        id: string;
        object: string;
      };
      expect(parsed.id).toBe(event.id);
      expect(parsed.object).toBe('event');
    }
  });
});

describe('custodian-x: hex HMAC over "{timestamp}.{body}"', () => {
  it('matches an independent recomputation and carries amounts in base units', () => {
    const secret = custodianXProfile.generateSecret();
    const keys = keysFromSecrets(custodianXProfile, secret);
    for (const event of sampleEvents('custodian-x', 50)) {
      const body = custodianXProfile.body(event);
      const headers = custodianXProfile.sign({ body, event, keys, timestamp_s: 1_764_000_000, sign_with_all: false });
      expect(headers['x-timestamp']).toBe('1764000000');
      expect(headers['x-signature']).toBe(createHmac('sha256', Buffer.from(secret, 'utf8')).update(`1764000000.${body}`).digest('hex'));
      const parsed = JSON.parse(body);
      if (event.transaction_id) expect(parsed.transfer.amount_base_units).toMatch(/^[1-9][0-9]*$/);
    }
  });
});

describe('secrets', () => {
  it('bad secrets are refused with a message that does not contain them', () => {
    for (const [profile, bad] of [
      [genericProfile, 'whsec_!!notbase64!!'],
      [genericProfile, 'not-whsec-prefixed-secret'],
      [ledgerpayProfile, 'short'],
      [custodianXProfile, 'short'],
    ] as const) {
      try {
        keysFromSecrets(profile, bad);
        expect.unreachable();
      } catch (err) {
        expect((err as Error).message).toContain(profile.secrets_env);
        expect((err as Error).message).not.toContain(bad);
      }
    }
    expect(Object.keys(PROFILES)).toEqual(['generic', 'ledgerpay', 'custodian-x']);
  });
});
