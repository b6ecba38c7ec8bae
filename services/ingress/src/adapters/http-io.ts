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

export type BodyRead = { kind: 'ok'; body: Buffer } | { kind: 'too_large' } | { kind: 'aborted' };

/** Reads the body counting bytes as they stream; stops at `limit_bytes` + 1 (413 even without Content-Length). */
export function readBody(req: IncomingMessage, limit_bytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyRead) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('close', onClose);
      req.off('error', onAborted);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit_bytes) {
        req.pause();
        finish({ kind: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ kind: 'ok', body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    const onAborted = () => finish({ kind: 'aborted' });
    const onClose = () => {
      if (!req.complete) finish({ kind: 'aborted' });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('close', onClose);
    req.on('error', onAborted);
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
