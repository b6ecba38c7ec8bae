/** The runtime's Prometheus metrics (registered once per service registry). */
import type { Metrics } from '@tidemark/common';

export type StreamMetrics = ReturnType<typeof build>;

const cache = new WeakMap<Metrics, StreamMetrics>();

function build(m: Metrics) {
  return {
    settled: m.counter('tidemark_stream_records_total', 'Records settled by the stream runtime, by input kind (main/retry) and outcome', [
      'input',
      'outcome',
    ]),
    retried: m.counter('tidemark_stream_retried_total', 'Records sent to a retry rung after a transient failure', ['rung']),
    parked: m.counter('tidemark_stream_parked_total', 'Records that followed their key into the ladder (key already parked)', ['rung']),
    dead_lettered: m.counter('tidemark_stream_dead_lettered_total', 'Records written to the DLQ', ['error_class']),
    parked_keys: m.gauge('tidemark_stream_parked_keys', 'Keys with at least one record in the retry ladder (from Postgres)'),
    handler_seconds: m.histogram('tidemark_stream_handler_duration_seconds', 'Handler call duration', ['mode']),
    chunk_seconds: m.histogram('tidemark_stream_chunk_duration_seconds', 'Chunk duration from fetch to committed transaction', ['input']),
    chunk_phase_seconds: m.histogram(
      'tidemark_stream_chunk_phase_seconds',
      "Where a chunk's time goes, by phase: queued (age of its first record when the chunk starts), decode, parking_read, handle, build, parking_write, commit",
      ['phase'],
    ),
    lag: m.gauge('tidemark_stream_consumer_lag', 'Records in the partition not yet consumed by this group', ['topic', 'partition']),
    blocked: m.gauge('tidemark_stream_blocked', '1 while a partition is blocked in place on an infrastructure failure', [
      'topic',
      'partition',
    ]),
    block_retries: m.counter('tidemark_stream_block_retries_total', 'In-place retries after infrastructure failures', ['reason']),
    transactions: m.counter('tidemark_stream_transactions_total', 'Kafka transactions by result', ['result']),
    consumer_replacements: m.counter(
      'tidemark_stream_consumer_replacements_total',
      'Kafka consumers replaced by the stall watch (runtime/stall.ts), by sign: unfetched (assigned partitions not fetched), waiting (fetched records not delivered), silent (no client statistics)',
      ['reason'],
    ),
    ladder_depth: m.gauge(
      'tidemark_stream_ladder_depth',
      "Records waiting in a retry rung topic: high watermark minus this group's committed offset, summed over partitions (Kafka transaction markers make it an upper bound)",
      ['rung'],
    ),
    dlq_depth: m.gauge(
      'tidemark_stream_dlq_depth',
      "Offsets retained in the service's DLQ topic (high minus low watermark, summed over partitions; includes transaction markers, so an upper bound on dead letters; purge --truncate lowers it)",
    ),
  };
}

/**
 * Buckets (seconds) for end-to-end latency histograms (received→screened,
 * received→projected, ...): fine enough between 5 ms and 60 s for p50/p90/p99.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30,
  45, 60,
];

export function streamMetrics(m: Metrics): StreamMetrics {
  let s = cache.get(m);
  if (!s) {
    s = build(m);
    cache.set(m, s);
  }
  return s;
}
