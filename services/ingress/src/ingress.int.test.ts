/**
 * Ingress against real Kafka + registry, from outside: the service runs as its own process
 * (src/main.ts) exactly as deployed, and the test speaks HTTP to it and reads Kafka back.
 */
import { baseConfigSchema, loadConfig, type AuditRecord, type CanonicalEvent } from '@tidemark/common';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWhsecSecret, signWebhook } from './index.js';
import { createNamespace, freePort, readTopic, spawnIngress, type ChildIngress, type ReadRecord } from './test-support/harness.js';
import { post, type RawResponse } from './test-support/http.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const config = loadConfig(baseConfigSchema);
const prefix = `ingress-it-${randomUUID().slice(0, 8)}.`;
const work_dir = mkdtempSync(join(tmpdir(), 'tidemark-ingress-it-'));

const GENERIC_SECRET = generateWhsecSecret();
const GENERIC_SECRET_OLD = generateWhsecSecret();
const LEDGERPAY_SECRET = `lp_live_${randomUUID().replace(/-/g, '')}`;
const CUSTODIAN_SECRET = `cx_${randomUUID().replace(/-/g, '')}${randomUUID().replace(/-/g, '')}`;
const SECRETS = [GENERIC_SECRET, GENERIC_SECRET_OLD, LEDGERPAY_SECRET, CUSTODIAN_SECRET];

const GENERIC = { type: 'standard-webhooks' } as const;
const LEDGERPAY = { type: 'stripe-style', signature_header: 'Ledgerpay-Signature' } as const;
const CUSTODIAN = { type: 'hex-hmac', signature_header: 'X-Signature', timestamp_header: 'X-Timestamp' } as const;

/** The shipped profiles plus two that exercise the IP allowlist and trusted proxies. */
function writeProviders(): string {
  const shipped = JSON.parse(readFileSync(new URL('../config/providers.json', import.meta.url), 'utf8')) as { providers: unknown[] };
  const file = join(work_dir, 'providers.json');
  writeFileSync(join(work_dir, 'restricted.secrets'), `# rotated list\n${GENERIC_SECRET}\n`);
  writeFileSync(
    file,
    JSON.stringify({
      providers: [
        ...shipped.providers,
        { id: 'restricted', scheme: GENERIC, secrets_file: 'restricted.secrets', ip_allowlist: ['203.0.113.0/24'], mapper: 'generic' },
        {
          id: 'proxied',
          scheme: GENERIC,
          secrets_env: 'TIDEMARK_GENERIC_SECRETS',
          ip_allowlist: ['198.51.100.0/24'],
          trusted_proxies: ['127.0.0.1/32'],
          mapper: 'generic',
        },
      ],
    }),
  );
  return file;
}

/** occurred_at per event id, fixed at first use, so building the same body twice (once to sign, once to send) gives the same bytes. */
const occurredAt = new Map<string, string>();

function genericBody(event_id: string, overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}): string {
  if (!occurredAt.has(event_id)) occurredAt.set(event_id, new Date(Date.now() - 1500).toISOString());
  return JSON.stringify({
    id: event_id,
    type: 'deposit.confirmed',
    occurred_at: occurredAt.get(event_id),
    data: {
      transaction_id: `tx_${event_id}`,
      wallet_id: 'wal_42',
      asset: 'BTC',
      network: 'bitcoin',
      amount: '0.50000000',
      confirmations: 3,
      counterparty: { name: 'ACME GmbH', country: 'DE' },
      ...data,
    },
    ...overrides,
  });
}

/** `body` with its signature headers (generic's scheme and secret unless told; `headers` added after signing). */
function signed<B extends string | Buffer>(
  body: B,
  opts: { scheme?: Parameters<typeof signWebhook>[0]; secret?: string; timestamp_s?: number; headers?: Record<string, string> } = {},
): { headers: Record<string, string>; body: B } {
  const { scheme = GENERIC, secret = GENERIC_SECRET, headers = {}, ...sign } = opts;
  return { headers: { ...signWebhook(scheme, secret, body, sign), ...headers }, body };
}

const sha256 = (body: string | Buffer) => createHash('sha256').update(body).digest('hex');
const now_s = () => Math.floor(Date.now() / 1000);

/** Waits until the ingress at `url` reports `n` webhook requests in flight (its /metrics gauge), instead of sleeping and hoping. */
async function untilInFlight(url: string, n: number, timeout_ms = 10_000): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = Number(/^tidemark_ingress_in_flight_requests(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1]);
    if (value === n) return;
    if (Date.now() > deadline) throw new Error(`${url} did not reach ${n} requests in flight within ${timeout_ms} ms (last: ${value})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Sent {
  name: string;
  response: RawResponse;
  body: string | Buffer;
  event_id: string;
}

describe.skipIf(SKIP)('ingress service (real Kafka + registry)', () => {
  let ns: Awaited<ReturnType<typeof createNamespace>>;
  let main: ChildIngress;
  let common_env: Record<string, string>;
  const accepted: Sent[] = [];
  const hostile: Array<Sent & { status: number; reason: string; provider: string | null; body_read: boolean }> = [];
  const signatures_sent: string[] = [];
  let events: ReadRecord<CanonicalEvent>[] = [];
  let audits: ReadRecord<AuditRecord>[] = [];

  beforeAll(async () => {
    ns = await createNamespace(config, prefix);
    common_env = {
      TIDEMARK_TOPIC_PREFIX: prefix,
      TIDEMARK_INGRESS_PROVIDERS_FILE: writeProviders(),
      TIDEMARK_GENERIC_SECRETS: `${GENERIC_SECRET},${GENERIC_SECRET_OLD}`,
      TIDEMARK_LEDGERPAY_SECRETS: LEDGERPAY_SECRET,
      TIDEMARK_CUSTODIAN_X_SECRETS: CUSTODIAN_SECRET,
      // Debug level: the widest log surface for the secret grep below.
      TIDEMARK_LOG_LEVEL: 'debug',
      TIDEMARK_OTLP_ENDPOINT: 'http://127.0.0.1:4318/v1/traces',
      TIDEMARK_INGRESS_HEADERS_TIMEOUT_MS: '1000',
      TIDEMARK_INGRESS_REQUEST_TIMEOUT_MS: '3000',
    };
    main = await spawnIngress(common_env);
  });

  afterAll(async () => {
    await main?.stop('SIGKILL');
    await ns?.cleanup();
    rmSync(work_dir, { recursive: true, force: true });
  });

  async function send(
    name: string,
    provider: string,
    headers: Record<string, string>,
    body: string | Buffer | Buffer[],
    target = main.url,
  ): Promise<RawResponse> {
    for (const [k, v] of Object.entries(headers)) if (/signature/i.test(k)) signatures_sent.push(v.replace(/^v1,/, ''));
    return post(`${target}/webhooks/${provider}`, headers, body);
  }

  it('accepts signed webhooks of all three providers with 202 {id, event_id} only', async () => {
    const g = genericBody('evt_ok_generic');
    const l = JSON.stringify({
      id: 'evt_ok_ledgerpay',
      object: 'event',
      created: now_s() - 2,
      type: 'crypto_deposit.succeeded',
      data: {
        object: { id: 'cdep_1', object: 'crypto_deposit', wallet: 'wal_7', currency: 'usdc', network: 'ethereum', amount: '125.50' },
      },
    });
    const c = JSON.stringify({
      notification_id: 'evt_ok_custodian',
      kind: 'transfer.updated',
      timestamp_ms: Date.now() - 3,
      transfer: {
        id: 'trf_1',
        direction: 'OUTGOING',
        state: 'SUBMITTED',
        vault_id: 'wal_8',
        asset_id: 'ETH',
        chain: 'ethereum',
        amount_base_units: '1500000000000000000',
        decimals: 18,
      },
    });
    const cases: Array<[string, string, Record<string, string>, string]> = [
      ['generic', 'evt_ok_generic', signWebhook(GENERIC, GENERIC_SECRET, g), g],
      [
        'generic',
        'evt_ok_generic_rotated',
        signWebhook(GENERIC, GENERIC_SECRET_OLD, genericBody('evt_ok_generic_rotated')),
        genericBody('evt_ok_generic_rotated'),
      ],
      ['ledgerpay', 'evt_ok_ledgerpay', signWebhook(LEDGERPAY, LEDGERPAY_SECRET, l), l],
      ['custodian-x', 'evt_ok_custodian', signWebhook(CUSTODIAN, CUSTODIAN_SECRET, c), c],
    ];
    for (const [provider, event_id, headers, body] of cases) {
      // The rotated case must be signed over its own body.
      const h = event_id === 'evt_ok_generic_rotated' ? signWebhook(GENERIC, GENERIC_SECRET_OLD, body) : headers;
      const response = await send(event_id, provider, h, body);
      expect(response.status, `${provider} ${response.text}`).toBe(202);
      expect(Object.keys(response.json as object).sort()).toEqual(['event_id', 'id']);
      expect(response.json).toMatchObject({ event_id, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      accepted.push({ name: event_id, response, body, event_id });
    }
  });

  it('redelivery of the same event (even the identical request) is 202 again; dedupe is downstream', async () => {
    const body = genericBody('evt_redelivered');
    const headers = signWebhook(GENERIC, GENERIC_SECRET, body, { delivery_id: 'msg_same' });
    const first = await send('redelivery 1', 'generic', headers, body);
    const second = await send('redelivery 2', 'generic', headers, body);
    const third = await send('redelivery 3', 'generic', signWebhook(GENERIC, GENERIC_SECRET, body), body);
    for (const r of [first, second, third]) {
      expect(r.status).toBe(202);
      accepted.push({ name: 'redelivery', response: r, body, event_id: 'evt_redelivered' });
    }
    expect(new Set([first, second, third].map((r) => (r.json as { id: string }).id)).size).toBe(3);
  });

  it('an unknown event type is accepted (recorded and audited, not projected)', async () => {
    const body = genericBody('evt_unknown_type', { type: 'card.issued' }, { amount: undefined });
    const r = await send('unknown type', 'generic', signWebhook(GENERIC, GENERIC_SECRET, body), body);
    expect(r.status).toBe(202);
    accepted.push({ name: 'unknown type', response: r, body, event_id: 'evt_unknown_type' });
  });

  it('honours X-Forwarded-For only from a trusted proxy', async () => {
    const body = genericBody('evt_via_proxy');
    const r = await send(
      'proxied',
      'proxied',
      { ...signWebhook(GENERIC, GENERIC_SECRET, body), 'x-forwarded-for': '192.0.2.1, 198.51.100.7' },
      body,
    );
    expect(r.status, r.text).toBe(202);
    accepted.push({ name: 'proxied', response: r, body, event_id: 'evt_via_proxy' });
  });

  /** The contract, by status: which refusals answer it, and whether the body was read first (then the audit carries its hash). */
  const REFUSALS: Array<[status: number, body_read: boolean, reasons: string[]]> = [
    [401, true, ['signature_invalid', 'signature_missing', 'timestamp_missing', 'timestamp_out_of_tolerance']],
    [400, true, ['json_too_deep', 'invalid_utf8', 'invalid_json', 'schema_validation_failed', 'unsupported_content_type']],
    [413, false, ['body_too_large']],
    [404, false, ['unknown_provider']],
    [403, false, ['ip_not_allowed']],
  ];
  function refusal(reason: string): { status: number; body_read: boolean } {
    const [status, body_read] = REFUSALS.find(([, , reasons]) => reasons.includes(reason))!;
    return { status, body_read };
  }

  it('hostile input gets the contract status and a machine-readable error', async () => {
    const other_secret = generateWhsecSecret();
    const id = (n: string) => `evt_hostile_${n}`;
    const big = (n: string) => genericBody(id(n), {}, { note: 'x'.repeat(300 * 1024) });
    const deep = `{"id":"${id('deep')}","type":"deposit.confirmed","occurred_at":"2026-01-01T00:00:00Z","data":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const bad_utf8 = Buffer.concat([
      Buffer.from(`{"id":"${id('utf8')}","type":"deposit.confirmed","occurred_at":"2026-01-01T00:00:00Z","data":{"wallet_id":"`),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}}'),
    ]);
    const flipped = genericBody(id('flipped'));
    const flipped_headers = signWebhook(GENERIC, GENERIC_SECRET, flipped);
    const captured_body = genericBody(id('replayed'));
    const captured = signWebhook(GENERIC, GENERIC_SECRET, captured_body, { timestamp_s: now_s() - 600 });
    const lp = JSON.stringify({
      id: id('ledgerpay_forged'),
      object: 'event',
      created: now_s(),
      type: 'crypto_deposit.succeeded',
      data: { object: { id: 'cdep_9', object: 'crypto_deposit' } },
    });
    const cx = JSON.stringify({ notification_id: id('custodian_stale'), kind: 'transfer.updated', timestamp_ms: Date.now() });

    type Case = {
      name: string;
      provider: string;
      headers: Record<string, string>;
      body: string | Buffer | Buffer[];
      reason: string;
    };
    const cases: Case[] = [
      {
        name: 'forged (wrong secret)',
        provider: 'generic',
        ...signed(genericBody(id('forged')), { secret: other_secret }),
        reason: 'signature_invalid',
      },
      {
        name: 'one flipped byte in the body',
        provider: 'generic',
        headers: flipped_headers,
        body: flipped.replace('wal_42', 'wal_43'),
        reason: 'signature_invalid',
      },
      {
        name: 'missing signature headers',
        provider: 'generic',
        headers: { 'content-type': 'application/json' },
        body: genericBody(id('unsigned')),
        reason: 'signature_missing',
      },
      {
        name: 'missing timestamp',
        provider: 'generic',
        headers: (({ 'webhook-timestamp': _, ...rest }) => rest)(signWebhook(GENERIC, GENERIC_SECRET, genericBody(id('no_ts')))),
        body: genericBody(id('no_ts')),
        reason: 'timestamp_missing',
      },
      {
        name: 'replayed capture (signed 10 minutes ago)',
        provider: 'generic',
        headers: captured,
        body: captured_body,
        reason: 'timestamp_out_of_tolerance',
      },
      {
        name: 'stale (301 s)',
        provider: 'generic',
        ...signed(genericBody(id('stale')), { timestamp_s: now_s() - 301 }),
        reason: 'timestamp_out_of_tolerance',
      },
      {
        name: 'future-dated (+310 s)',
        provider: 'generic',
        ...signed(genericBody(id('future')), { timestamp_s: now_s() + 310 }),
        reason: 'timestamp_out_of_tolerance',
      },
      { name: 'oversized with Content-Length', provider: 'generic', ...signed(big('big_cl')), reason: 'body_too_large' },
      {
        name: 'oversized chunked (no Content-Length)',
        provider: 'generic',
        headers: signWebhook(GENERIC, GENERIC_SECRET, big('big_chunked')),
        body: [Buffer.from(big('big_chunked').slice(0, 200_000)), Buffer.from(big('big_chunked').slice(200_000))],
        reason: 'body_too_large',
      },
      { name: 'deeply nested JSON', provider: 'generic', ...signed(deep), reason: 'json_too_deep' },
      { name: 'malformed UTF-8', provider: 'generic', ...signed(bad_utf8), reason: 'invalid_utf8' },
      { name: 'malformed JSON', provider: 'generic', ...signed(`{"id":"${id('json')}",`), reason: 'invalid_json' },
      {
        name: 'schema: amount as a JSON number',
        provider: 'generic',
        ...signed(genericBody(id('float'), {}, { amount: 0.5 })),
        reason: 'schema_validation_failed',
      },
      {
        name: 'schema: 19 decimals',
        provider: 'generic',
        ...signed(genericBody(id('decimals'), {}, { amount: '0.1234567890123456789' })),
        reason: 'schema_validation_failed',
      },
      {
        name: 'wrong content type',
        provider: 'generic',
        ...signed(genericBody(id('ctype')), { headers: { 'content-type': 'text/plain' } }),
        reason: 'unsupported_content_type',
      },
      { name: 'unknown provider', provider: 'acme-pay', ...signed(genericBody(id('unknown_provider'))), reason: 'unknown_provider' },
      { name: 'unlisted IP', provider: 'restricted', ...signed(genericBody(id('ip'))), reason: 'ip_not_allowed' },
      {
        name: 'spoofed X-Forwarded-For from an untrusted peer',
        provider: 'restricted',
        ...signed(genericBody(id('xff')), { headers: { 'x-forwarded-for': '203.0.113.5' } }),
        reason: 'ip_not_allowed',
      },
      {
        name: 'ledgerpay forged',
        provider: 'ledgerpay',
        ...signed(lp, { scheme: LEDGERPAY, secret: 'not_the_real_secret_123' }),
        reason: 'signature_invalid',
      },
      {
        name: 'custodian-x stale',
        provider: 'custodian-x',
        ...signed(cx, { scheme: CUSTODIAN, secret: CUSTODIAN_SECRET, timestamp_s: now_s() - 900 }),
        reason: 'timestamp_out_of_tolerance',
      },
    ];
    for (const c of cases) {
      const { status, body_read } = refusal(c.reason);
      const response = await send(c.name, c.provider, c.headers, c.body);
      expect(response.status, `${c.name}: ${response.text}`).toBe(status);
      expect(response.json, c.name).toEqual({ error: c.reason, message: expect.any(String) });
      const body = Array.isArray(c.body) ? Buffer.concat(c.body) : c.body;
      hostile.push({
        name: c.name,
        response,
        body,
        event_id: '',
        status,
        reason: c.reason,
        provider: c.provider === 'acme-pay' ? null : c.provider,
        body_read,
      });
    }
  });

  // Found by the fuzz campaign (test/fuzz): the 413 was written and the socket closed while the
  // client was still sending; the rest of the body made the server's kernel answer RST, which
  // discards the unread 413 on the client's side, so the provider saw a reset instead of 413.
  it('a client that sends its whole oversized body before reading still gets the 413 (connection: close, chunked or not)', async () => {
    for (const chunked of [true, false]) {
      const body = Buffer.from(genericBody('evt_hostile_big_then_read', {}, { note: 'x'.repeat(600 * 1024) }));
      const signed = signWebhook(GENERIC, GENERIC_SECRET, body);
      const head =
        `POST /webhooks/generic HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n` +
        Object.entries(signed)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('') +
        (chunked ? 'transfer-encoding: chunked\r\n\r\n' : `content-length: ${body.length}\r\n\r\n`);
      const payload = chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
      const answer = await new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: main.port });
        const chunks: Buffer[] = [];
        socket.pause();
        socket.on('error', () => resolve(`reset after ${Buffer.concat(chunks).length} bytes`));
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        // A client on a slow link: the first 300 KiB (over the limit), a pause, the rest, and only then it reads.
        const wire = Buffer.concat([Buffer.from(head), payload]);
        socket.write(wire.subarray(0, 300 * 1024), () =>
          setTimeout(() => socket.write(wire.subarray(300 * 1024), () => setTimeout(() => socket.resume(), 300)), 300),
        );
      });
      expect(answer, chunked ? 'chunked' : 'content-length').toMatch(/^HTTP\/1\.1 413 /);
    }
  });

  it('oversized headers get 431 and are audited', async () => {
    const r = await post(
      `${main.url}/webhooks/generic`,
      { 'content-type': 'application/json', 'x-padding': 'p'.repeat(20_000) },
      '{}',
    ).catch((e: Error) => ({ status: -1, text: e.message }) as RawResponse);
    expect(r.status).toBe(431);
  });

  it('a slow-loris client (headers never finished) is cut off with 408', async () => {
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(main.port, '127.0.0.1', () => socket.write('POST /webhooks/generic HTTP/1.1\r\nHost: x\r\nwebhook-id: '));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('serves /healthz, /readyz, /metrics and /openapi.yaml', async () => {
    expect((await fetch(`${main.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${main.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { kafka: true, registry: true } });
    const metrics = await (await fetch(`${main.url}/metrics`)).text();
    expect(metrics).toMatch(/tidemark_ingress_requests_total\{[^}]*provider="generic"[^}]*status="202"[^}]*outcome="accepted"/);
    expect(metrics).toMatch(/tidemark_ingress_requests_total\{[^}]*status="413"[^}]*outcome="body_too_large"/);
    expect(metrics).toMatch(/tidemark_ingress_ack_latency_seconds_bucket/);
    expect(metrics).toMatch(/tidemark_ingress_event_lag_seconds_bucket\{[^}]*event_type="deposit.confirmed"/);
    const openapi = await fetch(`${main.url}/openapi.yaml`);
    expect(await openapi.text()).toMatch(/^openapi: 3\.1\.0/);
    expect((await fetch(`${main.url}/webhooks/generic`)).status).toBe(405);
  });

  it('Kafka unavailable → 503 + Retry-After, 429 under overload, and the provider retry is accepted once Kafka is back', async () => {
    const closed_port = await freePort();
    const down = await spawnIngress(
      {
        ...common_env,
        TIDEMARK_KAFKA_BROKERS: `127.0.0.1:${closed_port}`,
        TIDEMARK_INGRESS_ACK_TIMEOUT_MS: '1000',
        TIDEMARK_INGRESS_CONCURRENT_REQUESTS_MAX: '3',
      },
      { ready: false },
    );
    try {
      const body = genericBody('evt_retried_after_503');
      const started = Date.now();
      const r = await send('kafka down', 'generic', signWebhook(GENERIC, GENERIC_SECRET, body), body, down.url);
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toMatch(/^[0-9]+$/);
      expect(r.json).toEqual({ error: 'kafka_unavailable', message: expect.any(String) });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect((await fetch(`${down.url}/readyz`)).status).toBe(503);

      // Overload: hold three requests open mid-body, the fourth is refused with 429.
      const held = await Promise.all([0, 1, 2].map(() => openPartialRequest(down.port, 'generic')));
      await untilInFlight(down.url, 3);
      const overloaded = await send('overloaded', 'generic', signWebhook(GENERIC, GENERIC_SECRET, body), body, down.url);
      expect(overloaded.status).toBe(429);
      expect(overloaded.headers['retry-after']).toMatch(/^[0-9]+$/);
      for (const socket of held) socket.destroy();

      // The provider retries (a new delivery attempt, freshly signed) against a healthy ingress.
      const retry = await send('retry after 503', 'generic', signWebhook(GENERIC, GENERIC_SECRET, body), body);
      expect(retry.status).toBe(202);
      accepted.push({ name: 'retry after 503', response: retry, body, event_id: 'evt_retried_after_503' });
    } finally {
      await down.stop();
    }
  });

  it('serves HTTPS when given a certificate and key', async () => {
    const cert = join(work_dir, 'cert.pem');
    const key = join(work_dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const tls = await spawnIngress({ ...common_env, TIDEMARK_INGRESS_TLS_CERT: cert, TIDEMARK_INGRESS_TLS_KEY: key });
    try {
      const body = genericBody('evt_over_https');
      const r = await post(`${tls.url}/webhooks/generic`, signWebhook(GENERIC, GENERIC_SECRET, body), body, { ca: readFileSync(cert) });
      expect(r.status, r.text).toBe(202);
      accepted.push({ name: 'https', response: r, body, event_id: 'evt_over_https' });
    } finally {
      await tls.stop();
    }
  });

  it('graceful shutdown: requests in flight at SIGTERM complete with 202; the process exits 0', async () => {
    const bodies = [0, 1, 2].map((i) => genericBody(`evt_in_flight_${i}`));
    const pending = bodies.map((body) => {
      const headers = signWebhook(GENERIC, GENERIC_SECRET, body);
      return startSlowPost(main.port, '/webhooks/generic', headers, body);
    });
    // All three must be in flight (headers read) when SIGTERM arrives; one still being parsed would be cut off as idle.
    await untilInFlight(main.url, 3);
    const exit = main.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const p of pending) p.finish();
    const responses = await Promise.all(pending.map((p) => p.response));
    responses.forEach((r, i) => {
      expect(r.status, r.text).toBe(202);
      accepted.push({ name: `in flight ${i}`, response: r, body: bodies[i]!, event_id: `evt_in_flight_${i}` });
    });
    expect(await exit).toBe(0);
  });

  it('every 202 has its record in webhooks.received.v1 and an accepted audit; no hostile event reached the topic', async () => {
    events = await readTopic<CanonicalEvent>(ns.kafka, config.TIDEMARK_REGISTRY_URL, prefix, 'webhooks.received.v1');
    audits = await readTopic<AuditRecord>(ns.kafka, config.TIDEMARK_REGISTRY_URL, prefix, 'audit.v1');
    const by_ingress_id = new Map(events.map((e) => [e.value.ingress_id, e]));
    for (const a of accepted) {
      const { id, event_id } = a.response.json as { id: string; event_id: string };
      const record = by_ingress_id.get(id);
      expect(record, `${a.name}: record ${id}`).toBeDefined();
      expect(record!.value.event_id).toBe(event_id);
      expect(record!.value.body_sha256).toBe(sha256(a.body));
      expect(record!.key).toBe(record!.value.partition_key);
      expect(record!.headers.traceparent, `${a.name}: traceparent header`).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const audit = audits.find((x) => x.value.action === 'accepted' && x.value.details.ingress_id === id);
      expect(audit, `${a.name}: accepted audit`).toBeDefined();
      expect(audit!.value).toMatchObject({ stage: 'ingress', event_id, details: { body_sha256: sha256(a.body), status: '202' } });
    }
    expect(events.length).toBe(accepted.length);
    expect(events.filter((e) => e.value.event_id.startsWith('evt_hostile_'))).toEqual([]);
    // The retry after the 503 landed exactly once (the refused attempt wrote nothing).
    expect(events.filter((e) => e.value.event_id === 'evt_retried_after_503')).toHaveLength(1);
    expect(events.find((e) => e.value.event_id === 'evt_unknown_type')!.value.event_type).toBe('card.issued');
    expect(audits.find((x) => x.value.event_id === 'evt_unknown_type')!.value.details.unknown_event_type).toBe('true');
    expect(events.find((e) => e.value.event_id === 'evt_ok_custodian')!.value).toMatchObject({
      event_type: 'withdrawal.requested',
      amount: '1.5',
      partition_key: 'wal_8',
    });
  });

  it('every rejected request left an audit record with reason, status, source IP and (when read) the body hash', () => {
    const rejected = audits.filter((a) => a.value.action === 'rejected');
    for (const h of hostile) {
      const candidates = rejected.filter(
        (a) => a.value.reason === h.reason && a.value.details.status === String(h.status) && a.value.provider === h.provider,
      );
      if (h.body_read) {
        const match = candidates.find((a) => a.value.details.body_sha256 === sha256(h.body));
        expect(match, `${h.name}: audit with body hash`).toBeDefined();
        expect(match!.value.details.source_ip).toBe('127.0.0.1');
      } else {
        expect(candidates.length, `${h.name}: audit`).toBeGreaterThan(0);
      }
    }
    expect(rejected.some((a) => a.value.reason === 'headers_too_large' && a.value.details.status === '431')).toBe(true);
    expect(rejected.some((a) => a.value.reason === 'request_timeout' && a.value.details.status === '408')).toBe(true);
    // Rejected audits carry facts, never bodies or signatures.
    const serialized = JSON.stringify(rejected.map((a) => a.value));
    for (const sig of signatures_sent) expect(serialized).not.toContain(sig);
  });

  it('no secret appears in any log line, error body, audit record or event', () => {
    const haystacks = [
      ...main.output,
      ...[...accepted, ...hostile].map((s) => s.response.text),
      JSON.stringify(audits.map((a) => a.value)),
      JSON.stringify(events.map((e) => e.value)),
    ].join('\n');
    expect(main.output.length).toBeGreaterThan(20);
    for (const secret of SECRETS) {
      expect(haystacks.includes(secret)).toBe(false);
      expect(haystacks.includes(secret.replace(/^whsec_/, ''))).toBe(false);
    }
    const logs = main.output.join('\n');
    for (const sig of signatures_sent) expect(logs.includes(sig), 'signature in logs').toBe(false);
  });
});

/** Opens a request and sends headers plus part of the body, then holds it (occupies a slot). */
function openPartialRequest(port: number, provider: string) {
  return new Promise<import('node:net').Socket>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST /webhooks/${provider} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"id":`);
      resolve(socket);
    });
    socket.on('error', () => undefined);
  });
}

/** Sends headers and the first half of the body now, the rest when `finish()` is called. */
function startSlowPost(port: number, path: string, headers: Record<string, string>, body: string) {
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  let text = '';
  let finishNow: () => void = () => undefined;
  const response = new Promise<RawResponse>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const head = Object.entries({ ...headers, host: 'x', 'content-length': String(bytes.length), connection: 'close' })
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n');
      socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n\r\n`);
      socket.write(bytes.subarray(0, half));
      finishNow = () => socket.write(bytes.subarray(half));
    });
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const payload = text.slice(text.indexOf('\r\n\r\n') + 4);
      let json: unknown = null;
      try {
        json = JSON.parse(payload);
      } catch {
        json = null;
      }
      resolve({ status, headers: {}, text: payload, json });
    });
  });
  return { response, finish: () => finishNow() };
}
