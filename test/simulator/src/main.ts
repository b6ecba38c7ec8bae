/**
 * Provider simulator CLI.
 *
 *   simulator demo   [--ingress-url URL] [--statements-port N]       endless demo traffic (npm start)
 *   simulator run    --scenario e2e [--ingress-url URL] [--exit-when-done] [--report FILE]
 *   simulator serve  --scenario e2e                                   statements + truth only, no webhooks
 *   simulator load   --rate 500 --duration 30s --concurrency 32 --ramp 5s [--ingress-url URL]
 *   simulator bench  [--events 200000] [--http-duration 10s]           the simulator's own max rate
 *   simulator sink   [--port N]                                        trivial 202 sink
 *   simulator generate --scenario demo [--limit N]                     events as JSON lines
 */
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger, registerSecret } from '@tidemark/common';
import { fakeScore } from '@tidemark/compliance-screening';
import { loadSanctionsSnapshot, loadScenario } from './adapters/files.js';
import { ScenarioGenerator, defaultNamespace } from './core/generate.js';
import { PROVIDER_IDS, parseScenario, type ProviderId, type Scenario } from './core/scenario.js';
import { benchGenerateSign, benchHttp } from './load/bench.js';
import { startSink } from './load/sink.js';
import { PROFILES, keysFromSecrets } from './profiles/profiles.js';
import { generateSecrets, providersOf, startSimulator } from './runtime.js';
import type { SimulationStatus } from './simulation.js';

const logger = createLogger('provider-simulator');

function defaultIngressUrl(): string {
  return `http://${process.env.TIDEMARK_INGRESS_HOST ?? '127.0.0.1'}:${process.env.TIDEMARK_INGRESS_PORT ?? '8080'}`;
}

function parseDuration_ms(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError('expected a duration like 500ms, 30s, 2m');
  const value = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1_000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(value * factor);
}

function parsePositiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function parseRate(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 1_000_000) throw new InvalidArgumentError('expected a rate in (0, 1000000]');
  return n;
}

interface CommonOpts {
  scenario: string;
  seed?: number;
  namespace?: string;
  start?: string;
  pace?: 'realtime' | 'asap';
  concurrency?: number;
  transactions?: number;
  provider?: ProviderId[];
}

function withScenarioOptions(cmd: Command, default_scenario: string): Command {
  return cmd
    .option('--scenario <name|file>', 'scenario name in test/simulator/scenarios or a JSON file', default_scenario)
    .option('--seed <n>', 'override the scenario seed', parsePositiveInt)
    .option('--namespace <ns>', 'id namespace (default: derived from seed and start time, unique per run)')
    .option('--start <iso>', 'simulated time of the first event (default: now)')
    .addOption(new Option('--pace <pace>', 'override delivery pace').choices(['realtime', 'asap']))
    .option('--concurrency <n>', 'override delivery concurrency', parsePositiveInt)
    .option('--transactions <n>', 'override the number of transactions', parsePositiveInt)
    .addOption(new Option('--provider <ids...>', 'send only as these providers').choices([...PROVIDER_IDS]));
}

function resolveScenario(opts: CommonOpts): Scenario {
  const base = loadScenario(opts.scenario);
  const patched = structuredClone(base) as Scenario;
  if (opts.seed !== undefined) patched.seed = opts.seed;
  if (opts.pace) patched.delivery.pace = opts.pace;
  if (opts.concurrency !== undefined) patched.delivery.concurrency = Math.max(1, opts.concurrency);
  if (opts.transactions !== undefined) patched.traffic.transactions = opts.transactions;
  if (opts.provider && opts.provider.length > 0) patched.world.providers = Object.fromEntries(opts.provider.map((p) => [p, 1]));
  return parseScenario(patched, opts.scenario);
}

function startMs(opts: CommonOpts): number | undefined {
  if (!opts.start) return undefined;
  const ms = Date.parse(opts.start);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('--start must be an ISO-8601 date-time');
  return ms;
}

function registerEnvSecrets(): void {
  for (const profile of Object.values(PROFILES)) {
    for (const secret of (process.env[profile.secrets_env] ?? '').split(',')) registerSecret(secret.trim());
  }
}

function writeReport(path: string | undefined, report: unknown): void {
  if (!path) return;
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  logger.info({ path }, 'report written');
}

/** How the deliveries ended, as the progress log and the load report show them. */
function outcomeCounts(d: SimulationStatus['delivery']) {
  return {
    acknowledged: d.acknowledged,
    rejected: d.rejected,
    errors: d.errors,
    retried: d.retried,
    duplicates: d.duplicates,
    abandoned: d.abandoned,
  };
}

function progressLogger(status: SimulationStatus): void {
  const d = status.delivery;
  logger.info(
    {
      phase: status.phase,
      generated: status.generated_events,
      ...outcomeCounts(d),
      queued: status.queued,
      in_flight: status.in_flight,
      ack_p99_ms: status.ack_latency.p99_ms,
    },
    'progress',
  );
}

/** Waits for SIGINT/SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

async function runCommand(
  opts: CommonOpts & { ingressUrl?: string; statementsPort: number; host: string; exitWhenDone?: boolean; send: boolean; report?: string },
): Promise<number> {
  registerEnvSecrets();
  const scenario = resolveScenario(opts);
  const running = await startSimulator({
    scenario,
    ingress_url: opts.send ? (opts.ingressUrl ?? defaultIngressUrl()) : null,
    namespace: opts.namespace,
    start_ms: startMs(opts),
    listen: { host: opts.host, port: opts.statementsPort },
    on_progress: progressLogger,
    // Local runs screen against the fake risk API, whose scores are a pure function of the address.
    risk_score: (address: string) => Number(fakeScore(address).risk_score),
  });
  logger.info(
    {
      scenario: scenario.name,
      seed: scenario.seed,
      namespace: running.sim.namespace,
      statements_url: running.url,
      ingress_url: opts.send ? (opts.ingressUrl ?? defaultIngressUrl()) : null,
      providers: providersOf(scenario),
      transactions: scenario.traffic.transactions,
    },
    'simulator started',
  );
  const signal = untilSignal();
  const first = await Promise.race([running.done.then(() => 'done' as const), signal]);
  const status = first === 'done' ? await running.done : await running.stop();
  const report = {
    ...status,
    truth: running.sim.truth.summary(),
    expected_discrepancies: running.sim.truth.expectedDiscrepancies().length,
  };
  logger.info(report, first === 'done' ? 'delivery finished' : 'stopped');
  writeReport(opts.report, report);
  if (first === 'done' && !opts.exitWhenDone) {
    logger.info({ statements_url: running.url }, 'still serving statements and truth; Ctrl-C stops');
    await signal;
  }
  await running.stop();
  return status.delivery.abandoned > 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('simulator')
    .description('Tidemark provider simulator: custody/payment providers that send signed webhooks and serve statements')
    .showHelpAfterError();
  let exit_code = 0;

  const listenOptions = (cmd: Command) =>
    cmd
      .option(
        '--statements-port <n>',
        'port of the statements/truth API (0 = any)',
        parsePositiveInt,
        Number(process.env.TIDEMARK_SIMULATOR_PORT ?? 8070),
      )
      .option('--host <host>', 'bind address of the statements/truth API', process.env.TIDEMARK_SIMULATOR_HOST ?? '127.0.0.1');

  listenOptions(
    withScenarioOptions(program.command('demo').description('endless demo traffic (used by npm start)'), 'demo').option(
      '--ingress-url <url>',
      'ingress base URL (default from TIDEMARK_INGRESS_HOST/PORT)',
    ),
  ).action(async (opts) => {
    exit_code = await runCommand({ ...opts, send: true, exitWhenDone: false });
  });

  listenOptions(
    withScenarioOptions(program.command('run').description('run a scenario against ingress, then keep serving statements'), 'e2e')
      .option('--ingress-url <url>', 'ingress base URL (default from TIDEMARK_INGRESS_HOST/PORT)')
      .option('--exit-when-done', 'exit once every webhook is delivered or given up')
      .option('--no-send', 'generate and serve statements/truth only')
      .option('--report <file>', 'write the final report as JSON'),
  ).action(async (opts) => {
    exit_code = await runCommand(opts);
  });

  listenOptions(
    withScenarioOptions(
      program.command('serve').description('generate a scenario and serve statements/truth without sending webhooks'),
      'e2e',
    ),
  ).action(async (opts) => {
    exit_code = await runCommand({ ...opts, send: false, exitWhenDone: false });
  });

  withScenarioOptions(program.command('load').description('load mode: target rate, duration, concurrency, ramp; stops by itself'), 'load')
    .option('--ingress-url <url>', 'ingress base URL (default from TIDEMARK_INGRESS_HOST/PORT)')
    .requiredOption('--rate <events_per_s>', 'target rate of new events per second', parseRate)
    .option('--duration <d>', 'how long to send new events', parseDuration_ms, 30_000)
    .option('--ramp <d>', 'linear ramp-up time', parseDuration_ms, 0)
    .option('--drain <d>', 'after the duration, wait at most this long for retries', parseDuration_ms, 30_000)
    .option('--report <file>', 'write the report as JSON')
    .action(async (opts) => {
      registerEnvSecrets();
      const scenario = resolveScenario({ ...opts, pace: 'asap' });
      const scenario_sized = parseScenario({
        ...scenario,
        traffic: {
          ...scenario.traffic,
          transactions: Math.max(scenario.traffic.transactions, Math.ceil(opts.rate * (opts.duration / 1000)) + 1),
        },
      });
      const ingress_url = opts.ingressUrl ?? defaultIngressUrl();
      const running = await startSimulator({
        scenario: scenario_sized,
        ingress_url,
        namespace: opts.namespace,
        listen: null,
        record_truth: false,
        rate: { rate_per_s: opts.rate, ramp_ms: opts.ramp, duration_ms: opts.duration },
        drain_timeout_ms: opts.drain,
        on_progress: progressLogger,
      });
      const stop = () => void running.stop();
      process.once('SIGINT', stop);
      const status = await running.done;
      const d = status.delivery;
      const report = {
        mode: 'load',
        target: ingress_url,
        namespace: status.namespace,
        rate_per_s: opts.rate,
        duration_s: opts.duration / 1000,
        ramp_s: opts.ramp / 1000,
        concurrency: scenario.delivery.concurrency,
        elapsed_s: status.elapsed_ms / 1000,
        events: status.generated_events,
        sent: d.attempts,
        ...outcomeCounts(d),
        achieved_ack_rate_per_s: status.ack_rate_per_s,
        ack_latency_ms: status.ack_latency,
        due_to_ack_latency_ms: status.due_to_ack_latency,
        status_counts: d.status_counts,
      };
      console.log(JSON.stringify(report, null, 2));
      writeReport(opts.report, report);
      exit_code = d.abandoned > 0 || d.acknowledged === 0 ? 1 : 0;
    });

  program
    .command('bench')
    .description("measure the simulator's own max rate: generate+sign (no network) and HTTP against a local sink")
    .option('--scenario <name|file>', 'scenario', 'load')
    .option('--events <n>', 'events for the generate+sign measurement', parsePositiveInt, 200_000)
    .option('--http-duration <d>', 'duration of the HTTP measurement (0 skips it)', parseDuration_ms, 10_000)
    .option('--concurrency <n>', 'HTTP connections', parsePositiveInt, 64)
    .option('--report <file>', 'write the report as JSON')
    .action(async (opts) => {
      const scenario = loadScenario(opts.scenario);
      const sanctions = loadSanctionsSnapshot();
      const providers = [...PROVIDER_IDS];
      const secrets = generateSecrets(providers);
      const keys = Object.fromEntries(providers.map((p) => [p, keysFromSecrets(PROFILES[p], secrets[PROFILES[p].secrets_env]!)]));
      const all_providers: Scenario = {
        ...scenario,
        world: { ...scenario.world, providers: { generic: 1, ledgerpay: 1, 'custodian-x': 1 } },
      };
      const generate_sign = benchGenerateSign(all_providers, sanctions, keys, opts.events);
      logger.info(generate_sign, 'generate+sign (no network)');
      let http: Record<string, unknown> | null = null;
      if (opts.httpDuration > 0) {
        const status = await benchHttp(all_providers, sanctions, keys, {
          duration_ms: opts.httpDuration,
          concurrency: opts.concurrency,
          rate_per_s: 1_000_000,
        });
        http = {
          concurrency: opts.concurrency,
          duration_s: opts.httpDuration / 1000,
          acknowledged: status.delivery.acknowledged,
          errors: status.delivery.errors,
          ack_rate_per_s: status.ack_rate_per_s,
          ack_latency_ms: status.ack_latency,
        };
        logger.info(http, 'http against a local sink');
      }
      const os = await import('node:os');
      // Shared machines skew these figures: the load average says how busy it was.
      const report = {
        mode: 'bench',
        cpus: os.cpus().length,
        load_average_1m: Math.round(os.loadavg()[0]! * 100) / 100,
        node: process.version,
        generate_sign,
        http,
      };
      console.log(JSON.stringify(report, null, 2));
      writeReport(opts.report, report);
    });

  program
    .command('sink')
    .description('trivial local webhook sink answering 202 (for measuring the simulator)')
    .option('--port <n>', 'port (0 = any)', parsePositiveInt, 0)
    .option('--host <host>', 'bind address', '127.0.0.1')
    .option('--ipc', 'report the bound port to the parent process')
    .action(async (opts) => {
      const sink = await startSink(opts.host, opts.port);
      if (opts.ipc && process.send) process.send({ port: sink.port });
      else logger.info({ url: `http://${opts.host}:${sink.port}` }, 'sink listening');
      await untilSignal();
      await sink.close();
    });

  withScenarioOptions(program.command('generate').description("print the scenario's events as JSON lines (no sending)"), 'demo')
    .option('--limit <n>', 'at most this many events', parsePositiveInt)
    .option('--bodies', 'print each provider-shaped webhook body instead of the event')
    .action((opts) => {
      const scenario = resolveScenario(opts);
      const start_ms = startMs(opts) ?? Date.now();
      const generator = new ScenarioGenerator(scenario, {
        start_ms,
        namespace: opts.namespace ?? defaultNamespace(scenario.seed, start_ms),
        sanctions: loadSanctionsSnapshot(),
      });
      let n = 0;
      for (const { event } of generator) {
        if (opts.limit !== undefined && n >= opts.limit) break;
        process.stdout.write(`${opts.bodies ? PROFILES[event.provider].body(event) : JSON.stringify(event)}\n`);
        n++;
      }
    });

  await program.parseAsync(argv);
  return exit_code;
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    logger.fatal({ err: err instanceof Error ? { message: err.message } : String(err) }, 'simulator failed');
    process.exit(2);
  },
);
