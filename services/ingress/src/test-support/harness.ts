/**
 * Test harness: runs the real ingress service (`src/main.ts`) as a child process with its
 * own env, captures every line it logs, and reads back what reached Kafka.
 * Used by the integration tests and the bench; not part of the service.
 */
import { AvroCodec, applyTopics, createKafka, kafkaConnection, RegistryClient, topicName, type BaseConfig } from '@tidemark/common';
import { removeNamespace } from '@tidemark/common/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';

export const INGRESS_MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ChildIngress {
  url: string;
  port: number;
  child: ChildProcess;
  /** Every stdout/stderr line the process wrote so far. */
  output: string[];
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Whether `path` answers 200 (https: the test's self-signed certificate is accepted). */
function answersOk(url: string, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const get = url.startsWith('https:') ? httpsGet : httpGet;
    const req = get(`${url}${path}`, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Starts `src/main.ts` with `env` on a free port and waits until it is ready (/readyz: its Kafka producer is connected;
 * until then ingress answers 503 kafka_unavailable), or only alive (/healthz) with `ready: false` — for an ingress
 * whose broker is down on purpose.
 */
export async function spawnIngress(
  env: Record<string, string>,
  opts: { wait_ms?: number; node_args?: string[]; ready?: boolean } = {},
): Promise<ChildIngress> {
  const port = await freePort();
  const output: string[] = [];
  const child = spawn(process.execPath, [...(opts.node_args ?? []), '--import', 'tsx', INGRESS_MAIN], {
    cwd: REPO_ROOT,
    env: { ...process.env, TIDEMARK_INGRESS_HOST: '127.0.0.1', TIDEMARK_INGRESS_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let partial = '';
  const collect = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines.filter((l) => l.length > 0));
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (partial) output.push(partial);
      resolve(code);
    }),
  );
  const scheme = env.TIDEMARK_INGRESS_TLS_CERT ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.wait_ms ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ingress exited with ${child.exitCode}:\n${output.join('\n')}`);
    if (await answersOk(url, opts.ready === false ? '/healthz' : '/readyz')) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`ingress did not come up within ${opts.wait_ms ?? 30_000} ms:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    child,
    output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A namespace of topics (unique prefix) with the catalog applied; `cleanup` deletes topics and subjects. */
export async function createNamespace(config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS' | 'TIDEMARK_REGISTRY_URL'>, prefix: string) {
  const kafka = createKafka({ ...kafkaConnection(config), client_id: `ingress-test-${prefix}` });
  const admin = kafka.admin();
  await admin.connect();
  const registry = new RegistryClient(config.TIDEMARK_REGISTRY_URL);
  await applyTopics(admin, registry, { prefix });
  return {
    kafka,
    admin,
    async cleanup() {
      try {
        await removeNamespace(admin, registry, prefix);
      } catch (error) {
        console.warn(`could not remove the topics and registry subjects of ${prefix}: ${(error as Error).message}`);
      } finally {
        await admin.disconnect();
      }
    },
  };
}

export interface ReadRecord<T> {
  key: string;
  value: T;
  headers: Record<string, string>;
  partition: number;
}

/** Reads every record currently in `base_topic` (up to the high watermarks at call time), decoded. */
export async function readTopic<T>(
  kafka: Kafka,
  registry_url: string,
  prefix: string,
  base_topic: string,
  timeout_ms = 60_000,
): Promise<ReadRecord<T>[]> {
  const topic = topicName(base_topic, prefix);
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const expected = offsets.reduce((sum, o) => sum + (Number(o.high) - Number(o.low)), 0);
  if (expected === 0) return [];
  const codec = new AvroCodec(registry_url, prefix);
  const consumer = kafka.consumer({ groupId: `${prefix}reader-${Math.random().toString(36).slice(2)}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const records: ReadRecord<T>[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${records.length}/${expected} records of ${topic} within ${timeout_ms} ms`)),
        timeout_ms,
      );
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {}))
            if (v !== undefined) headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
          records.push({ key: message.key?.toString('utf8') ?? '', value: await codec.decode<T>(message.value!), headers, partition });
          if (records.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
