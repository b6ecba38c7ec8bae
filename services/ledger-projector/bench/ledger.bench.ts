/**
 * Ledger catch-up benchmark (`npm run bench:ledger -w services/ledger-projector`).
 *
 * Builds a backlog of LEDGER_BENCH_EVENTS (default 100,000) screened events on a fresh
 * topic namespace, then measures how fast the projector catches up:
 *  - runtime:  the real service path — the shared stream runtime (Kafka transactions,
 *              parking store) driving the ledger handler into a fresh Postgres database;
 *  - handler:  the handler's handleBatch alone against another fresh database (the ceiling
 *              of the Postgres side, no Kafka);
 *  - instances: the service itself (src/main.ts) as 1, 2, … processes in one consumer group
 *              (LEDGER_BENCH_INSTANCES, default 1,2): once the group is stable, the backlog is
 *              written as fast as the producer can and the figure is events / (last projected −
 *              first written). Node is single-threaded, so a second instance is how the service
 *              uses a second core; the 1-instance run, measured the same way, is its baseline.
 * Afterwards it checks the ledger invariants and that every wallet balance equals the
 * one the pure core computes from the same events. Prints events/s and writes
 * reports/ledger-bench.json (repo root). LEDGER_BENCH_MODE=runtime|handler|instances|both|all
 * LEDGER_BENCH_CPU_PROFILE=<file> writes a CPU profile of the runtime mode's catch-up.
 * (both: handler and runtime; default all).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { AvroCodec, createIdempotentProducer, createMetrics, type ScreenedEvent } from '@tidemark/common';
import { testNamespace, type TestNamespace } from '@tidemark/common/testing';
import { runConsumer } from '@tidemark/stream';
import { createLedgerHandler } from '../src/handler.js';
import { ledgerCheck } from '../src/db/check.js';
import { listBalances } from '../src/db/read.js';
import { formatUnits } from '../src/core/amount.js';
import { BATCH_INPUTS_MAX, projectBatch, type WalletBalance } from '../src/core/batch.js';
import type { TxState } from '../src/core/transaction.js';
import { toLedgerInput } from '../src/core/validate.js';
import { createTestDatabase, type TestDatabase } from '../src/testing/pg.js';
import { inputRecord, screenedEvent } from '../src/testing/events.js';

const EVENTS = Number(process.env.LEDGER_BENCH_EVENTS ?? 100_000);
const WALLETS = Number(process.env.LEDGER_BENCH_WALLETS ?? 5_000);
const MODE = process.env.LEDGER_BENCH_MODE ?? 'all';
/** Instance counts for the `instances` mode: real service processes (src/main.ts) sharing the group. */
const INSTANCES = (process.env.LEDGER_BENCH_INSTANCES ?? '1,2').split(',').map(Number);
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const GROUP_STABLE_TIMEOUT_MS = 120_000;
const RUNTIME_BATCH_SIZE_MAX = Number(process.env.LEDGER_BENCH_BATCH ?? 2_000);
const HANDLER_BATCH = 2_000;
const PRODUCE_CHUNK = 5_000;
const CATCH_UP_TIMEOUT_MS = 15 * 60_000;
const REPORT_PATH = fileURLToPath(new URL('../../../reports/ledger-bench.json', import.meta.url));
const logger = pino({ level: process.env.TIDEMARK_LOG_LEVEL ?? 'warn' });

/** A realistic mix of lifecycles, in per-transaction order, with 18-decimal amounts. */
function makeEvents(count: number): ScreenedEvent[] {
  const out: ScreenedEvent[] = [];
  const t0 = Date.now() - 3_600_000;
  for (let tx = 0; out.length < count; tx += 1) {
    const wallet_id = `wal_${tx % WALLETS}`;
    const amount = `${(tx * 7919) % 1000}.${String((tx * 104729) % 1e9).padStart(9, '0')}${String(tx % 1e9).padStart(9, '0')}`;
    const common = { transaction_id: `tx_${tx}`, wallet_id, partition_key: wallet_id, amount, asset: tx % 3 === 0 ? 'ETH' : 'BTC' };
    const kind = tx % 4;
    const types =
      kind === 0
        ? ['deposit.detected', 'deposit.confirmed']
        : kind === 1
          ? ['deposit.detected', 'deposit.confirmed']
          : kind === 2
            ? ['withdrawal.requested', 'withdrawal.broadcast', 'withdrawal.confirmed']
            : ['deposit.detected', 'deposit.failed'];
    for (const [i, event_type] of types.entries()) {
      if (out.length >= count) break;
      out.push(
        screenedEvent(
          { ...common, event_id: `evt_${tx}_${i}`, event_type, occurred_at_ms: t0 + tx, received_at_ms: t0 + tx + 5 },
          kind === 1 ? 'REVIEW' : 'ALLOW',
        ),
      );
    }
  }
  return out;
}

function expectedBalances(events: ScreenedEvent[]): Map<string, WalletBalance> {
  const states = new Map<string, TxState>();
  const balances = new Map<string, WalletBalance>();
  for (let i = 0; i < events.length; i += BATCH_INPUTS_MAX) {
    const part = projectBatch(
      events.slice(i, i + BATCH_INPUTS_MAX).map((e) => toLedgerInput(e)),
      { states, balances, now_ms: 0 },
    );
    for (const [k, v] of part.states) states.set(k, v);
    for (const [k, v] of part.balances) balances.set(k, v);
  }
  return balances;
}

async function verify(
  db: TestDatabase,
  expected: Map<string, WalletBalance>,
): Promise<{ ledger_check_ok: boolean; balances_match: boolean }> {
  const report = await ledgerCheck(db.pool);
  const actual = await listBalances(db.pool);
  const mismatches = actual.filter((b) => {
    const e = expected.get(`${b.wallet_id}\u0000${b.asset}`);
    return !e || formatUnits(e.pending) !== b.pending || formatUnits(e.available) !== b.available || formatUnits(e.held) !== b.held;
  });
  const balances_match = mismatches.length === 0 && actual.length === expected.size;
  if (!report.ok) console.error('ledger check violations', report.counts);
  if (!balances_match) console.error(`balance mismatches: ${mismatches.length}, rows ${actual.length} vs expected ${expected.size}`);
  return { ledger_check_ok: report.ok, balances_match };
}

/** CPU time (ms) of a process (a Postgres backend, a projector instance), from /proc (Linux; null elsewhere or once it exited). */
function processCpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
  } catch {
    return null;
  }
}

async function benchHandler(events: ScreenedEvent[], expected: Map<string, WalletBalance>) {
  // One connection: the batches are sequential, and its backend's CPU time is measurable.
  const db = await createTestDatabase({ pool_max: 1 });
  try {
    const handler = createLedgerHandler({ pool: db.pool, logger });
    const records = events.map(inputRecord);
    const backend_pid = (await db.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const pg0 = processCpuMs(backend_pid);
    const node0 = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < records.length; i += HANDLER_BATCH) await handler.handleBatch(records.slice(i, i + HANDLER_BATCH));
    const elapsed_s = (performance.now() - started) / 1000;
    const node = process.cpuUsage(node0);
    const pg1 = processCpuMs(backend_pid);
    const node_cpu_us_per_event = Number(((node.user + node.system) / records.length).toFixed(1));
    const pg_cpu_us_per_event = pg0 !== null && pg1 !== null ? Number((((pg1 - pg0) * 1000) / records.length).toFixed(1)) : null;
    const checks = await verify(db, expected);
    return {
      events: records.length,
      elapsed_s,
      events_per_s: Math.round(records.length / elapsed_s),
      batch: HANDLER_BATCH,
      node_cpu_us_per_event,
      pg_cpu_us_per_event,
      ...checks,
    };
  } finally {
    await db.drop();
  }
}

/**
 * With LEDGER_BENCH_CPU_PROFILE=<file.cpuprofile>: a CPU profile of this process over the catch-up
 * alone (not the backlog's production or the checks), for Chrome DevTools or speedscope.
 */
async function startCpuProfile(): Promise<{ stop(): Promise<void> } | null> {
  const path = process.env.LEDGER_BENCH_CPU_PROFILE;
  if (!path) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path, JSON.stringify(profile));
      session.disconnect();
      console.log(`CPU profile of the catch-up written to ${path}`);
    },
  };
}

/** Polls until `count` events are projected; returns when the first was (performance.now() ms). */
async function waitForProjected(db: TestDatabase, count: number, started: number): Promise<number> {
  let first_ms: number | null = null;
  for (;;) {
    const done = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger.processed_events')).rows[0]!.n;
    if (done > 0 && first_ms === null) first_ms = performance.now();
    if (done >= count) return first_ms ?? performance.now();
    if (performance.now() - started > CATCH_UP_TIMEOUT_MS)
      throw new Error(`catch-up did not finish in ${CATCH_UP_TIMEOUT_MS} ms (${done} events)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes `events` to the namespace's input topic (idempotent, acks=all); returns the seconds it took. */
async function produceBacklog(ns: TestNamespace, events: ScreenedEvent[]): Promise<number> {
  const codec = new AvroCodec(ns.config.TIDEMARK_REGISTRY_URL, ns.prefix);
  const producer = createIdempotentProducer(ns.kafka);
  await producer.connect();
  const started = performance.now();
  try {
    for (let i = 0; i < events.length; i += PRODUCE_CHUNK) {
      const chunk = events.slice(i, i + PRODUCE_CHUNK);
      const messages = await Promise.all(
        chunk.map(async (e) => ({ key: e.event.partition_key, value: await codec.encode('events.screened.v1', e) })),
      );
      await producer.send({ topic: ns.topic('events.screened.v1'), acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
  return (performance.now() - started) / 1000;
}

async function benchRuntime(events: ScreenedEvent[], expected: Map<string, WalletBalance>) {
  const ns = testNamespace('benchledger', { client_id: 'ledger-bench' });
  const db = await createTestDatabase({ pool_max: 8 });
  try {
    await ns.applyTopics();
    const produce_s = await produceBacklog(ns, events);
    console.log(`backlog of ${events.length} events produced in ${produce_s.toFixed(1)} s`);

    const config = ns.serviceConfig(db.url);
    const profile = await startCpuProfile();
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const metrics = createMetrics('ledger-projector');
    const handler_timed = createLedgerHandler({ pool: db.pool, logger, metrics });
    const consumer = await runConsumer({ handler: handler_timed, logger, metrics, config, batch_size_max: RUNTIME_BATCH_SIZE_MAX });
    let first_ms: number | null = null;
    try {
      first_ms = await waitForProjected(db, events.length, started);
    } finally {
      await consumer.stop();
    }
    const end = performance.now();
    const cpu = process.cpuUsage(cpu0);
    await profile?.stop();
    const total_s = (end - started) / 1000;
    const node_cpu_share_of_one_core = Number(((cpu.user + cpu.system) / 1e6 / total_s).toFixed(2));
    // This process's CPU per event: the runtime and the handler (Kafka's, Postgres's and the registry's are not in it).
    const node_cpu_us_per_event = Number(((cpu.user + cpu.system) / events.length).toFixed(1));
    const first_to_last_s = (end - (first_ms ?? started)) / 1000;
    const checks = await verify(db, expected);
    const sums = (await metrics.text())
      .split('\n')
      .filter((l) =>
        /^(tidemark_stream_(handler|chunk)_duration_seconds|tidemark_stream_chunk_phase_seconds|ledger_batch_duration_seconds)_(sum|count)/.test(
          l,
        ),
      );
    return {
      events: events.length,
      time_split: sums,
      node_cpu_share_of_one_core,
      node_cpu_us_per_event,
      produce_s,
      total_s,
      first_to_last_s,
      events_per_s: Math.round(events.length / total_s),
      events_per_s_after_first: Math.round(events.length / first_to_last_s),
      batch_size_max: RUNTIME_BATCH_SIZE_MAX,
      ...checks,
    };
  } finally {
    await db.drop();
    await ns.cleanup();
  }
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** Waits until the service's consumer group is stable with `members` members, each with partitions. */
async function waitForStableGroup(ns: TestNamespace, members: number, procs: ChildProcess[], log_path: string): Promise<void> {
  const group = ns.prefix + 'ledger-projector';
  const deadline = Date.now() + GROUP_STABLE_TIMEOUT_MS;
  await ns.admin.connect();
  for (;;) {
    const dead = procs.find((p) => p.exitCode !== null || p.signalCode !== null);
    if (dead) throw new Error(`a projector instance exited (${dead.exitCode ?? dead.signalCode}); log: ${log_path}`);
    const { groups } = await ns.admin.describeGroups([group]);
    const g = groups[0];
    if (g?.state === 'Stable' && g.members.length === members && g.members.every((m) => m.memberAssignment.length > 0)) return;
    if (Date.now() > deadline)
      throw new Error(
        `group ${group} not stable with ${members} members in ${GROUP_STABLE_TIMEOUT_MS} ms (${g?.state}, ${g?.members.length})`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function benchInstances(events: ScreenedEvent[], expected: Map<string, WalletBalance>, instances: number) {
  const ns = testNamespace(`benchledgerp${instances}`, { client_id: 'ledger-bench' });
  const db = await createTestDatabase({ pool_max: 2 });
  const log_path = join(tmpdir(), `ledger-bench-${ns.prefix.slice(0, -1)}.log`);
  const log = createWriteStream(log_path);
  const procs: ChildProcess[] = [];
  try {
    await ns.applyTopics();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TIDEMARK_TOPIC_PREFIX: ns.prefix,
      TIDEMARK_DATABASE_URL: db.url,
      TIDEMARK_LEDGER_API_PORT: '0',
      TIDEMARK_API_TOKENS: 'bench:reader-token-ledger-bench-0001:reader',
      TIDEMARK_LOG_LEVEL: process.env.LEDGER_BENCH_INSTANCE_LOG_LEVEL ?? 'warn',
      TIDEMARK_LEDGER_BATCH_SIZE_MAX: String(RUNTIME_BATCH_SIZE_MAX),
    };
    // As the in-process run: spans are created (trace ids travel) but not exported.
    delete env.TIDEMARK_OTLP_ENDPOINT;
    for (let i = 0; i < instances; i++) {
      const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
        env: { ...env, TIDEMARK_INSTANCE_ID: `ledger-bench-${i + 1}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      proc.stdout?.pipe(log, { end: false });
      proc.stderr?.pipe(log, { end: false });
      procs.push(proc);
    }
    await waitForStableGroup(ns, instances, procs, log_path);
    const cpu0 = procs.map((p) => processCpuMs(p.pid!));
    const started = performance.now();
    const produce_s = await produceBacklog(ns, events);
    await waitForProjected(db, events.length, started);
    const elapsed_s = (performance.now() - started) / 1000;
    const cpu1 = procs.map((p) => processCpuMs(p.pid!));
    const cpu_ms = cpu0.every((c) => c !== null) && cpu1.every((c) => c !== null) ? cpu1.reduce((a, c, i) => a! + c! - cpu0[i]!, 0)! : null;
    await Promise.all(procs.map(stopProcess));
    const checks = await verify(db, expected);
    return {
      instances,
      events: events.length,
      produce_s,
      elapsed_s,
      events_per_s: Math.round(events.length / elapsed_s),
      node_cpu_us_per_event: cpu_ms === null ? null : Number(((cpu_ms * 1000) / events.length).toFixed(1)),
      node_cpu_share_of_one_core_per_instance: cpu_ms === null ? null : Number((cpu_ms / 1000 / elapsed_s / instances).toFixed(2)),
      batch_size_max: RUNTIME_BATCH_SIZE_MAX,
      ...checks,
    };
  } finally {
    await Promise.all(procs.map(stopProcess));
    log.end();
    await db.drop();
    await ns.cleanup();
  }
}

const events = makeEvents(EVENTS);
const expected = expectedBalances(events);
const report: Record<string, unknown> = {
  benchmark: 'ledger-projector catch-up',
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version, load_average_1m_at_start: loadavg()[0] },
  events: EVENTS,
  wallets: WALLETS,
  goal_events_per_s: 10_000,
};
if (MODE === 'handler' || MODE === 'both' || MODE === 'all') {
  report.handler = await benchHandler(events, expected);
  console.log(`handler.handleBatch → Postgres: ${JSON.stringify(report.handler)}`);
}
if (MODE === 'runtime' || MODE === 'both' || MODE === 'all') {
  report.runtime = await benchRuntime(events, expected);
  console.log(`stream runtime (Kafka → handler → Postgres → Kafka): ${JSON.stringify(report.runtime)}`);
}
if (MODE === 'instances' || MODE === 'all') {
  const runs = [];
  for (const n of INSTANCES) {
    const run = await benchInstances(events, expected, n);
    console.log(`service processes (${n} instance${n === 1 ? '' : 's'}, burst of the backlog): ${JSON.stringify(run)}`);
    runs.push(run);
  }
  report.instances = runs;
}
// Shared machines: the load others put on it while this ran explains most of the variance.
report.load_average_1m_at_end = loadavg()[0];
mkdirSync(fileURLToPath(new URL('../../../reports', import.meta.url)), { recursive: true });
writeFileSync(REPORT_PATH, `${JSON.stringify(report, null, 2)}\n`);
console.log(`report written to ${REPORT_PATH}`);
const runs = [report.handler, report.runtime].filter(
  (r): r is { ledger_check_ok: boolean; balances_match: boolean } => typeof r === 'object' && r !== null,
);
const failed = runs.some((r) => !r.ledger_check_ok || !r.balances_match);
process.exit(failed ? 1 : 0);
