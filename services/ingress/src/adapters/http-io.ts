/** node:http plumbing shared by ingress's router and webhook handler: JSON answers, header reads, bounded body reads. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson as sendOpsJson } from '@tidemark/common';

export interface ErrorBody {
  error: string;
  message: string;
}

/** Ingress's JSON answers: common's, typed `application/json` without a charset parameter as ingress always answered. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendOpsJson(res, status, body, { 'content-type': 'application/json', ...headers });
}

export function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * `firstHeader` of `req` as a lookup function. (Returned, not assigned to a name or property: tsx's
 * keepNames would wrap a named per-request closure in a defineProperty call.)
 */
export function headerLookup(req: IncomingMessage): (name: string) => string | undefined {
  return (name) => firstHeader(req, name);
}

export type BodyRead = { kind: 'ok'; body: Buffer } | { kind: 'too_large' } | { kind: 'aborted' };

/** A body read in progress: kept on the request itself so the listeners below are shared, not per-request closures. */
const BODY_READ = Symbol('tidemark.ingress.body_read');

interface BodyReadState {
  chunks: Buffer[];
  size: number;
  limit_bytes: number;
  resolve: (result: BodyRead) => void;
}

type ReadingRequest = IncomingMessage & { [BODY_READ]?: BodyReadState | undefined };

function finishBodyRead(req: ReadingRequest, result: BodyRead): void {
  const state = req[BODY_READ];
  if (state === undefined) return;
  req[BODY_READ] = undefined;
  req.off('data', onBodyData);
  req.off('end', onBodyEnd);
  req.off('aborted', onBodyAborted);
  req.off('close', onBodyClose);
  req.off('error', onBodyAborted);
  state.resolve(result);
}

// The listeners run with `this` = the request (EventEmitter calls them so).
function onBodyData(this: ReadingRequest, chunk: Buffer): void {
  const state = this[BODY_READ];
  if (state === undefined) return;
  state.size += chunk.length;
  if (state.size > state.limit_bytes) {
    this.pause();
    finishBodyRead(this, { kind: 'too_large' });
    return;
  }
  state.chunks.push(chunk);
}

function onBodyEnd(this: ReadingRequest): void {
  const state = this[BODY_READ];
  if (state === undefined) return;
  finishBodyRead(this, { kind: 'ok', body: state.chunks.length === 1 ? state.chunks[0]! : Buffer.concat(state.chunks, state.size) });
}

function onBodyAborted(this: ReadingRequest): void {
  finishBodyRead(this, { kind: 'aborted' });
}

function onBodyClose(this: ReadingRequest): void {
  if (!this.complete) finishBodyRead(this, { kind: 'aborted' });
}

/** Reads the body counting bytes as they stream; stops at `limit_bytes` + 1 (413 even without Content-Length). */
export function readBody(req: IncomingMessage, limit_bytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    (req as ReadingRequest)[BODY_READ] = { chunks: [], size: 0, limit_bytes, resolve };
    req.on('data', onBodyData);
    req.on('end', onBodyEnd);
    req.on('aborted', onBodyAborted);
    req.on('close', onBodyClose);
    req.on('error', onBodyAborted);
  });
}

/**
 * Reads and drops the rest of a rejected request's body so the client can finish sending and
 * read the answer; a body beyond `discard_bytes_max` gets its connection destroyed instead.
 */
export function discardBody(req: IncomingMessage, discard_bytes_max: number): void {
  if (req.complete) return;
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > discard_bytes_max) req.socket.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

/**
 * Reads and drops the rest of a rejected request's body, then answers. Answering only once the
 * body is in matters when the connection is then closed (`Connection: close`): a socket closed while
 * request bytes are still arriving makes the server's kernel send RST, and an RST discards the
 * unread answer on the client's side, so the client sees a reset instead of the status (for a 413,
 * a provider that retries forever). Beyond `discard_bytes_max` the connection is destroyed instead
 * (as `discardBody` does) and `answer` is not called.
 */
export function discardBodyThenAnswer(req: IncomingMessage, discard_bytes_max: number, answer: () => void): void {
  if (req.complete) {
    answer();
    return;
  }
  let discarded = 0;
  let settled = false;
  const settle = (complete: boolean) => {
    if (settled) return;
    settled = true;
    if (complete && !req.socket.destroyed) answer();
  };
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > discard_bytes_max) {
      settle(false);
      req.socket.destroy();
    }
  });
  req.on('end', () => settle(true));
  req.on('close', () => settle(req.complete));
  req.on('error', () => undefined);
  req.resume();
}
