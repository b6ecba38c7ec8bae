/**
 * End-to-end sustained-throughput benchmark: one whole stack (test/harness/stack.ts, one
 * instance per service, real child processes on the real Kafka, registry and Postgres),
 * fed by the provider simulator's load mode at fixed rates (linear ramp, then steady state).
 * Per rate it measures offered vs acknowledged rate, ingress ack latency (simulator), and
 * per event — exactly, from the ledger database — received→projected and received→screened
 * over the steady window; then the backlog when sending stopped, the time to drain it and
 * consumer lag. Optionally searches the highest rate with p99 received→projected ≤ 250 ms.
 *
 *   npx tsx test/bench/e2e.bench.ts [--quick] [--find-max]
 *   env: TIDEMARK_BENCH_RATES=250,500,1000  TIDEMARK_BENCH_DURATION_S=300  TIDEMARK_BENCH_RAMP_S=20
 *        TIDEMARK_BENCH_DRAIN_TIMEOUT_S=120  TIDEMARK_BENCH_FIND_MAX=1  TIDEMARK_BENCH_PORT_BASE=19380
 *        TIDEMARK_BENCH_TRACING=0 (default 1: traces to Jaeger when it is up)  TIDEMARK_BENCH_OUT=<file>
 *
 * Prints figures and writes reports/e2e-bench.json; it never asserts timings.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createKafka, kafkaConnection, topicName } from '@tidemark/common';
import { generateSecrets, keysFromEnv, loadScenario, parseScenario, startSimulator, type SimulationStatus } from '@tidemark/simulator';
import { gitCommit, machineFacts } from '@tidemark/cli/bench-facts';
import { liveJaeger } from '../harness/jaeger.js';
import { fetchTraces, formatHopSplit, hopSplit, type HopSplit } from './trace-split.js';
import { Stack } from '../harness/stack.js';
import {
  highestPassing,
  keptUp,
  meetsGoal,
  nextSearchRate,
  planFromEnv,
  P99_GOAL_MS,
  SEARCH_PROBES_MAX,
  steadyWindow,
  type BenchPlan,
  type Percentiles,
  type RateResult,
} from './core.js';
import {
  deltas,
  groupLag,
  projectedBetween,
  scrapeSplit,
  projectedCount,
  receivedToProjected,
  receivedToScreened,
  screeningSchema,
  waitProjected,
  type GroupLag,
} from './measure.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const INPUTS: Array<{ service: string; topic: string }> = [
  { service: 'dedupe', topic: 'webhooks.received.v1' },
  { service: 'compliance-screening', topic: 'events.unique.v1' },
  { service: 'ledger-projector', topic: 'events.screened.v1' },
];
const SIM_DRAIN_TIMEOUT_MS = 30_000;

/** Set on SIGINT/SIGTERM: the running rate stops sending, later rates are skipped, the stack is torn down. */
const interrupt = { requested: false, stop_simulator: null as null | (() => Promise<unknown>) };

export interface RateRun extends RateResult {
  phase: 'warmup' | 'fixed' | 'search';
  namespace: string;
  ramp_s: number;
  events_generated: number;
  events_acknowledged: number;
  deliveries_acknowledged: number;
  rejected: number;
  errors: number;
  retried: number;
  duplicates: number;
  status_counts: Record<string, number>;
  ack_latency_ms: { p50: number; p90: number; p99: number; max: number; count: number };
  due_to_ack_latency_ms: { p50: number; p90: number; p99: number; max: number };
  received_to_screened: Percentiles | null;
  lag_at_send_end: GroupLag[];
  lag_after_drain: GroupLag[];
  projected_after_drain: number;
  kept_up: boolean;
  kept_up_reasons: string[];
  meets_goal: boolean;
  load_average_1m: { start: number; end: number };
  /** Tidemark service processes of other stacks running when this rate ended. */
  other_service_processes: number;
  /** Per service, deltas of CPU seconds, handler/chunk seconds and record counters from send start to send end. */
  service_split_during_send: Record<string, Record<string, number>>;
  /** Per hop, from the traces of events received in the steady window (null: tracing off or Jaeger silent). */
  hop_split_from_traces: HopSplit | null;
}

/** Node processes on this machine running a Tidemark service entry point (reads /proc; 0 where unavailable). */
function serviceProcessesOnMachine(): number {
  let n = 0;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(pid)) continue;
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (/services\/[a-z-]+\/src\/(main|fake-risk-api\/main)\.ts/.test(cmd)) n++;
      } catch {
        /* exited */
      }
    }
  } catch {
    /* no /proc */
  }
  return n;
}

function log(line: string): void {
  console.log(`[e2e-bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

async function lagAll(admin: import('kafkajs').Admin, prefix: string): Promise<GroupLag[]> {
  return Promise.all(INPUTS.map((i) => groupLag(admin, topicName(i.service, prefix), topicName(i.topic, prefix))));
}

/** Traces read per rate for the per-hop split (Jaeger returns the newest of the window). */
const TRACES_MAX = 1_000;

const SPLIT_SERVICES = ['ingress', 'dedupe', 'compliance-screening', 'ledger-projector', 'risk-api'] as const;

async function scrapeAll(stack: Stack): Promise<Record<string, Record<string, number>>> {
  const entries = await Promise.all(
    SPLIT_SERVICES.map(async (s) => [s, await scrapeSplit(`http://127.0.0.1:${stack.portOf(s)}/metrics`)] as const),
  );
  return Object.fromEntries(entries);
}

async function runRate(
  ctx: {
    stack: Stack;
    pool: pg.Pool;
    admin: import('kafkajs').Admin;
    screening_schema: string | null;
    secrets: Record<string, string>;
    jaeger_query_url: string | null;
  },
  plan: BenchPlan,
  rate_per_s: number,
  steady_s: number,
  phase: RateRun['phase'],
): Promise<RateRun> {
  const namespace = `b${rate_per_s}${Date.now().toString(36)}`.slice(0, 24);
  const base = loadScenario('load');
  const duration_ms = (plan.ramp_s + steady_s) * 1000;
  const scenario = parseScenario({
    ...base,
    traffic: { ...base.traffic, transactions: Math.max(base.traffic.transactions, Math.ceil(rate_per_s * (duration_ms / 1000)) + 1) },
  });
  const load_start = loadavg()[0] ?? 0;
  const split_before = await scrapeAll(ctx.stack);
  const cpu_before = process.cpuUsage();
  log(`${phase} ${rate_per_s}/s: ${plan.ramp_s} s ramp + ${steady_s} s steady (namespace ${namespace})`);
  const send_started_ms = Date.now();
  const running = await startSimulator({
    scenario,
    ingress_url: ctx.stack.ingress_url,
    keys: keysFromEnv(['generic'], ctx.secrets),
    namespace,
    listen: null,
    record_truth: false,
    rate: { rate_per_s, ramp_ms: plan.ramp_s * 1000, duration_ms },
    drain_timeout_ms: SIM_DRAIN_TIMEOUT_MS,
    on_progress: (s: SimulationStatus) => {
      if (s.phase === 'running')
        log(`  sent ${s.delivery.attempts} acked ${s.delivery.acknowledged} queued ${s.queued} in-flight ${s.in_flight}`);
    },
  });
  interrupt.stop_simulator = () => running.stop();
  const status = await running.done;
  interrupt.stop_simulator = null;
  if (interrupt.requested) throw new Error('interrupted by a signal');
  const window = steadyWindow(send_started_ms, plan.ramp_s, steady_s);
  const send_end_ms = Date.now();
  const target = status.delivery.events_acknowledged;
  const [projected_at_end, lag_at_send_end] = await Promise.all([projectedCount(ctx.pool, namespace), lagAll(ctx.admin, ctx.stack.prefix)]);
  const backlog = Math.max(0, target - projected_at_end);
  const split_after = await scrapeAll(ctx.stack);
  const service_split_during_send: Record<string, Record<string, number>> = {};
  for (const name of Object.keys(split_after)) service_split_during_send[name] = deltas(split_before[name] ?? {}, split_after[name] ?? {});
  const cpu = process.cpuUsage(cpu_before);
  service_split_during_send['simulator (bench process)'] = { process_cpu_seconds_total: Math.round((cpu.user + cpu.system) / 1000) / 1000 };
  log(
    `  sending done after ${((send_end_ms - send_started_ms) / 1000).toFixed(1)} s: ${target} events acknowledged, backlog ${backlog}; draining`,
  );
  const drained = await waitProjected(ctx.pool, namespace, target, plan.drain_timeout_s * 1000);
  const lag_after_drain = await lagAll(ctx.admin, ctx.stack.prefix);

  const rp = await receivedToProjected(ctx.pool, namespace, window.from_ms, window.to_ms);
  const rs = ctx.screening_schema
    ? await receivedToScreened(ctx.pool, ctx.screening_schema, namespace, window.from_ms, window.to_ms)
    : null;
  const projected_in_window = await projectedBetween(ctx.pool, namespace, window.from_ms, window.to_ms);
  const traces = ctx.jaeger_query_url ? await fetchTraces(ctx.jaeger_query_url, window.from_ms, window.to_ms, TRACES_MAX) : null;
  const hop_split_from_traces = traces ? hopSplit(traces) : null;
  const a = status.ack_latency;
  const d = status.due_to_ack_latency;
  const result: RateResult = {
    offered_rate_per_s: rate_per_s,
    steady_s,
    acknowledged_rate_per_s: Math.round((target / ((send_end_ms - send_started_ms) / 1000)) * 10) / 10,
    received_rate_steady_per_s: Math.round((rp.count / steady_s) * 10) / 10,
    projected_rate_steady_per_s: Math.round((projected_in_window / steady_s) * 10) / 10,
    received_to_projected: rp,
    backlog_at_send_end: backlog,
    drain_s: drained.drain_s,
    abandoned: status.delivery.abandoned,
  };
  const k = keptUp(result);
  const run: RateRun = {
    ...result,
    phase,
    namespace,
    ramp_s: plan.ramp_s,
    events_generated: status.generated_events,
    events_acknowledged: target,
    deliveries_acknowledged: status.delivery.acknowledged,
    rejected: status.delivery.rejected,
    errors: status.delivery.errors,
    retried: status.delivery.retried,
    duplicates: status.delivery.duplicates,
    status_counts: status.delivery.status_counts,
    ack_latency_ms: { p50: a.p50_ms, p90: a.p90_ms, p99: a.p99_ms, max: a.max_ms, count: a.count },
    due_to_ack_latency_ms: { p50: d.p50_ms, p90: d.p90_ms, p99: d.p99_ms, max: d.max_ms },
    received_to_screened: rs,
    lag_at_send_end,
    lag_after_drain,
    projected_after_drain: drained.projected,
    kept_up: k.ok,
    kept_up_reasons: k.reasons,
    meets_goal: meetsGoal(result),
    load_average_1m: { start: load_start, end: loadavg()[0] ?? 0 },
    other_service_processes: Math.max(0, serviceProcessesOnMachine() - 5),
    service_split_during_send,
    hop_split_from_traces,
  };
  log(
    `  ${rate_per_s}/s: received ${run.received_rate_steady_per_s}/s projected ${run.projected_rate_steady_per_s}/s; ` +
      `received→projected p50 ${rp.p50_ms} p90 ${rp.p90_ms} p99 ${rp.p99_ms} max ${rp.max_ms} ms; ` +
      `ack p99 ${a.p99_ms} ms; backlog ${backlog}, drained in ${drained.drain_s ?? 'NOT drained'} s; ${k.ok ? 'kept up' : `did NOT keep up: ${k.reasons.join('; ')}`}`,
  );
  if (hop_split_from_traces) log(`  per hop (traces): ${formatHopSplit(hop_split_from_traces)}`);
  return run;
}

export async function runE2eBench(argv: string[] = process.argv.slice(2)): Promise<Record<string, unknown>> {
  const onSignal = (signal: string) => {
    log(`${signal}: stopping the simulator, then tearing the stack down`);
    interrupt.requested = true;
    void interrupt.stop_simulator?.();
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  const plan = planFromEnv(process.env, argv.includes('--quick'), argv.includes('--find-max'));
  const out = process.env.TIDEMARK_BENCH_OUT ?? join(REPO, 'reports', 'e2e-bench.json');
  const port_base = Number(process.env.TIDEMARK_BENCH_PORT_BASE ?? 19380);
  const jaeger = process.env.TIDEMARK_BENCH_TRACING === '0' ? null : await liveJaeger();
  const otlp = jaeger?.otlp_traces_url ?? null;
  const started_at = new Date().toISOString();
  const load_start = loadavg();
  const secrets = generateSecrets(['generic', 'ledgerpay', 'custodian-x']);
  const stack = new Stack(
    { port_base, otlp_endpoint: otlp, env: { TIDEMARK_LOG_LEVEL: process.env.TIDEMARK_BENCH_LOG_LEVEL ?? 'info' } },
    secrets,
  );
  const runs: RateRun[] = [];
  let warmup: RateRun | null = null;
  const services_start = serviceProcessesOnMachine();
  let pool: pg.Pool | null = null;
  const admin = createKafka({ ...kafkaConnection(stack.base), client_id: `e2e-bench-${stack.id}` }).admin();
  let failure: string | null = null;
  log(`plan ${JSON.stringify(plan)}; stack ${stack.id} on ports ${port_base}+; tracing ${otlp ?? 'off'}`);
  try {
    await stack.setUp();
    await stack.startAll();
    await admin.connect();
    pool = new pg.Pool({ connectionString: stack.database_url, max: 2 });
    const screening_schema = await screeningSchema(pool);
    const ctx = { stack, pool, admin, screening_schema, secrets, jaeger_query_url: jaeger?.query_url ?? null };
    const warmup_rate = Math.min(250, ...plan.rates_per_s);
    warmup = await runRate(ctx, { ...plan, ramp_s: Math.min(plan.ramp_s, plan.warmup_s) }, warmup_rate, plan.warmup_s, 'warmup');
    if (interrupt.requested) throw new Error('interrupted by a signal');
    for (const rate of plan.rates_per_s) runs.push(await runRate(ctx, plan, rate, plan.steady_s, 'fixed'));
    if (plan.find_max) {
      for (let probe = 0; probe < SEARCH_PROBES_MAX; probe++) {
        const next = nextSearchRate(
          runs.map((r) => ({ rate_per_s: r.offered_rate_per_s, pass: r.meets_goal })),
          plan,
        );
        if (next === null) break;
        runs.push(await runRate(ctx, plan, next, plan.search_steady_s, 'search'));
      }
    }
  } catch (err) {
    failure = (err as Error).stack ?? String(err);
    log(`FAILED: ${(err as Error).message}`);
  } finally {
    await pool?.end().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await stack.tearDown().catch((e) => log(`teardown: ${(e as Error).message}`));
  }
  const report = {
    benchmark: 'end-to-end sustained throughput: simulator → ingress → dedupe → compliance-screening → ledger-projector',
    at: started_at,
    finished_at: new Date().toISOString(),
    git_commit: gitCommit(REPO),
    machine: {
      ...machineFacts(load_start),
      // Tidemark service processes running on the machine besides this stack's own (contention from other stacks).
      other_service_processes: { start: services_start, end: serviceProcessesOnMachine() },
    },
    plan,
    tracing: otlp ? 'OTLP to Jaeger' : 'off',
    goal: { p99_received_to_projected_ms_max: P99_GOAL_MS, rate_per_s: 1000, steady_s: 300 },
    highest_rate_meeting_goal_per_s: highestPassing(runs.map((r) => ({ rate_per_s: r.offered_rate_per_s, pass: r.meets_goal }))),
    warmup,
    runs,
    failure,
    notes: [
      "received_at is stamped by ingress, projected_at by the ledger-projector (one timestamp per database batch); both on this machine's clock.",
      'Percentiles are exact (percentile_disc over every event received in the steady window), not histogram estimates.',
      "ack latency is the simulator's request→2xx over the whole send, ramp included; due→ack adds time queued behind the simulator's connection limit.",
      'Lag counts at most one Kafka transaction marker per partition for consumers of transactional topics.',
      "Services, Kafka, the registry, Postgres, the simulator and other engineers' workloads share this machine.",
    ],
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${out}`);
  return report;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = await runE2eBench();
  process.exit(report.failure ? 1 : 0);
}
