import fc from 'fast-check';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from './compare.js';
import { createHexHmac } from './hex-hmac.js';
import { decodeStandardWebhooksSecret, standardWebhooks } from './standard-webhooks.js';
import { createStripeStyle } from './stripe-style.js';
import type { SignatureVerifier, VerifyResult } from './types.js';

const lookup = (headers: Record<string, string>) => (name: string) => headers[name.toLowerCase()];
const NOW_MS = 1_764_000_000_000;
const NOW_S = NOW_MS / 1000;

function verifyWith(
  verifier: SignatureVerifier,
  headers: Record<string, string>,
  body: string | Buffer,
  secrets: string[],
  now_ms = NOW_MS,
): VerifyResult {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return verifier.verify({
    headers: lookup(lower),
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    keys: secrets.map((s) => verifier.decodeSecret(s)),
    now_ms,
    tolerance_s: 300,
  });
}

/** Flips one byte (as a different printable ASCII char) at `index`. */
function flip(text: string, index: number): string {
  const code = text.charCodeAt(index);
  const replacement = code === 0x41 ? 'B' : 'A';
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

describe('Standard Webhooks (generic)', () => {
  const SPEC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const SPEC_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const SPEC_TS = 1614265330;
  const SPEC_BODY = '{"test": 2432232314}';
  const SPEC_SIG = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

  it("verifies the spec's published example vector", () => {
    const headers = { 'webhook-id': SPEC_ID, 'webhook-timestamp': String(SPEC_TS), 'webhook-signature': SPEC_SIG };
    const result = verifyWith(standardWebhooks, headers, SPEC_BODY, [SPEC_SECRET], SPEC_TS * 1000);
    expect(result).toMatchObject({ ok: true, key_index: 0, delivery_id: SPEC_ID });
  });

  it('signs exactly like the spec vector', () => {
    const headers = standardWebhooks.sign({
      body: Buffer.from(SPEC_BODY),
      key: decodeStandardWebhooksSecret(SPEC_SECRET),
      timestamp_s: SPEC_TS,
      delivery_id: SPEC_ID,
    });
    expect(headers['webhook-signature']).toBe(SPEC_SIG);
  });

  it("the spec vector is rejected as stale at today's clock", () => {
    const headers = { 'webhook-id': SPEC_ID, 'webhook-timestamp': String(SPEC_TS), 'webhook-signature': SPEC_SIG };
    expect(verifyWith(standardWebhooks, headers, SPEC_BODY, [SPEC_SECRET])).toMatchObject({
      ok: false,
      reason: 'timestamp_out_of_tolerance',
    });
  });

  it('accepts headers produced by the standardwebhooks library, and the library accepts ours (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes(' ')),
        fc.string({ maxLength: 300 }),
        fc.integer({ min: -300, max: 300 }),
        (key_bytes, id, body, skew_s) => {
          const secret = `whsec_${Buffer.from(key_bytes).toString('base64')}`;
          const wh = new Webhook(secret);
          const ts = NOW_S + skew_s;
          const signature = wh.sign(id, new Date(ts * 1000), body);
          const headers = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature };
          expect(verifyWith(standardWebhooks, headers, body, [secret])).toMatchObject({ ok: true });
          const ours = standardWebhooks.sign({ body: Buffer.from(body), key: Buffer.from(key_bytes), timestamp_s: ts, delivery_id: id });
          expect(ours['webhook-signature']).toBe(signature);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('one flipped byte anywhere in body, signature, id or timestamp fails', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const body = JSON.stringify({ id: 'evt_1', type: 'deposit.detected', data: { amount: '1.5' } });
    const signature = new Webhook(secret).sign('msg_1', new Date(NOW_MS), body);
    const good = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(NOW_S), 'webhook-signature': signature };
    expect(verifyWith(standardWebhooks, good, body, [secret]).ok).toBe(true);
    for (let i = 0; i < body.length; i++) {
      expect(verifyWith(standardWebhooks, good, flip(body, i), [secret]).ok, `body byte ${i}`).toBe(false);
    }
    for (let i = 3; i < signature.length; i++) {
      expect(verifyWith(standardWebhooks, { ...good, 'webhook-signature': flip(signature, i) }, body, [secret]).ok, `sig byte ${i}`).toBe(
        false,
      );
    }
    expect(verifyWith(standardWebhooks, { ...good, 'webhook-id': 'msg_2' }, body, [secret]).ok).toBe(false);
    expect(verifyWith(standardWebhooks, { ...good, 'webhook-timestamp': String(NOW_S + 1) }, body, [secret]).ok).toBe(false);
  });

  it('rotation: any configured secret and any listed signature may match', () => {
    const old_secret = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const new_secret = `whsec_${Buffer.alloc(24, 2).toString('base64')}`;
    const other = `whsec_${Buffer.alloc(24, 3).toString('base64')}`;
    const body = '{"id":"evt"}';
    const by_old = new Webhook(old_secret).sign('m', new Date(NOW_MS), body);
    const by_other = new Webhook(other).sign('m', new Date(NOW_MS), body);
    const headers = (sig: string) => ({ 'webhook-id': 'm', 'webhook-timestamp': String(NOW_S), 'webhook-signature': sig });
    expect(verifyWith(standardWebhooks, headers(by_old), body, [new_secret, old_secret])).toMatchObject({ ok: true, key_index: 1 });
    expect(verifyWith(standardWebhooks, headers(`${by_other} ${by_old}`), body, [old_secret])).toMatchObject({ ok: true });
    expect(verifyWith(standardWebhooks, headers(`v1a,xyz ${by_old}`), body, [old_secret])).toMatchObject({ ok: true });
    expect(verifyWith(standardWebhooks, headers(by_other), body, [new_secret, old_secret])).toMatchObject({
      ok: false,
      reason: 'signature_invalid',
    });
  });

  it('timestamp tolerance applies in the past and the future', () => {
    const secret = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
    const body = '{}';
    for (const [skew_s, ok] of [
      [-300, true],
      [300, true],
      [-301, false],
      [301, false],
    ] as const) {
      const ts = NOW_S + skew_s;
      const sig = new Webhook(secret).sign('m', new Date(ts * 1000), body);
      const result = verifyWith(standardWebhooks, { 'webhook-id': 'm', 'webhook-timestamp': String(ts), 'webhook-signature': sig }, body, [
        secret,
      ]);
      expect(result.ok, `skew ${skew_s}`).toBe(ok);
      if (!ok) expect(result).toMatchObject({ reason: 'timestamp_out_of_tolerance' });
    }
  });

  it('missing and malformed headers are named', () => {
    const secret = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
    expect(verifyWith(standardWebhooks, {}, '{}', [secret])).toMatchObject({ ok: false, reason: 'signature_missing' });
    expect(verifyWith(standardWebhooks, { 'webhook-id': 'm', 'webhook-signature': 'v1,abc' }, '{}', [secret])).toMatchObject({
      ok: false,
      reason: 'timestamp_missing',
    });
    expect(
      verifyWith(standardWebhooks, { 'webhook-id': 'm', 'webhook-timestamp': '1e9', 'webhook-signature': 'v1,abc' }, '{}', [secret]),
    ).toMatchObject({ ok: false, reason: 'timestamp_invalid' });
    expect(
      verifyWith(standardWebhooks, { 'webhook-id': 'm', 'webhook-timestamp': String(NOW_S), 'webhook-signature': 'v1,abc' }, '{}', []),
    ).toMatchObject({ ok: false, reason: 'no_secret_configured' });
  });

  it('rejects malformed secrets without echoing them', () => {
    expect(() => decodeStandardWebhooksSecret('whsec_not base64!')).toThrow(/base64/);
    expect(() => decodeStandardWebhooksSecret('whsec_c2hvcnQ=')).toThrow(/bytes/);
    try {
      decodeStandardWebhooksSecret('whsec_sup3r$ecret');
    } catch (error) {
      expect((error as Error).message).not.toContain('sup3r');
    }
  });
});

describe('Stripe-style (ledgerpay)', () => {
  const verifier = createStripeStyle('Ledgerpay-Signature');
  const stripe = new Stripe('sk_test_placeholder_for_signing_only');

  it('accepts headers produced by stripe.webhooks.generateTestHeaderString (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 16, maxLength: 60 }).filter((s) => !s.includes(',')),
        fc.string({ maxLength: 300 }),
        fc.integer({ min: -300, max: 300 }),
        (secret, payload, skew_s) => {
          const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: NOW_S + skew_s });
          expect(verifyWith(verifier, { 'ledgerpay-signature': header }, payload, [secret])).toMatchObject({ ok: true });
          const ours = verifier.sign({
            body: Buffer.from(payload),
            key: Buffer.from(secret),
            timestamp_s: NOW_S + skew_s,
            delivery_id: '',
          });
          expect(ours['ledgerpay-signature']).toBe(header);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('ignores unknown schemes (v0), honours any v1, and fails a flipped byte', () => {
    const secret = 'whsec_ledgerpay_test_secret_1';
    const payload = '{"id":"evt_1","object":"event"}';
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: NOW_S });
    const v1 = header.split(',')[1]!;
    const with_v0 = `t=${NOW_S},v0=${'0'.repeat(64)},v1=${'f'.repeat(64)},${v1}`;
    expect(verifyWith(verifier, { 'ledgerpay-signature': with_v0 }, payload, [secret]).ok).toBe(true);
    expect(verifyWith(verifier, { 'ledgerpay-signature': `t=${NOW_S},v0=${v1.slice(3)}` }, payload, [secret])).toMatchObject({
      ok: false,
      reason: 'signature_missing',
    });
    for (let i = 0; i < payload.length; i++) {
      expect(verifyWith(verifier, { 'ledgerpay-signature': header }, flip(payload, i), [secret]).ok).toBe(false);
    }
    for (let i = header.indexOf('v1=') + 3; i < header.length; i++) {
      expect(verifyWith(verifier, { 'ledgerpay-signature': flip(header, i) }, payload, [secret]).ok, `header byte ${i}`).toBe(false);
    }
  });

  it('rotation and tolerance', () => {
    const old_secret = 'ledgerpay_old_secret_value';
    const new_secret = 'ledgerpay_new_secret_value';
    const payload = '{}';
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: old_secret, timestamp: NOW_S });
    expect(verifyWith(verifier, { 'ledgerpay-signature': header }, payload, [new_secret, old_secret])).toMatchObject({
      ok: true,
      key_index: 1,
    });
    expect(verifyWith(verifier, { 'ledgerpay-signature': header }, payload, [new_secret]).ok).toBe(false);
    const stale = stripe.webhooks.generateTestHeaderString({ payload, secret: old_secret, timestamp: NOW_S - 301 });
    const future = stripe.webhooks.generateTestHeaderString({ payload, secret: old_secret, timestamp: NOW_S + 301 });
    expect(verifyWith(verifier, { 'ledgerpay-signature': stale }, payload, [old_secret])).toMatchObject({
      ok: false,
      reason: 'timestamp_out_of_tolerance',
    });
    expect(verifyWith(verifier, { 'ledgerpay-signature': future }, payload, [old_secret])).toMatchObject({
      ok: false,
      reason: 'timestamp_out_of_tolerance',
    });
  });
});

describe('hex HMAC with timestamp header (custodian-x)', () => {
  const verifier = createHexHmac('X-Signature', 'X-Timestamp');
  const secret = 'custodian_x_test_secret_value';

  it('matches an independent HMAC computed with WebCrypto', async () => {
    const body = '{"notification_id":"ntf_1"}';
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${NOW_S}.${body}`));
    const hex = Buffer.from(mac).toString('hex');
    expect(verifyWith(verifier, { 'x-signature': hex, 'x-timestamp': String(NOW_S) }, body, [secret])).toMatchObject({ ok: true });
    expect(verifyWith(verifier, { 'x-signature': hex, 'x-timestamp': String(NOW_S + 1) }, body, [secret]).ok).toBe(false);
    expect(verifyWith(verifier, { 'x-signature': hex.toUpperCase(), 'x-timestamp': String(NOW_S) }, body, [secret]).ok).toBe(false);
    expect(verifyWith(verifier, { 'x-signature': flip(hex, 10), 'x-timestamp': String(NOW_S) }, body, [secret]).ok).toBe(false);
    expect(verifyWith(verifier, { 'x-signature': hex }, body, [secret])).toMatchObject({ ok: false, reason: 'timestamp_missing' });
    expect(verifyWith(verifier, { 'x-timestamp': String(NOW_S) }, body, [secret])).toMatchObject({
      ok: false,
      reason: 'signature_missing',
    });
  });

  it('rotation: a list of signatures and a list of secrets', () => {
    const body = '{}';
    const sig = verifier.sign({ body: Buffer.from(body), key: Buffer.from(secret), timestamp_s: NOW_S, delivery_id: '' });
    const other = verifier.sign({
      body: Buffer.from(body),
      key: Buffer.from('another_secret_value_xx'),
      timestamp_s: NOW_S,
      delivery_id: '',
    });
    expect(
      verifyWith(verifier, { 'x-signature': `${other['x-signature']},${sig['x-signature']}`, 'x-timestamp': String(NOW_S) }, body, [secret])
        .ok,
    ).toBe(true);
    expect(verifyWith(verifier, sig, body, ['another_secret_value_xx', secret])).toMatchObject({ ok: true, key_index: 1 });
  });
});

describe('constantTimeEqual', () => {
  it('is plain equality for equal and different lengths', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        (a, b) => constantTimeEqual(a, b) === Buffer.from(a, 'latin1').equals(Buffer.from(b, 'latin1')),
      ),
    );
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});
