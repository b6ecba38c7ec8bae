import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TransientError } from '@tidemark/stream';
import { startFakeRiskApi, type FakeRiskApi } from '../fake-risk-api/server.js';
import { fakeScore } from '../fake-risk-api/scoring.js';
import { RISK_RESPONSE_BYTES_MAX, RiskApiClient, type RiskClientOptions } from './risk-client.js';

const API_KEY = 'test-risk-key-0123456789';
const EVM = '0x8589427373D6D84E98730D7795D8f6f8731FDA16';

let api: FakeRiskApi;
beforeAll(async () => {
  api = await startFakeRiskApi({ host: '127.0.0.1', port: 0, api_key: API_KEY });
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.setMode({ mode: 'ok', latency_ms: 0, fail_status: 503 });
});

function client(overrides: Partial<RiskClientOptions> = {}): RiskApiClient {
  return new RiskApiClient({
    base_url: api.url,
    api_key: API_KEY,
    timeout_ms: 500,
    breaker_error_threshold_pct: 50,
    breaker_volume_threshold: 3,
    breaker_rolling_window_ms: 10_000,
    breaker_reset_ms: 300,
    cache_ttl_ms: 0,
    cache_entries_max: 10,
    ...overrides,
  });
}

describe('fake risk API scoring', () => {
  it('is deterministic per address, case-insensitive for EVM, and spread over low/medium/high', () => {
    expect(fakeScore(EVM)).toEqual(fakeScore(EVM.toLowerCase()));
    const levels = { low: 0, medium: 0, high: 0 };
    for (let i = 0; i < 2_000; i++) levels[fakeScore(`0x${i.toString(16).padStart(40, '0')}`).risk_level]++;
    expect(levels.low).toBeGreaterThan(1_500);
    expect(levels.medium).toBeGreaterThan(100);
    expect(levels.high).toBeGreaterThan(40);
    for (let i = 0; i < 500; i++) {
      const { risk_score } = fakeScore(`addr${i}`);
      expect(risk_score).toMatch(/^\d{1,3}\.\d{2}$/);
      expect(Number(risk_score)).toBeLessThanOrEqual(100);
    }
  });
});

describe('RiskApiClient against the fake API', () => {
  it('returns the score and category as decimal strings', async () => {
    const c = client();
    const result = await c.assess({ address: EVM, network: 'ethereum', asset: 'ETH' });
    expect(result).toEqual({ address: EVM, status: 'scored', risk_score: fakeScore(EVM).risk_score, category: fakeScore(EVM).category });
    c.shutdown();
  });

  it('maps 422 (cannot score this address) to an unscoreable assessment, not a failure', async () => {
    const c = client();
    const result = await c.assess({ address: 'not an address', network: null, asset: null });
    expect(result).toMatchObject({ status: 'unscoreable' });
    expect(c.breakerState).toBe('closed');
    c.shutdown();
  });

  it('throws TransientError on 5xx, opens the circuit, fails fast while open, and recovers', async () => {
    const c = client();
    api.setMode({ mode: 'fail' });
    for (let i = 0; i < 3; i++)
      await expect(c.assess({ address: `${EVM}${i}`, network: null, asset: null })).rejects.toBeInstanceOf(TransientError);
    expect(c.breakerState).toBe('open');
    const calls = c.calls;
    await expect(c.assess({ address: EVM, network: null, asset: null })).rejects.toThrow(/circuit is open/);
    expect(c.calls).toBe(calls); // no HTTP call while open
    api.setMode({ mode: 'ok' });
    await new Promise((r) => setTimeout(r, 350));
    await expect(c.assess({ address: EVM, network: null, asset: null })).resolves.toMatchObject({ status: 'scored' });
    expect(c.breakerState).toBe('closed');
    c.shutdown();
  });

  it('times out a slow answer with TransientError within the timeout', async () => {
    const c = client({ timeout_ms: 150 });
    // The answer would take 5 s; giving up must take about 150 ms. The bound leaves room for a busy machine
    // (the old 1 s answer and 900 ms bound left 750 ms between a working timeout and a failing test).
    api.setMode({ latency_ms: 5_000 });
    const started = Date.now();
    await expect(c.assess({ address: EVM, network: null, asset: null })).rejects.toThrow(/no answer within 150 ms/);
    expect(Date.now() - started).toBeLessThan(3_000);
    c.shutdown();
  });

  it('treats 429 and a refused API key as transient', async () => {
    const c = client();
    api.setMode({ mode: 'fail', fail_status: 429 });
    await expect(c.assess({ address: EVM, network: null, asset: null })).rejects.toBeInstanceOf(TransientError);
    api.setMode({ mode: 'ok' });
    const wrongKey = client({ api_key: 'wrong-key-000000000' });
    await expect(wrongKey.assess({ address: EVM, network: null, asset: null })).rejects.toThrow(/refused our credentials/);
    c.shutdown();
    wrongKey.shutdown();
  });

  it('throws TransientError when nothing listens', async () => {
    const c = client({ base_url: 'http://127.0.0.1:9' });
    await expect(c.assess({ address: EVM, network: null, asset: null })).rejects.toThrow(/cannot reach/);
    expect(await c.healthy()).toBe(false);
    c.shutdown();
  });

  it('refuses an answer larger than the bound as transient, without reading it all', async () => {
    const huge = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ address: EVM, risk_score: '1', category: 'x'.repeat(RISK_RESPONSE_BYTES_MAX) }));
    });
    await new Promise<void>((resolve) => huge.listen(0, '127.0.0.1', resolve));
    const c = client({ base_url: `http://127.0.0.1:${(huge.address() as AddressInfo).port}` });
    const failure = c.assess({ address: EVM, network: null, asset: null });
    await expect(failure).rejects.toThrow(TransientError);
    await expect(failure).rejects.toThrow(/over 65536 bytes/);
    c.shutdown();
    huge.closeAllConnections();
    await new Promise((resolve) => huge.close(resolve));
  });

  it('caches answers per address for the TTL', async () => {
    const c = client({ cache_ttl_ms: 60_000 });
    await c.assess({ address: EVM, network: 'ethereum', asset: 'ETH' });
    await c.assess({ address: EVM, network: 'ethereum', asset: 'ETH' });
    expect(c.calls).toBe(1);
    c.shutdown();
  });

  it('uses per-address overrides set through the admin endpoint', async () => {
    const put = await fetch(`${api.url}/admin/overrides/${EVM.toLowerCase()}`, {
      method: 'PUT',
      body: JSON.stringify({ risk_score: '91.5', category: 'mixer' }),
    });
    expect(put.status).toBe(200);
    const c = client();
    await expect(c.assess({ address: EVM, network: null, asset: null })).resolves.toMatchObject({ risk_score: '91.5', category: 'mixer' });
    await fetch(`${api.url}/admin/overrides`, { method: 'DELETE' });
    c.shutdown();
  });
});
