/**
 * The statements client against a real local HTTP server that paginates oddly and fails
 * transiently on purpose.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fetchStatementPages,
  PaginationError,
  ProviderUnreachableError,
  StatementFormatError,
  StatementsRequestError,
  type FetchedPage,
} from './statements-client.js';
import { dedupeBatch } from '../core/statements.js';
import type { ProviderRecord } from '../core/model.js';

/** An item as the provider's API sends it (the record before its time is parsed). */
type Item = Omit<ProviderRecord, 'updated_at_ms'>;

function items(n: number): Item[] {
  return Array.from({ length: n }, (_, i) => ({
    transaction_id: `tx_${String(i).padStart(4, '0')}`,
    wallet_id: `wal_${i % 7}`,
    asset: i % 2 ? 'ETH' : 'BTC',
    amount: i % 2 ? '1.000000000000000001' : '0.50000000',
    direction: i % 3 ? 'in' : 'out',
    status: 'confirmed',
    updated_at: new Date(Date.UTC(2026, 10, 23, 10, 0, i)).toISOString(),
  }));
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;
let server: Server | null = null;

async function serve(handler: Handler): Promise<string> {
  server = createServer((req, res) => handler(req, res, new URL(req.url ?? '/', 'http://x')));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

afterEach(async () => {
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = null;
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Offset-cursor pagination with knobs for oddities. */
function oddProvider(
  all: Item[],
  knobs: { page_cap?: number; empty_every?: number; repeat_last?: boolean; fail_first_n?: number; status?: number } = {},
): Handler {
  let requests = 0;
  return (req, res, url) => {
    requests += 1;
    if (url.pathname !== '/v1/transactions') return json(res, 404, { error: 'not_found' });
    if (knobs.fail_first_n && requests <= knobs.fail_first_n)
      return json(res, knobs.status ?? 503, { error: 'unavailable' }, { 'retry-after': '0' });
    const cursor = url.searchParams.get('cursor');
    const limit = Number(url.searchParams.get('limit'));
    let start = cursor ? Number(cursor) : 0;
    if (knobs.empty_every && requests % knobs.empty_every === 0) return json(res, 200, { data: [], next_cursor: String(start) });
    if (knobs.repeat_last && start > 0) start -= 1;
    const size = Math.min(limit, knobs.page_cap ?? limit);
    const data = all.slice(start, start + size);
    const end = start + data.length;
    json(res, 200, { data, next_cursor: end < all.length ? String(end) : null });
  };
}

async function collect(gen: AsyncGenerator<FetchedPage>): Promise<FetchedPage[]> {
  const pages: FetchedPage[] = [];
  for await (const p of gen) pages.push(p);
  return pages;
}

const noSleep = async () => undefined;
const fast = { attempts_max: 4, delay_ms_min: 1, delay_ms_max: 5, factor: 2, jitter: 0 };

/** Every page from `base_url`, with the tests' usual options unless `over` says otherwise. */
function fetchAll(base_url: string, over: Partial<Parameters<typeof fetchStatementPages>[0]> = {}): Promise<FetchedPage[]> {
  return collect(
    fetchStatementPages({
      base_url,
      updated_since: '2026-11-23T00:00:00Z',
      page_limit: 10,
      request_timeout_ms: 2_000,
      sleep: noSleep,
      ...over,
    }),
  );
}

async function stopServer(): Promise<void> {
  await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = null;
}

describe('fetchStatementPages', () => {
  it('pages through everything with the cursor and sends updated_since and limit', async () => {
    const seen: string[] = [];
    const all = items(25);
    const inner = oddProvider(all);
    const base = await serve((req, res, url) => {
      seen.push(url.search);
      inner(req, res, url);
    });
    const pages = await fetchAll(base, { updated_since: '2026-11-23T00:00:00.000Z' });
    expect(pages.map((p) => p.records.length)).toEqual([10, 10, 5]);
    expect(pages.flatMap((p) => p.records.map((r) => r.transaction_id))).toEqual(all.map((i) => i.transaction_id));
    expect(seen[0]).toContain('updated_since=2026-11-23T00%3A00%3A00.000Z');
    expect(seen[0]).toContain('limit=10');
    expect(seen[1]).toContain('cursor=10');
    expect(pages[0]!.records[1]!.amount).toBe('1.000000000000000001');
  });

  it('tolerates capped pages, empty pages with a cursor and repeated items; dedupe keeps one of each', async () => {
    const all = items(40);
    const base = await serve(oddProvider(all, { page_cap: 7, empty_every: 3, repeat_last: true }));
    const pages = await fetchAll(base, { page_limit: 50 });
    expect(pages.some((p) => p.records.length === 0)).toBe(true);
    const flat = pages.flatMap((p) => p.records);
    expect(flat.length).toBeGreaterThan(all.length); // repeats arrived
    const { kept, dropped } = dedupeBatch(flat.map((r, seq) => ({ ...r, seq })));
    expect(kept.map((r) => r.transaction_id).sort()).toEqual(all.map((i) => i.transaction_id));
    expect(dropped).toBe(flat.length - all.length);
  });

  it('retries 503/500/429 with backoff and then succeeds', async () => {
    for (const status of [503, 500, 429]) {
      const base = await serve(oddProvider(items(3), { fail_first_n: 2, status }));
      const delays: number[] = [];
      const pages = await fetchAll(base, { retry: fast, sleep: async (ms) => void delays.push(ms) });
      expect(pages[0]!.records).toHaveLength(3);
      expect(pages[0]!.retries).toBe(2);
      expect(delays).toHaveLength(2);
      await stopServer();
    }
  });

  it('gives up with ProviderUnreachableError after the bounded attempts', async () => {
    let requests = 0;
    const base = await serve((_req, res) => {
      requests += 1;
      json(res, 503, { error: 'down' });
    });
    await expect(fetchAll(base, { retry: fast })).rejects.toThrow(ProviderUnreachableError);
    expect(requests).toBe(fast.attempts_max);
  });

  it('retries timeouts and connection errors', async () => {
    let requests = 0;
    const base = await serve((req, res, url) => {
      requests += 1;
      if (requests === 1) return; // never answers: the client times out
      oddProvider(items(2))(req, res, url);
    });
    // The timeout must be generous enough that the answered retry never times out on a busy machine (retries would then be 2).
    const pages = await fetchAll(base, { request_timeout_ms: 1_000, retry: fast });
    expect(pages[0]!.records).toHaveLength(2);
    expect(pages[0]!.retries).toBe(1);
    server!.closeAllConnections();

    // Nothing listens on the port any more: connection refused, retried, then unreachable.
    await stopServer();
    await expect(fetchAll(base, { request_timeout_ms: 500, retry: fast })).rejects.toThrow(
      /unreachable after 4 attempts \(last: ECONNREFUSED\)/,
    );
  });

  it('does not retry a request the provider refuses (4xx) and never echoes the token', async () => {
    let auth = '';
    const base = await serve((req, res) => {
      auth = String(req.headers.authorization);
      json(res, 400, { error: 'limit_too_large' });
    });
    const err = await fetchAll(base, { token: 'sekret-token-123', retry: fast }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(StatementsRequestError);
    expect((err as Error).message).toMatch(/HTTP 400/);
    expect((err as Error).message).not.toContain('sekret');
    expect(auth).toBe('Bearer sekret-token-123');
  });

  it('rejects malformed records with the item and field named', async () => {
    const bad = { ...items(1)[0], amount: 0.5 };
    const base = await serve((_req, res) => json(res, 200, { data: [bad], next_cursor: null }));
    await expect(fetchAll(base)).rejects.toThrow(/item 0 \(tx_0000\) is invalid: amount/);
    const floaty = { ...items(1)[0], amount: '1e-7' };
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const base2 = await serve((_req, res) => json(res, 200, { data: [floaty], next_cursor: null }));
    await expect(fetchAll(base2)).rejects.toThrow(StatementFormatError);
  });

  it('stops a provider whose pagination never progresses', async () => {
    const base = await serve((_req, res) => json(res, 200, { data: [], next_cursor: 'same' }));
    await expect(fetchAll(base, { stalled_pages_max: 5 })).rejects.toThrow(PaginationError);
  });
});
