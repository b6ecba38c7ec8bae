import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../signing.js';
import { isJsonContentType, verifyAndNormalize, checkSource, sha256Hex } from './intake.js';
import { parseProfiles, resolveProvider, ProfileError } from './profiles.js';

const shipped = readFileSync(new URL('../../config/providers.json', import.meta.url), 'utf8');
const SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;

describe('provider profiles', () => {
  it('the shipped file defines generic + two more providers, none with a secret in it', () => {
    const specs = parseProfiles(shipped);
    expect(specs.map((s) => s.id)).toEqual(['generic', 'ledgerpay', 'custodian-x']);
    expect(specs.find((s) => s.id === 'generic')).toMatchObject({
      scheme: { type: 'standard-webhooks' },
      secrets_env: 'TIDEMARK_GENERIC_SECRETS',
      tolerance_s: 300,
      body_limit_bytes: 262144,
    });
    expect(shipped).not.toMatch(/whsec_[A-Za-z0-9+/]{8,}/);
  });

  it('secrets come from the env list and/or a file, in order (rotation)', () => {
    const [generic] = parseProfiles(
      JSON.stringify({
        providers: [{ id: 'g', scheme: { type: 'standard-webhooks' }, secrets_env: 'G_SECRETS', secrets_file: 'g.txt', mapper: 'generic' }],
      }),
    );
    const other = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const provider = resolveProvider(generic!, { env: { G_SECRETS: ` ${SECRET} , ` }, readFile: () => `# comment\n${other}\n` });
    expect(provider.keys).toHaveLength(2);
    expect(provider.secrets).toEqual([SECRET, other]);
  });

  it('errors name the provider and source but never the secret value', () => {
    const [spec] = parseProfiles(
      JSON.stringify({ providers: [{ id: 'g', scheme: { type: 'standard-webhooks' }, secrets_env: 'G', mapper: 'generic' }] }),
    );
    try {
      resolveProvider(spec!, { env: { G: 'whsec_TOPSECRET!!' }, readFile: () => '' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ProfileError);
      expect((error as Error).message).toMatch(/provider g: secret #1 from G is invalid/);
      expect((error as Error).message).not.toContain('TOPSECRET');
    }
    expect(() =>
      parseProfiles(
        JSON.stringify({
          providers: [{ id: 'g', scheme: { type: 'standard-webhooks' }, ip_allowlist: ['10.0.0.0/33'], mapper: 'generic' }],
        }),
      ),
    ).toThrow(/ip_allowlist\.0/);
    expect(() => parseProfiles(JSON.stringify({ providers: [{ id: 'g', scheme: { type: 'nope' }, mapper: 'generic' }] }))).toThrow(
      /scheme/,
    );
    expect(() =>
      parseProfiles(JSON.stringify({ providers: [{ id: 'g', scheme: { type: 'standard-webhooks' }, mapper: 'missing' }] })),
    ).toThrow(/mapper/);
    const dup = { id: 'g', scheme: { type: 'standard-webhooks' }, mapper: 'generic' };
    expect(() => parseProfiles(JSON.stringify({ providers: [dup, dup] }))).toThrow(/duplicate provider id g/);
  });
});

describe('intake decisions', () => {
  const [spec] = parseProfiles(shipped);
  const provider = resolveProvider(spec!, { env: { TIDEMARK_GENERIC_SECRETS: SECRET }, readFile: () => '' });
  const body = Buffer.from(
    JSON.stringify({
      id: 'evt_1',
      type: 'deposit.detected',
      occurred_at: '2026-11-23T10:00:00Z',
      data: { transaction_id: 't', wallet_id: 'w', asset: 'BTC', network: 'bitcoin', amount: '1' },
    }),
  );
  const request = (headers: Record<string, string>, content_type: string | undefined = 'application/json', b = body) => ({
    headers: (n: string) => headers[n],
    content_type,
    body: b,
    body_sha256: sha256Hex(b),
    now_ms: Date.now(),
    ingress_id: 'i-1',
  });

  it('JSON content types', () => {
    for (const ok of [
      undefined,
      '',
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/cloudevents+json',
    ])
      expect(isJsonContentType(ok), String(ok)).toBe(true);
    for (const bad of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'text/json',
    ])
      expect(isJsonContentType(bad), bad).toBe(false);
  });

  it('authenticates before parsing: an unsigned non-JSON body is 401, a signed one is 400', () => {
    const garbage = Buffer.from('<xml/>');
    expect(verifyAndNormalize(provider, request({}, 'application/xml', garbage))).toMatchObject({ ok: false, rejection: { status: 401 } });
    const signed = signWebhook({ type: 'standard-webhooks' }, SECRET, garbage);
    expect(verifyAndNormalize(provider, request(signed, 'application/xml', garbage))).toMatchObject({
      ok: false,
      rejection: { status: 400, error: 'unsupported_content_type' },
    });
    expect(verifyAndNormalize(provider, request(signed, 'application/json', garbage))).toMatchObject({
      ok: false,
      rejection: { status: 400, error: 'invalid_json' },
    });
  });

  it('accepts a signed valid body, reporting the event', () => {
    const signed = signWebhook({ type: 'standard-webhooks' }, SECRET, body);
    expect(verifyAndNormalize(provider, request(signed))).toMatchObject({
      ok: true,
      known_type: true,
      event: { event_id: 'evt_1', ingress_id: 'i-1', provider: 'generic' },
    });
  });

  it('a schema failure of an authenticated body still names the event id for the audit', () => {
    const bad = Buffer.from(
      JSON.stringify({ id: 'evt_bad', type: 'deposit.detected', occurred_at: '2026-11-23T10:00:00Z', data: { amount: 1 } }),
    );
    const signed = signWebhook({ type: 'standard-webhooks' }, SECRET, bad);
    expect(verifyAndNormalize(provider, request(signed, 'application/json', bad))).toMatchObject({
      ok: false,
      rejection: { status: 400, error: 'schema_validation_failed', event_id: 'evt_bad', event_type: 'deposit.detected' },
    });
  });

  it('a provider without secrets rejects everything 401', () => {
    const none = resolveProvider(spec!, { env: {}, readFile: () => '' });
    const signed = signWebhook({ type: 'standard-webhooks' }, SECRET, body);
    expect(verifyAndNormalize(none, request(signed))).toMatchObject({ ok: false, rejection: { status: 401, error: 'signature_invalid' } });
  });

  it('source checks use the allowlist and trusted proxies', () => {
    const [restricted] = parseProfiles(
      JSON.stringify({
        providers: [
          {
            id: 'r',
            scheme: { type: 'standard-webhooks' },
            ip_allowlist: ['198.51.100.0/24'],
            trusted_proxies: ['10.0.0.1'],
            mapper: 'generic',
          },
        ],
      }),
    );
    const r = resolveProvider(restricted!, { env: {}, readFile: () => '' });
    expect(checkSource(r, '198.51.100.9', undefined)).toEqual({ ok: true, source_ip: '198.51.100.9' });
    expect(checkSource(r, '10.0.0.1', '198.51.100.9')).toEqual({ ok: true, source_ip: '198.51.100.9' });
    expect(checkSource(r, '10.0.0.2', '198.51.100.9')).toMatchObject({
      ok: false,
      source_ip: '10.0.0.2',
      rejection: { status: 403, error: 'ip_not_allowed' },
    });
  });
});
