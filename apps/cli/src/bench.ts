/**
 * `tidemark bench` (`npm run bench`): runs the component benchmarks (ingress, dedupe,
 * screening, ledger) and the end-to-end sustained-throughput benchmark (test/bench), each
 * as its own process exactly as its workspace script runs it, collects their JSON outputs
 * and writes reports/bench.json and reports/bench.md (one table of the run's figures,
 * with the machine's load average, the date and the git commit). Benchmarks print
 * figures; nothing here asserts a timing. Exit 0 when every selected benchmark ran and
 * wrote a fresh report, 1 otherwise.
 *
 *   npm run bench                                  everything; e2e full length (300 s at 1000/s)
 *   npm run bench -- --quick                       short: e2e 60 s per rate (250, 500, 1000/s), smaller component runs
 *   npm run bench -- --only e2e --find-max         one benchmark; search the highest rate with p99 ≤ 250 ms
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { threadpoolEnv } from '@tidemark/common/kafka-confluent';
import { gitCommit, machineFacts } from './bench-facts.js';
import { repoRoot } from './paths.js';

export const BENCH_NAMES = ['ingress', 'dedupe', 'screening', 'ledger', 'hop', 'e2e'] as const;
export type BenchName = (typeof BENCH_NAMES)[number];

export const KAFKA_CLIENTS = ['confluent', 'kafkajs'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];
/** Benchmarks whose figures depend on the Kafka client; they run once per client, side by side. */
const CLIENT_SENSITIVE: readonly BenchName[] = ['ingress', 'dedupe', 'ledger', 'hop', 'e2e'];

export interface BenchOptions {
  only?: string[];
  quick?: boolean;
  findMax?: boolean;
  /** Kafka clients to compare (default both: the default client and its baseline). */
  clients?: string[];
}

/**
 * The `known` names an option selects (repeated and/or comma-separated; none given: all), in
 * `known`'s order; throws naming the first unknown one.
 */
function selectKnown<N extends string>(given: string[] | undefined, known: readonly N[], what: string): N[] {
  if (!given || given.length === 0) return [...known];
  const names = given
    .flatMap((g) => g.split(','))
    .map((g) => g.trim())
    .filter((g) => g !== '');
  for (const n of names)
    if (!(known as readonly string[]).includes(n)) throw new Error(`unknown ${what} ${JSON.stringify(n)}: choose from ${known.join(', ')}`);
  return known.filter((k) => names.includes(k));
}

/** Validates `--clients`; throws naming the bad one. */
export function selectClients(clients: string[] | undefined): KafkaClientName[] {
  return selectKnown(clients, KAFKA_CLIENTS, 'Kafka client');
}

interface BenchSpec {
  name: BenchName;
  /** Command and arguments, run from the repo root. */
  command: string[];
  report: string;
  env: Record<string, string>;
  timeout_ms: number;
}

/** One figure of the summary table. */
export interface Row {
  bench: BenchName;
  figure: string;
  value: string;
  /** Reference the figure is compared with (goal, offered rate, bare server), when one exists. */
  reference: string;
  /** value / reference, when both are numbers. */
  ratio: string;
}

export interface BenchOutcome {
  name: BenchName;
  /** The Kafka client the benchmark ran with (client-sensitive benchmarks only). */
  client: KafkaClientName | null;
  exit_code: number | null;
  duration_s: number;
  report_file: string;
  /** The bench's own JSON report, when it wrote a fresh one. */
  report: Record<string, unknown> | null;
  error: string | null;
}

const MINUTE_MS = 60_000;

function specs(quick: boolean, find_max: boolean): BenchSpec[] {
  const env_ms = (full: number, short: number) => (quick ? short : full);
  return [
    {
      name: 'ingress',
      command: ['npm', 'run', 'bench:ingress', '-w', 'services/ingress'],
      report: 'reports/ingress-bench.json',
      env: quick ? { BENCH_DURATION_S: '5', BENCH_WARMUP_S: '2' } : {},
      timeout_ms: env_ms(10, 5) * MINUTE_MS,
    },
    {
      name: 'dedupe',
      command: [process.execPath, '--import', 'tsx', 'services/dedupe/bench/dedupe.bench.ts'],
      report: 'reports/dedupe-bench.json',
      env: quick ? { BENCH_EVENTS: '20000' } : {},
      timeout_ms: env_ms(10, 5) * MINUTE_MS,
    },
    {
      name: 'screening',
      command: ['npm', 'run', 'bench', '-w', 'services/compliance-screening'],
      report: 'reports/screening-bench.json',
      env: {},
      timeout_ms: 5 * MINUTE_MS,
    },
    {
      name: 'ledger',
      command: ['npm', 'run', 'bench:ledger', '-w', 'services/ledger-projector'],
      report: 'reports/ledger-bench.json',
      env: quick ? { LEDGER_BENCH_EVENTS: '30000' } : {},
      timeout_ms: env_ms(15, 8) * MINUTE_MS,
    },
    {
      name: 'hop',
      command: [process.execPath, '--import', 'tsx', 'packages/stream/bench/hop.bench.ts', ...(quick ? ['--quick'] : [])],
      report: 'reports/hop-bench.json',
      env: {},
      timeout_ms: 5 * MINUTE_MS,
    },
    {
      name: 'e2e',
      command: [
        process.execPath,
        '--import',
        'tsx',
        'test/bench/e2e.bench.ts',
        ...(quick ? ['--quick'] : []),
        ...(find_max ? ['--find-max'] : []),
      ],
      report: 'reports/e2e-bench.json',
      env: {},
      // Full: warm-up + 300 s steady + drain, plus an optional search; quick: three rates of 70 s.
      timeout_ms: (quick ? 20 : 40) * MINUTE_MS + (find_max ? 25 * MINUTE_MS : 0),
    },
  ];
}

/** Validates `--only` names; throws naming the bad one. */
export function selectBenches(only: string[] | undefined): BenchName[] {
  return selectKnown(only, BENCH_NAMES, 'benchmark');
}

/** Set when the operator interrupted the run: the remaining benchmarks are skipped. */
let interrupted = false;

/**
 * A benchmark's environment: unless the caller says how to reach Kafka, the benchmark process runs as the
 * platform admin of the local broker (as the test suites do, test/harness/kafka-env.ts); the services it
 * starts run as their own principals.
 */
async function benchEnv(spec: BenchSpec): Promise<NodeJS.ProcessEnv> {
  const { localKafkaClientEnv } = await import('@tidemark/local-infra');
  const kafka = process.env.TIDEMARK_KAFKA_SECURITY_PROTOCOL ? {} : (localKafkaClientEnv('tidemark-admin') ?? {});
  return threadpoolEnv({ ...process.env, ...kafka, ...spec.env });
}

async function runProcess(spec: BenchSpec, root: string): Promise<number | null> {
  const env = await benchEnv(spec);
  return new Promise((resolve) => {
    const [cmd, ...args] = spec.command;
    const child = spawn(cmd!, args, { cwd: root, stdio: 'inherit', env, detached: true });
    // The bench runs in its own process group (so a timeout stops it and everything it
    // started); Ctrl-C / SIGTERM of this process are forwarded to that group.
    const stopGroup = () => {
      if (!child.pid) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      console.error(`tidemark bench: ${spec.name} exceeded ${spec.timeout_ms / 1000} s; stopping it`);
      stopGroup();
    }, spec.timeout_ms);
    const onSignal = () => {
      interrupted = true;
      stopGroup();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const done = (code: number | null) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(code);
    };
    child.on('exit', (code) => done(code));
    child.on('error', () => done(null));
  });
}

// ---- summary (pure) -------------------------------------------------------------------

type J = Record<string, unknown>;
const obj = (v: unknown): J => (v && typeof v === 'object' && !Array.isArray(v) ? (v as J) : {});
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const arr = (v: unknown): J[] => (Array.isArray(v) ? (v as J[]) : []);

export function fmt(v: number | null, unit = ''): string {
  if (v === null) return 'n/a';
  const s = Math.abs(v) >= 100 ? Math.round(v).toString() : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${s}${unit}`;
}

function ratio(value: number | null, reference: number | null): string {
  return value === null || reference === null || reference === 0 ? '' : (value / reference).toFixed(2);
}

function row(bench: BenchName, figure: string, value: number | null, unit: string, reference: number | null = null, ref_label = ''): Row {
  return {
    bench,
    figure,
    value: fmt(value, unit),
    reference: reference === null ? ref_label : `${ref_label}${fmt(reference, unit)}`,
    ratio: ratio(value, reference),
  };
}

function summarizeIngress(name: BenchName, r: J): Row[] {
  const phases = arr(r.phases);
  const find = (target: string, mode: string) => phases.find((p) => p.target === target && p.mode === mode);
  const rows: Row[] = [];
  for (const p of phases.filter((p) => p.target === 'ingress')) {
    const lat = obj(p.latency_ms);
    const bare = find('bare', String(p.mode));
    const offered = num(p.offered_rate_per_s);
    rows.push(
      row(
        name,
        `ingress ${String(p.mode)}: throughput`,
        num(p.throughput_per_s),
        '/s',
        offered ?? num(bare?.throughput_per_s),
        offered !== null ? 'offered ' : 'bare server ',
      ),
    );
    rows.push(row(name, `ingress ${String(p.mode)}: ack latency p50 / p99`, num(lat.p50), ' ms', null, `p99 ${fmt(num(lat.p99), ' ms')}`));
  }
  return rows;
}

function summarizeDedupe(name: BenchName, r: J): Row[] {
  return [
    row(
      name,
      `events/s (${String(r.deliveries ?? '?')} deliveries, ${String(r.instances ?? 1)} instance)`,
      num(r.events_per_s),
      '/s',
      1000,
      'e2e goal ',
    ),
  ];
}

function summarizeScreening(name: BenchName, r: J): Row[] {
  const lat = obj(r.latency_us);
  return [
    row(name, 'pure core decisions/s', num(r.decisions_per_s), '/s', 1000, 'e2e goal '),
    row(name, 'decision latency p50 / p99', num(lat.p50), ' µs', null, `p99 ${fmt(num(lat.p99), ' µs')}`),
  ];
}

function summarizeLedger(name: BenchName, r: J): Row[] {
  const goal = num(r.goal_events_per_s);
  const handler_cpu = num(obj(r.handler).node_cpu_us_per_event);
  return [
    row(name, `handler alone events/s (${String(r.events ?? '?')} events)`, num(obj(r.handler).events_per_s), '/s', goal, 'goal '),
    row(name, 'stream runtime + handler events/s', num(obj(r.runtime).events_per_s), '/s', goal, 'goal '),
    row(name, 'Node CPU per event, runtime + handler', num(obj(r.runtime).node_cpu_us_per_event), ' µs', handler_cpu, 'handler alone '),
    // The service itself as 1, 2, … processes in one group (burst of the backlog); ratio to the 1-instance run.
    ...arr(r.instances).map((run) =>
      row(
        name,
        `service processes × ${String(run.instances)}: events/s`,
        num(run.events_per_s),
        '/s',
        num(arr(r.instances).find((x) => x.instances === 1)?.events_per_s),
        '1 instance ',
      ),
    ),
  ];
}

/** A latency figure in ms: p50 as the value, two higher percentiles as the reference ("<what> p50 / p90 / p99"). */
function latencyRow(
  bench: BenchName,
  what: string,
  p50: number | null,
  [name_a, a]: [string, number | null],
  [name_b, b]: [string, number | null],
): Row {
  return row(bench, `${what} p50 / ${name_a} / ${name_b}`, p50, ' ms', null, `${name_a} ${fmt(a, ' ms')}, ${name_b} ${fmt(b, ' ms')}`);
}

function summarizeE2e(name: BenchName, r: J): Row[] {
  const rows: Row[] = [];
  for (const run of arr(r.runs)) {
    const offered = num(run.offered_rate_per_s);
    const label = `${fmt(offered)}/s${run.phase === 'search' ? ' (search)' : ''}, ${String(run.steady_s)} s steady`;
    const rp = obj(run.received_to_projected);
    const rs = obj(run.received_to_screened);
    const ack = obj(run.ack_latency_ms);
    rows.push(row(name, `${label}: received rate`, num(run.received_rate_steady_per_s), '/s', offered, 'offered '));
    rows.push(row(name, `${label}: projected rate`, num(run.projected_rate_steady_per_s), '/s', offered, 'offered '));
    rows.push(latencyRow(name, `${label}: ingress ack`, num(ack.p50), ['p90', num(ack.p90)], ['p99', num(ack.p99)]));
    rows.push(latencyRow(name, `${label}: received→screened`, num(rs.p50_ms), ['p90', num(rs.p90_ms)], ['p99', num(rs.p99_ms)]));
    rows.push(latencyRow(name, `${label}: received→projected`, num(rp.p50_ms), ['p90', num(rp.p90_ms)], ['max', num(rp.max_ms)]));
    rows.push(
      row(name, `${label}: received→projected p99`, num(rp.p99_ms), ' ms', num(obj(r.goal).p99_received_to_projected_ms_max), 'goal ≤ '),
    );
    const drain = num(run.drain_s);
    rows.push({
      bench: name,
      figure: `${label}: backlog at send end / drain`,
      value: `${String(run.backlog_at_send_end ?? 'n/a')} events`,
      reference: drain === null ? 'NOT drained' : `drained in ${fmt(drain, ' s')}`,
      ratio: '',
    });
    rows.push({
      bench: name,
      figure: `${label}: kept up / meets goal`,
      value: run.kept_up ? 'kept up' : `NO: ${arr(run.kept_up_reasons).map(String).join('; ')}`,
      reference: run.meets_goal ? 'meets goal' : 'misses goal',
      ratio: '',
    });
  }
  const best = num(r.highest_rate_meeting_goal_per_s);
  rows.push({
    bench: name,
    figure: 'highest rate tried with p99 received→projected ≤ 250 ms and kept up',
    value: best === null ? 'none' : `${best}/s`,
    reference: '',
    ratio: '',
  });
  if (r.failure) rows.push({ bench: name, figure: 'run failed', value: String(r.failure).split('\n')[0]!, reference: '', ratio: '' });
  return rows;
}

function summarizeHop(name: BenchName, r: J): Row[] {
  return arr(r.results).map((x) =>
    row(
      name,
      `one hop at ${String(x.rate_per_s)}/s (pass-through handler): produced→visible p50 / p99`,
      num(x.p50_ms),
      ' ms',
      null,
      `p99 ${fmt(num(x.p99_ms), ' ms')}; commit ${fmt(num(obj(obj(x.chunk).mean_ms).commit), ' ms')}/chunk`,
    ),
  );
}

/** The headline figures of one benchmark's JSON report. */
const SUMMARIZERS: Record<BenchName, (name: BenchName, r: J) => Row[]> = {
  ingress: summarizeIngress,
  dedupe: summarizeDedupe,
  screening: summarizeScreening,
  ledger: summarizeLedger,
  hop: summarizeHop,
  e2e: summarizeE2e,
};

export function summarize(name: BenchName, r: J): Row[] {
  return SUMMARIZERS[name](name, r);
}

/**
 * Rows of every outcome; for client-sensitive benchmarks the same figure of each client
 * stands next to each other, labelled, with the ratio to the first client's value.
 */
export function sideBySide(outcomes: BenchOutcome[]): Row[] {
  const rows: Row[] = [];
  const byName = new Map<BenchName, BenchOutcome[]>();
  for (const o of outcomes) byName.set(o.name, [...(byName.get(o.name) ?? []), o]);
  for (const [name, group] of byName) {
    const tables = group.map((o) => ({ client: o.client, rows: o.report ? summarize(name, o.report) : [] }));
    if (tables.length === 1 && tables[0]!.client === null) {
      rows.push(...tables[0]!.rows);
      continue;
    }
    const figures = [...new Set(tables.flatMap((t) => t.rows.map((r) => r.figure)))];
    for (const figure of figures) {
      const first = tables[0]!.rows.find((r) => r.figure === figure);
      for (const t of tables) {
        const r = t.rows.find((x) => x.figure === figure);
        if (!r) continue;
        const base = t === tables[0] ? null : first ? parseFloat(first.value) : null;
        const mine = parseFloat(r.value);
        const vs =
          base !== null && Number.isFinite(base) && Number.isFinite(mine) && base !== 0
            ? ` · ×${(mine / base).toFixed(2)} vs ${tables[0]!.client}`
            : '';
        rows.push({ ...r, figure: `[${t.client ?? '-'}] ${r.figure}`, reference: `${r.reference}${vs}` });
      }
    }
  }
  return rows;
}

export interface BenchReport {
  at: string;
  finished_at: string;
  git_commit: string;
  machine: { cpus: number; cpu_model: string; node: string; load_average_start: number[]; load_average_end: number[] };
  mode: 'quick' | 'full';
  outcomes: BenchOutcome[];
  rows: Row[];
}

const md = (s: string) => s.replace(/\|/g, '\\|');

export function renderMarkdown(report: BenchReport): string {
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines = [
    '# Tidemark benchmarks',
    '',
    `Date ${report.at} → ${report.finished_at} · git ${report.git_commit} · ${report.mode} mode · ${report.machine.cpus} × ${report.machine.cpu_model}, Node ${report.machine.node}`,
    `Load average (1/5/15 min) at start ${la(report.machine.load_average_start)}, at end ${la(report.machine.load_average_end)} on ${report.machine.cpus} cores` +
      (Math.max(...report.machine.load_average_start, ...report.machine.load_average_end) > report.machine.cpus
        ? ' — **contended**: other workloads shared the machine'
        : ''),
    '',
    'Figures, not assertions. p50 is the median. Ratio = value / reference.',
    '',
    '| bench | figure | value | reference | ratio |',
    '|---|---|---:|---|---:|',
    ...report.rows.map((r) => `| ${r.bench} | ${md(r.figure)} | ${md(r.value)} | ${md(r.reference)} | ${r.ratio} |`),
    '',
    '| bench | exit | duration | report |',
    '|---|---:|---:|---|',
    ...report.outcomes.map(
      (o) =>
        `| ${o.name}${o.client ? ` [${o.client}]` : ''} | ${o.exit_code ?? 'killed'} | ${o.duration_s.toFixed(0)} s | ${o.report ? o.report_file : `missing${o.error ? `: ${md(o.error)}` : ''}`} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

export async function runBench(opts: BenchOptions): Promise<number> {
  const root = repoRoot();
  const names = selectBenches(opts.only);
  const quick = opts.quick === true || process.env.TIDEMARK_BENCH_QUICK === '1';
  const started = new Date();
  const load_start = loadavg();
  const clients = selectClients(opts.clients);
  const outcomes: BenchOutcome[] = [];
  const runs = specs(quick, opts.findMax === true)
    .filter((s) => names.includes(s.name))
    .flatMap((s): Array<{ spec: BenchSpec; client: KafkaClientName | null }> =>
      CLIENT_SENSITIVE.includes(s.name) ? clients.map((client) => ({ spec: s, client })) : [{ spec: s, client: null }],
    );
  for (const { spec: base, client } of runs) {
    if (interrupted) break;
    const spec: BenchSpec = client
      ? { ...base, env: { ...base.env, TIDEMARK_KAFKA_CLIENT: client }, report: base.report.replace(/\.json$/, `.${client}.json`) }
      : base;
    const label = client ? `${spec.name} [${client}]` : spec.name;
    console.log(`\n=== tidemark bench: ${label} (${spec.command.slice(spec.command[0] === process.execPath ? 2 : 0).join(' ')}) ===`);
    const t0 = Date.now();
    const exit_code = await runProcess(spec, root);
    // Each benchmark writes its own fixed report file; keep a copy per client.
    if (client && existsSync(join(root, base.report)) && statSync(join(root, base.report)).mtimeMs >= t0) {
      writeFileSync(join(root, spec.report), readFileSync(join(root, base.report)));
    }
    const file = join(root, spec.report);
    let report: Record<string, unknown> | null = null;
    let error: string | null = null;
    if (!existsSync(file)) error = 'no report written';
    else if (statSync(file).mtimeMs < t0) error = 'report not refreshed by this run (stale file ignored)';
    else {
      try {
        report = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        error = `unreadable report: ${(err as Error).message}`;
      }
    }
    if (exit_code !== 0 && !error) error = `exit code ${exit_code ?? 'none (killed)'}`;
    outcomes.push({ name: spec.name, client, exit_code, duration_s: (Date.now() - t0) / 1000, report_file: spec.report, report, error });
  }
  const report: BenchReport = {
    at: started.toISOString(),
    finished_at: new Date().toISOString(),
    git_commit: gitCommit(root),
    machine: machineFacts(load_start),
    mode: quick ? 'quick' : 'full',
    outcomes,
    rows: sideBySide(outcomes),
  };
  const markdown = renderMarkdown(report);
  mkdirSync(join(root, 'reports'), { recursive: true });
  writeFileSync(join(root, 'reports', 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(root, 'reports', 'bench.md'), markdown);
  console.log(`\n${markdown}`);
  console.log('wrote reports/bench.json and reports/bench.md');
  return outcomes.every((o) => o.report !== null && o.exit_code === 0) ? 0 : 1;
}
