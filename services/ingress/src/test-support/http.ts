/** Raw HTTP helpers for tests (exact headers, chunked bodies, no client-side defaults). */
import http from 'node:http';
import https from 'node:https';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
}

/**
 * POSTs `body` to `url`. A Buffer/string is sent with Content-Length; an array of chunks is
 * sent chunked (no Content-Length). Header values are sent exactly as given.
 */
export function post(
  url: string,
  headers: Record<string, string>,
  body: Buffer | string | Buffer[],
  opts: { ca?: Buffer } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const chunked = Array.isArray(body);
    const req = lib.request(
      {
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        headers: chunked ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false,
        ...(opts.ca ? { ca: opts.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (chunked) {
      for (const chunk of body) req.write(chunk);
      req.end();
    } else {
      req.end(body);
    }
  });
}
