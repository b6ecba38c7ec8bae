/**
 * One hop of the stream runtime, alone: a pass-through handler between two topics on the
 * real Kafka, registry and Postgres. Events are produced at fixed rates; a read_committed
 * reader (the next service's view) times each event from just before its produce call to
 * its arrival downstream. Per rate: latency percentiles, and where a chunk's time went
 * (the runtime's tidemark_stream_chunk_phase_seconds: mean ms per chunk by phase).
 *
 * The e2e pipeline is three such hops plus ingress and each service's handler: this bench
 * shows what the runtime and Kafka cost per hop, without any handler work.
 *
 *   npx tsx packages/stream/bench/hop.bench.ts [--quick]
 *   env: TIDEMARK_HOP_RATES=100,1000  TIDEMARK_HOP_DURATION_S=20  TIDEMARK_KAFKA_CLIENT=confluent|kafkajs
 *        TIDEMARK_BENCH_OUT=<file> (default reports/hop-bench.json)
 *
 * Prints figures and writes a JSON report; it never asserts timings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, createMetrics, type CanonicalEvent } from '@tidemark/common';
import type { Handler, InputRecord } from '../src/handler.js';
import { runConsumer } from '../src/runtime/consumer.js';
import { createTestEnv, testEvent, type TestEnv } from '../src/testing/env.js';
import type { StreamConsumer } from '../src/kafka/transport.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SERVICE = 'hopbench';
const WALLETS = 200;
const TICK_MS = 10;
const PHASES = ['queued', 'decode', 'parking_read', 'handle', 'build', 'parking_write', 'commit'] as const;

interface RateResult {
  rate_per_s: number;
  sent: number;
  arrived: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Mean milliseconds per chunk by phase, and the mean records per chunk. */
  chunk: { chunks: number; records_per_chunk: number; mean_ms: Record<string, number> };
}

class PassThrough implements Handler<CanonicalEvent> {
  readonly service = SERVICE;
  readonly input_topic = 'webhooks.received.v1';
  async handle(r: InputRecord<CanonicalEvent>) {
    return { outputs: [{ topic: 'events.unique.v1', key: r.key, value: r.value }] };
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const round = (v: number) => Math.round(v * 10) / 10;

/** Sums and counts of the phase histogram, read from the metrics registry. */
async function phaseTotals(metrics: ReturnType<typeof createMetrics>): Promise<Map<string, { sum: number; count: number }>> {
  const out = new Map<string, { sum: number; count: number }>();
  const all = (await metrics.registry.getMetricsAsJSON()) as Array<{
    name: string;
    values: Array<{ metricName?: string; labels: Record<string, string>; value: number }>;
  }>;
  const h = all.find((m) => m.name === 'tidemark_stream_chunk_phase_seconds');
  for (const v of h?.values ?? []) {
    const phase = v.labels.phase!;
    const cur = out.get(phase) ?? { sum: 0, count: 0 };
    if (v.metricName?.endsWith('_sum')) cur.sum = v.value;
    if (v.metricName?.endsWith('_count')) cur.count = v.value;
    out.set(phase, cur);
  }
  return out;
}

async function runRate(
  env: TestEnv,
  rate: number,
  duration_s: number,
  arrivals: Map<string, number>,
  metrics: ReturnType<typeof createMetrics>,
  records: { count: number },
): Promise<RateResult> {
  const sentAt = new Map<string, number>();
  const before = await phaseTotals(metrics);
  const records_before = records.count;
  const run = `r${rate}_${Date.now().toString(36)}`;
  const started = Date.now();
  let sent = 0;
  const inflight: Promise<void>[] = [];
  while (Date.now() - started < duration_s * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    const batch: Array<{ key: string; value: unknown }> = [];
    while (sent < due) {
      const event_id = `${run}_${sent}`;
      const wallet_id = `wal_${sent % WALLETS}`;
      batch.push({ key: wallet_id, value: testEvent({ event_id, wallet_id, seq: sent }) });
      sent++;
    }
    if (batch.length > 0) {
      const t = Date.now();
      for (const b of batch) sentAt.set((b.value as CanonicalEvent).event_id, t);
      inflight.push(env.produceEvents('webhooks.received.v1', batch));
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  await Promise.all(inflight);
  const until = Date.now() + 30_000;
  while (Date.now() < until && [...sentAt.keys()].some((id) => !arrivals.has(id))) await new Promise((r) => setTimeout(r, 100));
  const lat = [...sentAt.entries()].filter(([id]) => arrivals.has(id)).map(([id, t]) => arrivals.get(id)! - t);
  lat.sort((a, b) => a - b);
  const after = await phaseTotals(metrics);
  const chunks = (after.get('commit')?.count ?? 0) - (before.get('commit')?.count ?? 0);
  const mean_ms: Record<string, number> = {};
  for (const phase of PHASES) {
    const d = (after.get(phase)?.sum ?? 0) - (before.get(phase)?.sum ?? 0);
    mean_ms[phase] = chunks > 0 ? round((d * 1000) / chunks) : NaN;
  }
  return {
    rate_per_s: rate,
    sent,
    arrived: lat.length,
    p50_ms: percentile(lat, 50),
    p90_ms: percentile(lat, 90),
    p99_ms: percentile(lat, 99),
    max_ms: lat[lat.length - 1] ?? NaN,
    chunk: { chunks, records_per_chunk: chunks > 0 ? round((records.count - records_before) / chunks) : NaN, mean_ms },
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const rates = (process.env.TIDEMARK_HOP_RATES ?? '100,1000').split(',').map(Number);
  const duration_s = Number(process.env.TIDEMARK_HOP_DURATION_S ?? (quick ? 15 : 30));
  const env = await createTestEnv({
    topics: ['webhooks.received.v1', 'events.unique.v1', 'audit.v1'],
    consumers: [
      { service: SERVICE, input: 'webhooks.received.v1', retry_delays_ms: [1000], retry_partitions: 3, dlq_retention_ms: 86_400_000 },
    ],
  });
  const logger = createLogger(SERVICE, process.env.TIDEMARK_LOG_LEVEL ?? 'warn');
  const metrics = createMetrics(SERVICE);
  const arrivals = new Map<string, number>();
  const records = { count: 0 };
  let reader: StreamConsumer | null = null;
  const results: RateResult[] = [];
  try {
    const running = await runConsumer({
      handler: new PassThrough(),
      logger,
      metrics,
      config: env.env,
      pool: env.pool,
      codec: env.codec,
      retry_delays_ms: [1000],
    });
    reader = env.transport.consumer({
      group_id: `${env.prefix}hopbench-reader`,
      topics: [env.topic('events.unique.v1')],
      partitions_concurrency: 16,
      fetch_wait_ms_max: 10,
      batch_records_max: 1000,
      session_timeout_ms: 10_000,
      onAssignment: () => undefined,
      onCrash: (err) => logger.error({ err: err.message }, 'reader crashed'),
      onBatch: async (batch, control) => {
        const now = Date.now();
        for (const r of batch.records) {
          const v = await env.codec.decode<CanonicalEvent>(r.value!);
          arrivals.set(v.event_id, now);
        }
        records.count += batch.records.length;
        const last = batch.records[batch.records.length - 1];
        if (last) control.markConsumed(last.offset);
      },
    });
    await reader.run();
    // Warm-up: the first transactions register ids and caches.
    await runRate(env, 50, 3, arrivals, metrics, records);
    for (const rate of rates) {
      const r = await runRate(env, rate, duration_s, arrivals, metrics, records);
      results.push(r);
      console.log(
        `[hop-bench] ${env.env.TIDEMARK_KAFKA_CLIENT} ${rate}/s ${duration_s} s: produced→visible downstream p50 ${r.p50_ms} p90 ${r.p90_ms} p99 ${r.p99_ms} max ${r.max_ms} ms (${r.arrived}/${r.sent}); chunk ${JSON.stringify(r.chunk)}`,
      );
    }
    await running.stop();
  } finally {
    await reader?.stop().catch(() => undefined);
    await env.cleanup();
  }
  const out = process.env.TIDEMARK_BENCH_OUT ?? resolve(REPO, 'reports', 'hop-bench.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ bench: 'hop', client: env.env.TIDEMARK_KAFKA_CLIENT, duration_s, results }, null, 2) + '\n');
  console.log(`[hop-bench] wrote ${out}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
