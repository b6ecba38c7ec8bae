/**
 * A trivial local webhook sink: reads the body and answers 202 with a small JSON ack.
 * Used to measure the simulator's own HTTP throughput (it must not be the bottleneck of
 * benchmarks) without any platform behind it.
 */
import { createServer, type Server } from 'node:http';

const BODY_BYTES_MAX = 256 * 1024;

export function startSink(host: string, port: number, status = 202): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  let counter = 0;
  const server = createServer((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_BYTES_MAX) req.destroy();
    });
    req.on('end', () => {
      const body = JSON.stringify({ id: `sink-${++counter}`, received_bytes: size });
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({
        server,
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
