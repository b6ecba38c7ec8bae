/**
 * Dedupe throughput on the real stack: `npx tsx services/dedupe/bench/dedupe.bench.ts`.
 *
 * Pre-loads BENCH_EVENTS deliveries (20% redeliveries) into a fresh, prefixed
 * webhooks.received.v1, then starts the dedupe handler on the stream runtime (one
 * instance, in this process) and measures from its group join until every input
 * offset is committed (outputs + audit + offsets in Kafka transactions, claims in
 * Postgres). Prints events/s and writes reports/dedupe-bench.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, createMetrics, type CanonicalEvent } from '@tidemark/common';
import { runConsumer } from '@tidemark/stream';
import { testEvent } from '@tidemark/stream/testing';
import { DedupeHandler } from '../src/handler.js';
import { ClaimStore, migrateDedupe } from '../src/store.js';
import { createDedupeTestEnv } from '../src/testing.js';

const EVENTS = Number.parseInt(process.env.BENCH_EVENTS ?? '60000', 10);
const BATCH_SIZE_MAX = Number.parseInt(process.env.BENCH_BATCH_SIZE_MAX ?? '1000', 10);
const WALLETS = 2_000;
const PRODUCE_CHUNK = 2_000;
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

async function main(): Promise<void> {
  const env = await createDedupeTestEnv([1000, 10000, 60000]);
  try {
    // Deliveries: every 5th event is delivered a second time, 100 deliveries later.
    const deliveries: Array<{ key: string; value: CanonicalEvent }> = [];
    const pending: Array<{ at: number; d: { key: string; value: CanonicalEvent } }> = [];
    let distinct = 0;
    for (let i = 0; deliveries.length < EVENTS; i++) {
      const wallet = `wal_${i % WALLETS}`;
      const ev = testEvent({ event_id: `evt_${i}`, wallet_id: wallet, seq: i }) as CanonicalEvent;
      deliveries.push({ key: wallet, value: ev });
      distinct++;
      if (i % 5 === 0)
        pending.push({ at: deliveries.length + 100, d: { key: wallet, value: { ...ev, ingress_id: `${ev.ingress_id}_re` } } });
      while (pending.length > 0 && pending[0]!.at <= deliveries.length && deliveries.length < EVENTS) deliveries.push(pending.shift()!.d);
    }
    const t0 = Date.now();
    for (let i = 0; i < deliveries.length; i += PRODUCE_CHUNK)
      await env.produceEvents('webhooks.received.v1', deliveries.slice(i, i + PRODUCE_CHUNK));
    const produce_s = (Date.now() - t0) / 1000;
    console.log(`produced ${deliveries.length} deliveries (${distinct} distinct events) in ${produce_s.toFixed(1)} s`);

    const ends = await env.transport.watermarks(env.topic('webhooks.received.v1'));
    await migrateDedupe(env.pool);
    const metrics = createMetrics('dedupe');
    const logger = createLogger('dedupe', process.env.BENCH_LOG_LEVEL ?? 'warn');
    const consumer = await runConsumer({
      handler: new DedupeHandler(new ClaimStore(env.pool), metrics),
      logger,
      metrics,
      config: env.env,
      pool: env.pool,
      codec: env.codec,
      batch_size_max: BATCH_SIZE_MAX,
    });
    const cpu0 = process.cpuUsage();
    let start = 0;
    while (!consumer.isReady()) await new Promise((r) => setTimeout(r, 20));
    start = Date.now();
    for (;;) {
      const committed = await env.transport.committedOffsets(consumer.group_id, env.topic('webhooks.received.v1'));
      if ([...ends].every(([p, { high }]) => (committed.get(p) ?? 0n) >= high)) break;
      if (Date.now() - start > 600_000) throw new Error('dedupe did not finish within 10 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
    const elapsed_s = (Date.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await consumer.stop();
    const out = await env.readAll('events.unique.v1', 60_000);
    const events_per_s = Math.round(deliveries.length / elapsed_s);
    const chunks = (await metrics.registry.getSingleMetric('tidemark_stream_chunk_duration_seconds')?.get())?.values ?? [];
    const chunkCount = chunks.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const chunkSum = chunks.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    const result = {
      benchmark: 'dedupe throughput (stream runtime + Postgres claims, exactly-once transactions)',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version },
      deliveries: deliveries.length,
      distinct_events: distinct,
      redelivered_share_of_events: 0.2,
      duplicate_share_of_deliveries: Number(((deliveries.length - distinct) / deliveries.length).toFixed(3)),
      input_partitions: ends.size,
      batch_size_max: BATCH_SIZE_MAX,
      instances: 1,
      elapsed_s: Number(elapsed_s.toFixed(2)),
      events_per_s,
      unique_out: out.length,
      unique_out_correct: out.length === distinct,
      chunks: chunkCount,
      chunk_mean_ms: chunkCount > 0 ? Number(((chunkSum / chunkCount) * 1000).toFixed(1)) : null,
      node_cpu_share_of_one_core: Number(((cpu.user + cpu.system) / 1e6 / elapsed_s).toFixed(2)),
      note: 'single broker, Postgres and the bench share a 2-core machine with other workloads',
    };
    console.log(
      `dedupe: ${events_per_s} events/s (${deliveries.length} deliveries in ${elapsed_s.toFixed(2)} s, ${out.length}/${distinct} unique out, ${chunkCount} transactions)`,
    );
    mkdirSync(join(REPO, 'reports'), { recursive: true });
    writeFileSync(join(REPO, 'reports', 'dedupe-bench.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (!result.unique_out_correct) {
      console.error(`expected ${distinct} unique events out, got ${out.length}`);
      process.exitCode = 1;
    }
  } finally {
    await env.cleanup();
  }
}

await main();
