/**
 * Ingress throughput and ack latency, measured from outside over HTTP.
 *
 * In one run, against a bare Node HTTP server that answers 202 without doing any work (the
 * practical ceiling of this machine) and against the real ingress process (signature
 * verification, validation, Avro encoding, idempotent acks=all Kafka write), with the same
 * pre-signed requests: fixed rates (1000/s, 2000/s) and max. Because ingress answers 202
 * only after the Kafka ack, the client-side latency IS the ack latency.
 * Afterwards it checks that Kafka holds one record per 202.
 *
 *   npm run bench:ingress            (from services/ingress, or `npm run bench:ingress -w services/ingress`)
 *   BENCH_DURATION_S=10 BENCH_RATES=1000,2000 BENCH_CONNECTIONS_MAX=64
 * Writes reports/ingress-bench.json and reports/ingress-bench.md at the repo root.
 */
import { baseConfigSchema, loadConfig, topicName } from '@tidemark/common';
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { generateWhsecSecret, signWebhook } from '../src/index.js';
import { createNamespace, freePort, REPO_ROOT, spawnIngress } from '../src/test-support/harness.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 3);
const RATES = (process.env.BENCH_RATES ?? '1000,2000').split(',').map(Number);
const CONNECTIONS_FIXED = Number(process.env.BENCH_CONNECTIONS_FIXED ?? 32);
const CONNECTIONS_MAX = Number(process.env.BENCH_CONNECTIONS_MAX ?? 64);
const DISTINCT_REQUESTS = 4_000;
const GOAL_THROUGHPUT_PER_S = 5_000;
const GOAL_P99_MS_AT_2000 = 25;

/** Cumulative bucket counts of one Prometheus histogram (summed over label sets), by upper bound. */
type Buckets = Map<number, number>;

function histogram(metrics_text: string, name: string): Buckets {
  const buckets: Buckets = new Map();
  const pattern = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} ([0-9.e+]+)$`, 'gm');
  for (const match of metrics_text.matchAll(pattern)) {
    const le = match[1] === '+Inf' ? Infinity : Number(match[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
  }
  return buckets;
}

/** Quantile (ms) of the observations between two scrapes, interpolated inside the bucket. */
function quantileMs(before: Buckets, after: Buckets, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower_bound = 0;
  let lower_count = 0;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! >= rank) {
      const upper = bounds[i]!;
      if (!Number.isFinite(upper)) return lower_bound * 1000;
      const fraction = (rank - lower_count) / Math.max(1, counts[i]! - lower_count);
      return Math.round((lower_bound + (upper - lower_bound) * fraction) * 1000 * 100) / 100;
    }
    lower_bound = bounds[i]!;
    lower_count = counts[i]!;
  }
  return null;
}

interface Phase {
  target: 'bare' | 'ingress';
  mode: string;
  offered_rate_per_s: number | null;
  connections: number;
  duration_s: number;
  throughput_per_s: number;
  ok_2xx: number;
  non_2xx: number;
  errors: number;
  timeouts: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Ingress only, from its own histograms: Kafka write queued → acks=all ack, and the whole request. */
  server_ack_ms?: { p50: number | null; p90: number | null; p99: number | null };
  server_request_ms?: { p50: number | null; p99: number | null };
  /**
   * CPU time (user + system) the server process spent during the phase per 2xx answer, in µs
   * (ingress: its `process_cpu_seconds_total`; bare server: process.cpuUsage()). Contention on a
   * shared machine inflates it far less than it deflates throughput.
   */
  server_cpu_us_per_2xx: number | null;
}

function signedRequests(secret: string): autocannon.Request[] {
  const run = Date.now().toString(36);
  return Array.from({ length: DISTINCT_REQUESTS }, (_, i) => {
    const body = JSON.stringify({
      id: `evt_bench_${run}_${i}`,
      type: i % 2 === 0 ? 'deposit.detected' : 'deposit.confirmed',
      occurred_at: new Date().toISOString(),
      data: {
        transaction_id: `tx_${run}_${i}`,
        wallet_id: `wal_${i % 500}`,
        asset: 'BTC',
        network: 'bitcoin',
        amount: `0.${String(i).padStart(8, '0')}`,
        tx_hash: `9f2c${i}`,
        from_address: 'bc1qfrom',
        to_address: 'bc1qto',
        confirmations: i % 7,
        counterparty: { name: 'ACME GmbH', country: 'DE' },
      },
    });
    return { method: 'POST', path: '/webhooks/generic', headers: signWebhook({ type: 'standard-webhooks' }, secret, body), body };
  });
}

/**
 * autocannon over a rotating pool of pre-signed requests. The pool is handed out through
 * setupRequest (a pick, no signing at send time): a large static `requests` array makes
 * autocannon's rate limiter (overallRate) fall far below the offered rate.
 */
async function load(
  url: string,
  pool: autocannon.Request[],
  opts: { rate: number | null; connections: number; duration_s: number },
): Promise<autocannon.Result> {
  let next = 0;
  return autocannon({
    url,
    requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, ...pool[next++ % pool.length]! }) }],
    connections: opts.connections,
    duration: opts.duration_s,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    timeout: 10,
  });
}

function toPhase(
  target: Phase['target'],
  mode: string,
  rate: number | null,
  connections: number,
  r: autocannon.Result,
  cpu_seconds: number | null,
): Phase {
  return {
    target,
    mode,
    offered_rate_per_s: rate,
    connections,
    duration_s: r.duration,
    throughput_per_s: Math.round(r['2xx'] / r.duration),
    ok_2xx: r['2xx'],
    non_2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latency_ms: {
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      mean: Math.round(r.latency.mean * 100) / 100,
    },
    server_cpu_us_per_2xx: cpu_seconds !== null && r['2xx'] > 0 ? Math.round((cpu_seconds * 1e6) / r['2xx']) : null,
  };
}

/** The process CPU seconds (user + system) a server reports: ingress through /metrics, the bare server at /cpu. */
async function cpuSeconds(target: Phase['target'], url: string, metrics_text: string): Promise<number | null> {
  if (target === 'bare') return Number(await (await fetch(`${url}/cpu`)).text());
  const match = /^process_cpu_seconds_total(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(metrics_text);
  return match ? Number(match[1]) : null;
}

let warmup_2xx_total = 0;

async function runPhases(target: Phase['target'], url: string, requests: autocannon.Request[]): Promise<Phase[]> {
  const phases: Phase[] = [];
  const scrape = async () => (target === 'ingress' ? (await fetch(`${url}/metrics`)).text() : '');
  const withServerSide = async (phase: Phase, before: string, after: string) => {
    if (target !== 'ingress') return phase;
    const [ack0, ack1] = [
      histogram(before, 'tidemark_ingress_ack_latency_seconds'),
      histogram(after, 'tidemark_ingress_ack_latency_seconds'),
    ];
    const [req0, req1] = [
      histogram(before, 'tidemark_ingress_request_duration_seconds'),
      histogram(after, 'tidemark_ingress_request_duration_seconds'),
    ];
    phase.server_ack_ms = { p50: quantileMs(ack0, ack1, 0.5), p90: quantileMs(ack0, ack1, 0.9), p99: quantileMs(ack0, ack1, 0.99) };
    phase.server_request_ms = { p50: quantileMs(req0, req1, 0.5), p99: quantileMs(req0, req1, 0.99) };
    return phase;
  };
  const warm = await load(url, requests, { rate: 1000, connections: CONNECTIONS_FIXED, duration_s: WARMUP_S });
  if (target === 'ingress') warmup_2xx_total += warm['2xx'];
  const runPhase = async (mode: string, rate: number | null, connections: number) => {
    const before = await scrape();
    const cpu_before = await cpuSeconds(target, url, before);
    const r = await load(url, requests, { rate, connections, duration_s: DURATION_S });
    const after = await scrape();
    const cpu_after = await cpuSeconds(target, url, after);
    const cpu = cpu_before !== null && cpu_after !== null ? cpu_after - cpu_before : null;
    const phase = await withServerSide(toPhase(target, mode, rate, connections, r, cpu), before, after);
    phases.push(phase);
    console.log(
      `${target} @${mode}: ${phase.throughput_per_s}/s p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms non2xx ${r.non2xx} cpu ${phase.server_cpu_us_per_2xx} µs/2xx`,
    );
  };
  for (const rate of RATES) await runPhase(`${rate}/s`, rate, CONNECTIONS_FIXED);
  await runPhase('max', null, CONNECTIONS_MAX);
  return phases;
}

async function startBare(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const source = `require('node:http').createServer((req, res) => { if (req.url === '/cpu') { const u = process.cpuUsage(); return res.end(String((u.user + u.system) / 1e6)); } req.resume(); req.on('end', () => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{"id":"bare","event_id":"bare"}'); }); }).listen(${port}, '127.0.0.1', () => console.log('up'));`;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

async function main(): Promise<void> {
  const config = loadConfig(baseConfigSchema);
  const prefix = `bench-ingress-${Date.now().toString(36)}.`;
  const secret = generateWhsecSecret();
  console.log(
    `ingress bench: ${os.cpus().length} CPUs, node ${process.version}, ${DURATION_S}s per phase, rates ${RATES.join(', ')}/s + max`,
  );

  const bare = await startBare();
  const bare_phases = await runPhases('bare', bare.url, signedRequests(secret));
  bare.stop();

  const ns = await createNamespace(config, prefix);
  // TIDEMARK_CPU_PROF_DIR: the ingress process writes a V8 CPU profile there (as under the Platform).
  const prof_dir = process.env.TIDEMARK_CPU_PROF_DIR;
  const ingress = await spawnIngress(
    { TIDEMARK_TOPIC_PREFIX: prefix, TIDEMARK_GENERIC_SECRETS: secret, TIDEMARK_LOG_LEVEL: 'warn' },
    { node_args: prof_dir ? ['--cpu-prof', `--cpu-prof-dir=${prof_dir}`] : [] },
  );
  let ingress_phases: Phase[] = [];
  let records_in_kafka = 0;
  let metrics_text = '';
  try {
    ingress_phases = await runPhases('ingress', ingress.url, signedRequests(secret));
    metrics_text = await (await fetch(`${ingress.url}/metrics`)).text();
    const offsets = await ns.admin.fetchTopicOffsets(topicName('webhooks.received.v1', prefix));
    records_in_kafka = offsets.reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await ingress.stop();
    await ns.cleanup();
  }

  const ingress_2xx = ingress_phases.reduce((s, p) => s + p.ok_2xx, 0) + warmup_2xx_total;
  const batch_sum = Number(/tidemark_ingress_kafka_batch_records_sum\{[^}]*\} ([0-9.e+]+)/.exec(metrics_text)?.[1] ?? NaN);
  const batch_count = Number(/tidemark_ingress_kafka_batch_records_count\{[^}]*\} ([0-9.e+]+)/.exec(metrics_text)?.[1] ?? NaN);
  const ingress_max = ingress_phases.find((p) => p.mode === 'max')!;
  const bare_max = bare_phases.find((p) => p.mode === 'max')!;
  const at2000 = ingress_phases.find((p) => p.offered_rate_per_s === 2000);
  const report = {
    at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      colocated: "load generator, ingress, bare server, Kafka, registry and other engineers' processes share this machine",
    },
    settings: {
      duration_s: DURATION_S,
      warmup_s: WARMUP_S,
      rates_per_s: RATES,
      connections_fixed: CONNECTIONS_FIXED,
      connections_max: CONNECTIONS_MAX,
      distinct_signed_requests: DISTINCT_REQUESTS,
    },
    phases: [...bare_phases, ...ingress_phases],
    ratio_max_throughput_ingress_to_bare: Math.round((ingress_max.throughput_per_s / bare_max.throughput_per_s) * 1000) / 1000,
    /** Server CPU µs per 2xx at max load, ingress / bare server. */
    ratio_cpu_per_request_ingress_to_bare:
      ingress_max.server_cpu_us_per_2xx !== null && bare_max.server_cpu_us_per_2xx
        ? Math.round((ingress_max.server_cpu_us_per_2xx / bare_max.server_cpu_us_per_2xx) * 100) / 100
        : null,
    kafka: {
      records_in_topic: records_in_kafka,
      ingress_202_total_with_warmup: ingress_2xx,
      every_202_has_a_record: records_in_kafka >= ingress_2xx,
      mean_records_per_batch: Math.round((batch_sum / batch_count) * 10) / 10,
    },
    goals: {
      throughput_per_s: {
        goal: GOAL_THROUGHPUT_PER_S,
        measured: ingress_max.throughput_per_s,
        met: ingress_max.throughput_per_s >= GOAL_THROUGHPUT_PER_S,
      },
      p99_ms_at_2000_per_s: {
        goal: GOAL_P99_MS_AT_2000,
        measured: at2000?.latency_ms.p99 ?? null,
        met: at2000 !== undefined && at2000.latency_ms.p99 <= GOAL_P99_MS_AT_2000 && at2000.non_2xx === 0,
      },
    },
  };
  const dir = join(REPO_ROOT, 'reports');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ingress-bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  const dash = (v: number | null | undefined) => (v === null || v === undefined ? '–' : String(v));
  const row = (p: Phase) =>
    `| ${p.target} | ${p.mode} | ${p.connections} | ${p.throughput_per_s} | ${p.latency_ms.p50} | ${p.latency_ms.p90} | ${p.latency_ms.p99} | ${p.latency_ms.max} | ${dash(p.server_ack_ms?.p50)} / ${dash(p.server_ack_ms?.p99)} | ${dash(p.server_request_ms?.p50)} / ${dash(p.server_request_ms?.p99)} | ${dash(p.server_cpu_us_per_2xx)} | ${p.non_2xx} | ${p.errors + p.timeouts} |`;
  const md = [
    '# Ingress bench',
    '',
    `${report.at} · ${report.machine.cpus} CPUs (${report.machine.cpu_model}) · node ${report.machine.node} · ${DURATION_S} s per phase after a ${WARMUP_S} s warm-up · ${report.machine.colocated}.`,
    '',
    'Signed Standard Webhooks requests (`generic`), pre-signed, sent with autocannon. Ingress answers 202 only after the idempotent acks=all Kafka write, so the latency below is the ack latency seen by the provider.',
    '',
    "Client columns are what autocannon saw (they include load-generator and scheduler delays on this shared machine); the server columns come from ingress's own histograms (bucket-interpolated): Kafka write queued → ack, and request start → response. Server CPU µs/2xx is the server process's CPU time (user + system) during the phase divided by its 2xx answers; contention inflates it far less than it deflates throughput, so it is the figure to compare runs by.",
    '',
    '| target | load | connections | 2xx/s | client p50 ms | client p90 ms | client p99 ms | client max ms | server ack p50/p99 ms | server request p50/p99 ms | server CPU µs/2xx | non-2xx | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...report.phases.map(row),
    '',
    `- Max throughput, ingress / bare server: **${report.ratio_max_throughput_ingress_to_bare}** (${ingress_max.throughput_per_s}/s vs ${bare_max.throughput_per_s}/s).`,
    `- Server CPU per 2xx at max load: ingress ${dash(ingress_max.server_cpu_us_per_2xx)} µs vs bare server ${dash(bare_max.server_cpu_us_per_2xx)} µs (ratio ${dash(report.ratio_cpu_per_request_ingress_to_bare)}).`,
    `- Goal ≥ ${GOAL_THROUGHPUT_PER_S} verified webhooks/s: ${report.goals.throughput_per_s.met ? 'met' : 'NOT met'} (${ingress_max.throughput_per_s}/s).`,
    `- Goal p99 ≤ ${GOAL_P99_MS_AT_2000} ms at 2000/s: ${report.goals.p99_ms_at_2000_per_s.met ? 'met' : 'NOT met'} (${report.goals.p99_ms_at_2000_per_s.measured} ms).`,
    `- Kafka: ${records_in_kafka} records in webhooks.received.v1 for ${ingress_2xx} 202s, warm-up included (every 202 has a record: ${report.kafka.every_202_has_a_record}); mean ${report.kafka.mean_records_per_batch} records per sendBatch (event + audit per request).`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'ingress-bench.md'), md);
  console.log(md);
}

await main();
