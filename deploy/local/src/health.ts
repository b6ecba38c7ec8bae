/** Health probes. Each returns { ok, detail } and never throws. */
import type { Kafka, KafkaConfig } from 'kafkajs';
import { HOST } from './components.js';

export interface Health {
  ok: boolean;
  detail: string;
}

export async function httpStatus(url: string, timeout_ms = 3_000): Promise<{ status: number; body: string } | { error: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeout_ms) });
    const body = await res.text();
    return { status: res.status, body };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { error: e.cause?.code ?? e.message };
  }
}

export async function httpOk(url: string, timeout_ms = 3_000): Promise<Health> {
  const r = await httpStatus(url, timeout_ms);
  if ('error' in r) return { ok: false, detail: `GET ${url}: ${r.error}` };
  if (r.status !== 200) return { ok: false, detail: `GET ${url}: HTTP ${r.status} ${r.body.slice(0, 200)}` };
  return { ok: true, detail: `GET ${url}: 200` };
}

/** kafkajs `ssl`/`sasl` settings of the infra's probes (the admin principal), empty for a PLAINTEXT broker. */
export type ProbeSecurity = Pick<KafkaConfig, 'ssl' | 'sasl'>;

/** A silent kafkajs client of the local broker on `port` (kafkajs is loaded only when a probe needs it). */
async function localKafka(clientId: string, port: number, config: Omit<KafkaConfig, 'clientId' | 'brokers' | 'logLevel'>): Promise<Kafka> {
  const { Kafka, logLevel } = await import('kafkajs');
  return new Kafka({ clientId, brokers: [`${HOST}:${port}`], logLevel: logLevel.NOTHING, ...config });
}

/** Kafka: an admin client's describeCluster (metadata round trip) must list our broker and a controller. */
export async function kafkaHealth(port: number, security: ProbeSecurity = {}, timeout_ms = 4_000): Promise<Health> {
  const kafka = await localKafka('tidemark-infra-health', port, {
    ...security,
    connectionTimeout: Math.min(timeout_ms, 2_000),
    requestTimeout: timeout_ms,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    const result = await withTimeout(
      (async () => {
        await admin.connect();
        return admin.describeCluster();
      })(),
      timeout_ms,
    );
    if (result.brokers.length === 0) return { ok: false, detail: 'describeCluster: no brokers' };
    if (result.controller === null || result.controller === undefined || result.controller < 0) {
      return { ok: false, detail: 'describeCluster: no active controller yet' };
    }
    return { ok: true, detail: `cluster ${result.clusterId}, ${result.brokers.length} broker(s), controller ${result.controller}` };
  } catch (err) {
    return { ok: false, detail: `describeCluster: ${(err as Error).message}` };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Makes Kafka create and load its internal topics now rather than on the first client's request
 * (a FindCoordinator for a group creates __consumer_offsets, InitProducerId for a transactional id creates
 * __transaction_state), so the first real consumer/transaction does not see "coordinator not available".
 */
export async function kafkaWarmUp(port: number, security: ProbeSecurity = {}, timeout_ms = 30_000): Promise<void> {
  const kafka = await localKafka('tidemark-infra-warmup', port, {
    ...security,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ transactionalId: 'tidemark-infra-warmup', idempotent: true, maxInFlightRequests: 1 });
  try {
    await withTimeout(
      (async () => {
        await admin.connect();
        await admin.describeGroups(['tidemark-infra-warmup']);
        await producer.connect(); // InitProducerId → transaction coordinator
      })(),
      timeout_ms,
    );
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

export interface PgProbe {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
}

/** PostgreSQL: connect and `SELECT 1`. */
export async function pgHealth(probe: PgProbe, timeout_ms = 3_000): Promise<Health> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ ...probe, connectionTimeoutMillis: timeout_ms, query_timeout: timeout_ms });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version']);
    return { ok: true, detail: `server ${r.rows[0]?.v ?? '?'} accepting connections` };
  } catch (err) {
    return { ok: false, detail: `connect ${probe.user}@${probe.host}:${probe.port}/${probe.database}: ${(err as Error).message}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
