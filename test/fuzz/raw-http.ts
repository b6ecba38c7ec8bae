/**
 * A raw HTTP/1.1 client over node:net for the ingress fuzz campaign: it sends exactly the
 * bytes it is given (any header, any order, any count, truncated bodies, slow chunks, slowloris
 * header trickles), which node:http's client refuses to do, and parses the one response.
 */
import { connect, type Socket } from 'node:net';

/** One step of a request on the wire: bytes to write, a pause, or the end of the client's side. */
export type WireStep = { write: Buffer } | { pause_ms: number } | { close: 'half' | 'destroy' };

export interface RawAnswer {
  /** HTTP status, or 0 when the server closed the connection without answering. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Set when no answer came within the client's own deadline (a hung server). */
  timed_out: boolean;
  elapsed_ms: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

function parseAnswer(data: Buffer): { status: number; headers: Record<string, string>; body: Buffer; complete: boolean } | null {
  const end = data.indexOf(HEAD_END);
  if (end < 0) return null;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = data.subarray(end + HEAD_END.length);
  const length = headers['content-length'] === undefined ? null : Number(headers['content-length']);
  return { status, headers, body: length === null ? body : body.subarray(0, length), complete: length !== null && body.length >= length };
}

/**
 * Runs `steps` against 127.0.0.1:`port` and resolves with the server's answer once it is
 * complete (Content-Length read) or the connection closes. Writes after the server has
 * answered or closed are dropped (a 413 may close the socket while the body is still going).
 */
export function rawExchange(port: number, steps: readonly WireStep[], deadline_ms: number): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (timed_out: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseAnswer(Buffer.concat(chunks));
      resolve({
        status: parsed?.status ?? 0,
        headers: parsed?.headers ?? {},
        body: parsed?.body ?? Buffer.alloc(0),
        timed_out,
        elapsed_ms: Date.now() - started,
      });
    };
    const timer = setTimeout(() => finish(true), deadline_ms);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (parseAnswer(Buffer.concat(chunks))?.complete) finish(false);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.once('connect', () => {
      void (async () => {
        for (const step of steps) {
          if (settled || socket.destroyed) return;
          if ('write' in step) {
            // Backpressure: wait for the kernel buffer before the next write (large bodies).
            if (!socket.write(step.write)) await new Promise((r) => socket.once('drain', r).once('close', r));
          } else if ('pause_ms' in step) {
            await new Promise((r) => setTimeout(r, step.pause_ms));
          } else if (step.close === 'half') socket.end();
          else {
            socket.destroy();
            finish(false);
          }
        }
      })();
    });
  });
}

/** `POST path` with `headers` in the given order (duplicates allowed) and a Content-Length body, as wire steps. */
export function requestHead(method: string, path: string, headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close', ...headers.map(([k, v]) => `${k}: ${v}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}
