/**
 * Adapters of the end-to-end benchmark: per-event latencies read exactly from the
 * ledger database (ledger.processed_events: received_at, projected_at per event; the
 * screening decision store's screened_at_ms), and consumer lag from Kafka.
 */
import type pg from 'pg';
import type { Admin } from 'kafkajs';
import type { Percentiles } from './core.js';

export const DRAIN_POLL_MS = 2_000;

function pct(row: Record<string, unknown>): Percentiles {
  const num = (v: unknown) => (v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10);
  return { count: Number(row.n), p50_ms: num(row.p50), p90_ms: num(row.p90), p99_ms: num(row.p99), max_ms: num(row.max) };
}

const PERCENTILES_SQL = `count(*)::int AS n,
  percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
  percentile_disc(0.9) WITHIN GROUP (ORDER BY ms) AS p90,
  percentile_disc(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
  max(ms) AS max`;

/** Event-id prefix of one simulator run (ids are `evt_<namespace>_…`). */
export function eventPrefix(namespace: string): string {
  return `evt_${namespace}_`;
}

/** received→projected per event whose received_at lies in [from, to). */
export async function receivedToProjected(pool: pg.Pool, namespace: string, from_ms: number, to_ms: number): Promise<Percentiles> {
  const { rows } = await pool.query(
    `WITH w AS (
       SELECT extract(epoch FROM (projected_at - received_at)) * 1000 AS ms
         FROM ledger.processed_events
        WHERE starts_with(event_id, $1) AND received_at >= to_timestamp($2::bigint / 1000.0) AND received_at < to_timestamp($3::bigint / 1000.0))
     SELECT ${PERCENTILES_SQL} FROM w`,
    [eventPrefix(namespace), String(from_ms), String(to_ms)],
  );
  return pct(rows[0] ?? { n: 0 });
}

/** Events of the run projected with projected_at in [from, to). */
export async function projectedBetween(pool: pg.Pool, namespace: string, from_ms: number, to_ms: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ledger.processed_events
      WHERE starts_with(event_id, $1) AND projected_at >= to_timestamp($2::bigint / 1000.0) AND projected_at < to_timestamp($3::bigint / 1000.0)`,
    [eventPrefix(namespace), String(from_ms), String(to_ms)],
  );
  return rows[0]?.n ?? 0;
}

export async function projectedCount(pool: pg.Pool, namespace: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ledger.processed_events WHERE starts_with(event_id, $1)`,
    [eventPrefix(namespace)],
  );
  return rows[0]?.n ?? 0;
}

/** The schema holding compliance-screening's decision store, or null if it is not in this database. */
export async function screeningSchema(pool: pg.Pool): Promise<string | null> {
  const { rows } = await pool.query<{ table_schema: string }>(
    `SELECT table_schema FROM information_schema.tables WHERE table_name = 'screening_decisions' LIMIT 1`,
  );
  return rows[0]?.table_schema ?? null;
}

/** received→screened per event (screening decision's screened_at_ms minus the ledger's received_at). */
export async function receivedToScreened(
  pool: pg.Pool,
  schema: string,
  namespace: string,
  from_ms: number,
  to_ms: number,
): Promise<Percentiles> {
  const table = `"${schema.replace(/"/g, '""')}".screening_decisions`;
  const { rows } = await pool.query(
    `WITH w AS (
       SELECT (s.screening->>'screened_at_ms')::numeric - extract(epoch FROM p.received_at) * 1000 AS ms
         FROM ledger.processed_events p JOIN ${table} s ON s.provider = p.provider AND s.event_id = p.event_id
        WHERE starts_with(p.event_id, $1) AND p.received_at >= to_timestamp($2::bigint / 1000.0) AND p.received_at < to_timestamp($3::bigint / 1000.0))
     SELECT ${PERCENTILES_SQL} FROM w`,
    [eventPrefix(namespace), String(from_ms), String(to_ms)],
  );
  return pct(rows[0] ?? { n: 0 });
}

/**
 * Polls until `target` events of the run are projected or the timeout passes.
 * Returns seconds waited, or null on timeout.
 */
export async function waitProjected(
  pool: pg.Pool,
  namespace: string,
  target: number,
  timeout_ms: number,
): Promise<{ drain_s: number | null; projected: number }> {
  const started = Date.now();
  for (;;) {
    const projected = await projectedCount(pool, namespace);
    if (projected >= target) return { drain_s: (Date.now() - started) / 1000, projected };
    if (Date.now() - started > timeout_ms) return { drain_s: null, projected };
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
}

export interface GroupLag {
  group_id: string;
  topic: string;
  /** Sum over partitions of (high watermark − committed offset). Consumers that commit in
   *  Kafka transactions leave ≤ 1 transaction marker per partition counted here. */
  lag: number;
  partitions: number;
}

/** Lag of one consumer group on its input topic, from the broker's committed offsets. */
export async function groupLag(admin: Admin, group_id: string, topic: string): Promise<GroupLag> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group_id, topics: [topic] })]);
  const by_partition = new Map<number, bigint>();
  for (const t of committed) for (const p of t.partitions) by_partition.set(p.partition, BigInt(p.offset));
  let lag = 0n;
  for (const e of ends) {
    const high = BigInt(e.high);
    const low = BigInt(e.low);
    const c = by_partition.get(e.partition) ?? -1n;
    const from = c < 0n ? low : c;
    if (high > from) lag += high - from;
  }
  return { group_id, topic, lag: Number(lag), partitions: ends.length };
}

/** Metrics summed over label sets whose deltas per rate show where the time went. */
export const SPLIT_METRICS = [
  'process_cpu_seconds_total',
  'tidemark_stream_handler_duration_seconds_sum',
  'tidemark_stream_chunk_duration_seconds_sum',
  'tidemark_stream_chunk_duration_seconds_count',
  'tidemark_stream_records_total',
  'tidemark_stream_retried_total',
  'tidemark_stream_parked_total',
  'tidemark_stream_dead_lettered_total',
  'tidemark_screening_duration_seconds_sum',
  'tidemark_screening_duration_seconds_count',
] as const;

/** Sums of each wanted metric over its label sets, parsed from Prometheus text. */
export function sumMetrics(text: string, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-+0-9.eE]+|NaN|[+-]Inf)/.exec(line);
    if (!m || !names.includes(m[1]!)) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) out[m[1]!] = (out[m[1]!] ?? 0) + v;
  }
  return out;
}

/** Seconds spent per chunk phase (tidemark_stream_chunk_phase_seconds), keyed `chunk_phase_<phase>_seconds_sum`. */
export function phaseSums(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tidemark_stream_chunk_phase_seconds_sum\{[^}]*phase="([a-z_]+)"[^}]*\} ([-+0-9.eE]+)$/gm)) {
    const key = `chunk_phase_${m[1]}_seconds_sum`;
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}

export async function scrapeSplit(url: string): Promise<Record<string, number>> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return {};
    const text = await res.text();
    return { ...sumMetrics(text, SPLIT_METRICS), ...phaseSums(text) };
  } catch {
    return {};
  }
}

export function deltas(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = Math.round((v - (before[k] ?? 0)) * 1000) / 1000;
  return out;
}
