/** The statements API (DESIGN 3.5) and truth endpoints over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from './files.js';
import { parseScenario } from '../core/scenario.js';
import type { WireStatementRecord } from '../core/statements.js';
import { startSimulator, type RunningSimulator } from '../runtime.js';

let running: RunningSimulator;
let url: string;

beforeAll(async () => {
  const recon = loadScenario('recon');
  running = await startSimulator({
    scenario: parseScenario({ ...recon, traffic: { ...recon.traffic, transactions: 300 } }),
    ingress_url: null,
    start_ms: Date.parse('2026-11-23T10:00:00Z'),
    namespace: 'srv',
    listen: { host: '127.0.0.1', port: 0 },
  });
  url = running.url!;
});

afterAll(async () => {
  await running.stop();
});

/** JSON bodies are checked field by field below; this is the loose shape they are read through. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test reads arbitrary JSON
type Json = any;

async function get(path: string): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(`${url}${path}`);
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

/** A reconciler-like client: follows cursors, retries transient failures, dedupes repeats. */
async function fetchAll(path: string, query: string): Promise<{ records: WireStatementRecord[]; pages: number; transient: number }> {
  const seen = new Map<string, WireStatementRecord>();
  let cursor: string | null = null;
  let pages = 0;
  let transient = 0;
  for (;;) {
    const q = new URLSearchParams(query);
    if (cursor) q.set('cursor', cursor);
    const res = await get(`${path}?${q}`);
    if (res.status === 429 || res.status >= 500) {
      transient++;
      expect(res.body).toHaveProperty('error');
      if (transient > 500) throw new Error('too many transient failures');
      continue;
    }
    expect(res.status).toBe(200);
    pages++;
    for (const r of res.body.data) seen.set(r.transaction_id, r);
    if (res.body.next_cursor === null) break;
    cursor = res.body.next_cursor;
  }
  return { records: [...seen.values()], pages, transient };
}

describe('statements API', () => {
  it('serves every statement record through odd pagination and transient failures', async () => {
    const expected = running.sim.truth.statementRecords('generic');
    running.sim.setStatementKnobs({ transient_failure_rate: 0.3 });
    const { records, pages, transient } = await fetchAll('/v1/transactions', 'limit=20');
    running.sim.setStatementKnobs({ transient_failure_rate: 0.1 });
    expect(transient).toBeGreaterThan(0);
    expect(pages).toBeGreaterThan(expected.length / 20);
    expect(records.length).toBe(expected.length);
    const byId = new Map(records.map((r) => [r.transaction_id, r]));
    for (const e of expected) {
      const { updated_at_ms: _, ...wire } = e;
      expect(byId.get(e.transaction_id)).toEqual(wire);
    }
    for (const r of records) {
      expect(r).toEqual({
        transaction_id: expect.any(String),
        wallet_id: expect.any(String),
        asset: expect.any(String),
        amount: expect.stringMatching(/^[0-9]+(\.[0-9]+)?$/),
        direction: expect.stringMatching(/^(in|out)$/),
        status: expect.stringMatching(/^(pending|confirmed|failed|reversed)$/),
        updated_at: expect.any(String),
      });
    }
  });

  it('filters by updated_since (inclusive) and serves other providers under /providers/{id}', async () => {
    const expected = running.sim.truth.statementRecords('generic');
    const mid = expected[Math.floor(expected.length / 2)]!;
    const { records } = await fetchAll('/v1/transactions', `updated_since=${encodeURIComponent(mid.updated_at)}&limit=500`);
    expect(records.length).toBe(expected.filter((r) => r.updated_at_ms >= mid.updated_at_ms).length);
    const other = await fetchAll('/providers/generic/v1/transactions', 'limit=500');
    expect(other.records.length).toBe(expected.length);
    expect((await get('/providers/nope/v1/transactions')).status).toBe(404);
  });

  it('rejects bad queries with a machine-readable reason', async () => {
    running.sim.setStatementKnobs({ transient_failure_rate: 0 });
    expect(await get('/v1/transactions?limit=0')).toMatchObject({ status: 400, body: { error: 'invalid_limit' } });
    expect(await get('/v1/transactions?limit=501')).toMatchObject({ status: 400, body: { error: 'invalid_limit' } });
    expect(await get('/v1/transactions?limit=ten')).toMatchObject({ status: 400, body: { error: 'invalid_limit' } });
    expect(await get('/v1/transactions?cursor=garbage!')).toMatchObject({ status: 400, body: { error: 'invalid_cursor' } });
    expect(await get('/v1/transactions?updated_since=yesterday')).toMatchObject({ status: 400, body: { error: 'invalid_updated_since' } });
    running.sim.setStatementKnobs({ transient_failure_rate: 0.1 });
  });
});

describe('truth and admin endpoints', () => {
  it('exposes balances, transactions with expected screening, KYC, discrepancies and status', async () => {
    const balances = await get('/truth/balances?view=complete&policy=expected');
    expect(balances.status).toBe(200);
    expect(balances.body.wallets.length).toBeGreaterThan(0);
    expect(balances.body.wallets[0].balances[0]).toMatchObject({
      asset: expect.any(String),
      pending: expect.any(String),
      available: expect.any(String),
      held: expect.any(String),
    });
    expect((await get('/truth/balances?view=sideways')).status).toBe(400);

    const txs = await get('/truth/transactions?limit=1000');
    expect(txs.body.total).toBe(running.sim.truth.transaction_count);
    const blocked = txs.body.transactions.filter((t: { sanctioned_address: string | null }) => t.sanctioned_address);
    expect(blocked.length).toBeGreaterThan(0);
    for (const t of blocked) expect(t.expected_screening).toBe('BLOCK');

    const discrepancies = await get('/truth/discrepancies');
    expect(discrepancies.body.discrepancies.length).toBeGreaterThan(5);
    expect(new Set(discrepancies.body.discrepancies.map((d: { kind: string }) => d.kind))).toEqual(
      new Set(['missing_in_ledger', 'missing_at_provider', 'amount_mismatch', 'status_mismatch']),
    );

    expect((await get('/truth/kyc')).body.customers.length).toBeGreaterThan(0);
    expect((await get('/truth/status')).body).toMatchObject({ name: 'recon', namespace: 'srv', generation_done: true });
    expect((await get('/healthz')).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('injects statement discrepancies and changes knobs at run time, validating input', async () => {
    const clean = running.sim.truth.transactions().find((r) => r.tx.discrepancy === null)!;
    const post = (body: unknown) =>
      fetch(`${url}/admin/discrepancies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await post({ provider: 'generic', transaction_id: clean.tx.transaction_id, kind: 'alter_amount' });
    expect(ok.status).toBe(201);
    expect((await post({ provider: 'generic', transaction_id: clean.tx.transaction_id, kind: 'alter_amount' })).status).toBe(409);
    expect((await post({ provider: 'generic', transaction_id: 'x', kind: 'drop_all' })).status).toBe(400);
    const d = running.sim.truth.expectedDiscrepancies().find((x) => x.transaction_id === clean.tx.transaction_id);
    expect(d).toMatchObject({ kind: 'amount_mismatch', injected: 'alter_amount' });

    const put = (body: unknown) =>
      fetch(`${url}/admin/statements`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await put({ page_size_cap: 5 })).status).toBe(200);
    expect(running.sim.statementKnobs.page_size_cap).toBe(5);
    expect((await put({ page_size_cap: -1 })).status).toBe(400);
    expect((await put({ unknown_knob: 1 })).status).toBe(400);
  });
});
