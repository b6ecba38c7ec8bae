/**
 * Client of a provider's statements API (DESIGN 3.5): pages through
 * `GET {base}/v1/transactions?updated_since=&cursor=&limit=` one page at a time (the
 * caller consumes each page before the next is fetched, so memory holds one page),
 * retrying 5xx / 429 / timeouts / connection errors with bounded exponential backoff,
 * and refusing to loop forever on a provider whose pagination stops making progress.
 */
import type { Logger } from '@tidemark/common';
import { DEFAULT_RETRY_POLICY, isRetryableStatus, parseRetryAfter, retryDelayMs, type RetryPolicy } from '../core/backoff.js';
import { parseStatementPage, StatementFormatError, type StatementPage } from '../core/statements.js';

export class ProviderUnreachableError extends Error {
  override readonly name = 'ProviderUnreachableError';
}

export class StatementsRequestError extends Error {
  override readonly name = 'StatementsRequestError';
}

export class PaginationError extends Error {
  override readonly name = 'PaginationError';
}

export { StatementFormatError };

export interface StatementsClientOptions {
  base_url: string;
  updated_since: string;
  page_limit: number;
  request_timeout_ms: number;
  retry?: RetryPolicy;
  /** Optional bearer token for the provider's API (never logged). */
  token?: string;
  /** Pages in a row that bring nothing new (empty, or the cursor did not move) before giving up. */
  stalled_pages_max?: number;
  /** Pages in one run, at most. */
  pages_max?: number;
  /** Largest response body accepted. */
  body_bytes_max?: number;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface FetchedPage extends StatementPage {
  index: number;
  attempts: number;
  /** Retries this page needed (attempts - 1). */
  retries: number;
}

export const STALLED_PAGES_MAX_DEFAULT = 100;
export const PAGES_MAX_DEFAULT = 1_000_000;
export const BODY_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Strips userinfo and query from a URL for messages (a statements URL may carry credentials). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

export function pageUrl(base_url: string, params: { updated_since: string; cursor: string | null; limit: number }): string {
  const url = new URL(`${base_url.replace(/\/+$/, '')}/v1/transactions`);
  url.searchParams.set('updated_since', params.updated_since);
  if (params.cursor !== null) url.searchParams.set('cursor', params.cursor);
  url.searchParams.set('limit', String(params.limit));
  return url.toString();
}

/** Yields the pages of the statements API in order; throws a typed error when it cannot. */
export async function* fetchStatementPages(opts: StatementsClientOptions): AsyncGenerator<FetchedPage> {
  const policy = opts.retry ?? DEFAULT_RETRY_POLICY;
  const stalled_max = opts.stalled_pages_max ?? STALLED_PAGES_MAX_DEFAULT;
  const pages_max = opts.pages_max ?? PAGES_MAX_DEFAULT;
  let cursor: string | null = null;
  let stalled = 0;
  for (let index = 0; ; index += 1) {
    if (index >= pages_max)
      throw new PaginationError(`the statements API returned more than ${pages_max} pages; giving up (reconcile a shorter window)`);
    const url = pageUrl(opts.base_url, { updated_since: opts.updated_since, cursor, limit: opts.page_limit });
    const { body, attempts } = await getJsonWithRetries(url, opts, policy);
    const page = parseStatementPage(body);
    yield { ...page, index, attempts, retries: attempts - 1 };
    if (page.next_cursor === null) return;
    const progressed = page.records.length > 0 && page.next_cursor !== cursor;
    stalled = progressed ? 0 : stalled + 1;
    if (stalled > stalled_max) {
      throw new PaginationError(
        `the statements API returned ${stalled} pages in a row without progress (empty pages or an unchanged cursor); giving up`,
      );
    }
    cursor = page.next_cursor;
  }
}

async function getJsonWithRetries(
  url: string,
  opts: StatementsClientOptions,
  policy: RetryPolicy,
): Promise<{ body: unknown; attempts: number }> {
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const where = safeUrl(url);
  let lastProblem = '';
  for (let attempt = 1; attempt <= policy.attempts_max; attempt += 1) {
    let retry_after_ms: number | null = null;
    try {
      const res = await fetch(url, {
        headers: { accept: 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
        signal: AbortSignal.timeout(opts.request_timeout_ms),
        redirect: 'manual',
      });
      if (res.ok) {
        const text = await readBounded(res, opts.body_bytes_max ?? BODY_BYTES_MAX_DEFAULT);
        try {
          return { body: JSON.parse(text), attempts: attempt };
        } catch {
          throw new StatementFormatError(`the statements API at ${where} answered ${res.status} with a body that is not JSON`);
        }
      }
      const snippet = (await res.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
      if (!isRetryableStatus(res.status)) {
        throw new StatementsRequestError(`the statements API at ${where} refused the request: HTTP ${res.status} ${snippet}`.trim());
      }
      retry_after_ms = parseRetryAfter(res.headers.get('retry-after'), Date.now());
      lastProblem = `HTTP ${res.status}`;
    } catch (err) {
      if (err instanceof StatementsRequestError || err instanceof StatementFormatError) throw err;
      lastProblem = describeFetchError(err, opts.request_timeout_ms);
    }
    if (attempt === policy.attempts_max) break;
    const delay_ms = retryDelayMs(policy, attempt, random(), retry_after_ms);
    opts.logger?.warn(
      { url: where, attempt, attempts_max: policy.attempts_max, delay_ms, problem: lastProblem },
      'statements request failed; retrying',
    );
    await sleep(delay_ms);
  }
  throw new ProviderUnreachableError(
    `the statements API at ${where} is unreachable after ${policy.attempts_max} attempts (last: ${lastProblem}); check the provider or --statements-url and try again`,
  );
}

function describeFetchError(err: unknown, timeout_ms: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeout_ms} ms`;
  const code = e?.cause?.code;
  return code ? `${code}` : (e?.cause?.message ?? e?.message ?? String(err));
}

async function readBounded(res: Response, bytes_max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > bytes_max)
    throw new StatementFormatError(`a statements page of ${declared} bytes exceeds the limit of ${bytes_max} bytes; lower the page limit`);
  if (!res.body) return '';
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > bytes_max)
      throw new StatementFormatError(`a statements page exceeds the limit of ${bytes_max} bytes; lower the page limit`);
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}
