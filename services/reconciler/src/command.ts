/**
 * `npx tidemark reconcile ...` (DESIGN 3.5/3.6): one-shot or scheduled. Returns the exit
 * code: 0 clean, 1 discrepancies found, 2 could not run (with a clear message on stderr).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { Producer } from 'kafkajs';
import {
  AvroCodec,
  ConfigError,
  type Logger,
  closeServer,
  createIdempotentProducer,
  createKafka,
  createLogger,
  createMetrics,
  initTelemetry,
  kafkaConnection,
  shutdownTelemetry,
  startOpsServer,
  withSpan,
} from '@tidemark/common';
import { createLedgerPool } from '@tidemark/ledger-projector';
import { loadReconcilerConfig, resolveStatementsUrl, statementsToken, validateProviderId, type ReconcilerConfig } from './config.js';
import { makeWindow, WindowError } from './core/window.js';
import { renderText } from './core/report.js';
import { Publisher, DISCREPANCIES_TOPIC, AUDIT_TOPIC, HEAL_TOPIC } from './adapters/publisher.js';
import { runReconciliation, type RunOptions, type RunResult } from './run.js';
import { createReconcilerMetrics, type ReconcilerMetrics } from './metrics.js';
import { describeFailure } from './errors.js';

export interface ReconcileCommandOptions {
  provider: string;
  since: string;
  until?: string;
  statementsUrl?: string;
  heal?: boolean;
  /** Seconds between runs (scheduled mode). */
  schedule?: number;
  report?: string;
  /** false with --no-conservation. */
  conservation?: boolean;
  json?: boolean;
}

export const EXIT_CLEAN = 0;
export const EXIT_DISCREPANCIES = 1;
export const EXIT_COULD_NOT_RUN = 2;

export const SCHEDULE_SECONDS_MIN = 1;
export const SCHEDULE_SECONDS_MAX = 86_400;

export function newRunId(now_ms: number = Date.now()): string {
  const stamp = new Date(now_ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `recon-${stamp}-${randomBytes(3).toString('hex')}`;
}

interface Prepared {
  config: ReconcilerConfig;
  provider: string;
  statements_url: string;
  token: string | undefined;
}

function prepare(opts: ReconcileCommandOptions): Prepared {
  if (typeof opts.provider !== 'string') throw new ConfigError('--provider <id> is required');
  if (typeof opts.since !== 'string') throw new ConfigError('--since <ISO-8601> is required');
  const config = loadReconcilerConfig();
  const provider = validateProviderId(opts.provider);
  // Validate the window's shape now (the end moves with each scheduled run).
  makeWindow(opts.since, opts.until, Date.now() - config.TIDEMARK_RECONCILE_GRACE_MS);
  if (opts.schedule !== undefined) {
    if (!Number.isInteger(opts.schedule) || opts.schedule < SCHEDULE_SECONDS_MIN || opts.schedule > SCHEDULE_SECONDS_MAX) {
      throw new ConfigError(`--schedule must be a whole number of seconds between ${SCHEDULE_SECONDS_MIN} and ${SCHEDULE_SECONDS_MAX}`);
    }
  }
  const statements_url = resolveStatementsUrl(provider, opts.statementsUrl);
  return { config, provider, statements_url, token: statementsToken(provider) };
}

export async function reconcileCommand(opts: ReconcileCommandOptions): Promise<number> {
  let prepared: Prepared;
  try {
    prepared = prepare(opts);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof WindowError) {
      process.stderr.write(`reconcile could not run: ${err.message}\n`);
      return EXIT_COULD_NOT_RUN;
    }
    throw err;
  }
  const scheduled = opts.schedule !== undefined;
  // Spans are created even without an exporter, so heal events carry a traceparent.
  initTelemetry('reconciler', prepared.config.TIDEMARK_OTLP_ENDPOINT);
  const level = process.env.TIDEMARK_LOG_LEVEL ?? (scheduled ? 'info' : opts.json ? 'silent' : 'warn');
  const logger = createLogger('reconciler', level);
  const metrics = createReconcilerMetrics(createMetrics('reconciler'));
  // kafkajs's own chatter (e.g. its idempotent-producer notice) stays out of a one-shot terminal report.
  const kafkaLogger = scheduled || process.env.TIDEMARK_LOG_LEVEL ? logger : undefined;
  const session = await openSession(prepared, kafkaLogger).catch((err: unknown) => err as Error);
  if (session instanceof Error) {
    process.stderr.write(`reconcile could not run: ${describeFailure(session, prepared.config)}\n`);
    return EXIT_COULD_NOT_RUN;
  }
  try {
    const command: CommandContext = { opts, p: prepared, s: session, metrics, logger };
    return await (scheduled ? runScheduled(command) : runOnce(command));
  } finally {
    await session.close();
    // Flush exported spans before the CLI exits (nothing to flush without an exporter).
    if (prepared.config.TIDEMARK_OTLP_ENDPOINT) await shutdownTelemetry();
  }
}

interface Session {
  pool: ReturnType<typeof createLedgerPool>;
  kafka: ReturnType<typeof createKafka>;
  producer: Producer;
  codec: AvroCodec;
  publisher: Publisher;
  close(): Promise<void>;
}

async function openSession(p: Prepared, logger: Logger | undefined): Promise<Session> {
  const { config } = p;
  const pool = createLedgerPool({
    database_url: config.TIDEMARK_DATABASE_URL,
    pool_max: 2,
    application_name: 'tidemark-reconciler',
    statement_timeout_ms: 300_000,
  });
  const kafka = createKafka({ ...kafkaConnection(config), client_id: 'tidemark-reconciler', logger });
  const producer = createIdempotentProducer(kafka);
  const close = async () => {
    await producer.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
  };
  try {
    // Fail fast, before a long comparison, on anything the run will need at its end.
    await pool.query('SELECT 1');
    await producer.connect();
    const codec = new AvroCodec(config.TIDEMARK_REGISTRY_URL, config.TIDEMARK_TOPIC_PREFIX);
    for (const topic of [DISCREPANCIES_TOPIC, AUDIT_TOPIC, HEAL_TOPIC]) await codec.schemaId(topic);
    const publisher = new Publisher(producer, codec, config.TIDEMARK_TOPIC_PREFIX, config.TIDEMARK_KAFKA_ACK_TIMEOUT_MS);
    return { pool, kafka, producer, codec, publisher, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function runOptions(opts: ReconcileCommandOptions, p: Prepared, run_id: string): RunOptions {
  const c = p.config;
  const window = makeWindow(opts.since, opts.until, Date.now() - c.TIDEMARK_RECONCILE_GRACE_MS);
  const report_path = opts.report
    ? opts.report.replaceAll('{run_id}', run_id)
    : `${c.TIDEMARK_RECONCILE_REPORTS_DIR.replace(/\/+$/, '')}/reconcile-${run_id}.json`;
  return {
    run_id,
    provider: p.provider,
    window,
    statements_url: p.statements_url,
    statements_token: p.token,
    heal: Boolean(opts.heal),
    conservation: opts.conservation !== false,
    report_path,
    page_limit: c.TIDEMARK_RECONCILE_PAGE_LIMIT,
    request_timeout_ms: c.TIDEMARK_RECONCILE_REQUEST_TIMEOUT_MS,
    retry: {
      attempts_max: c.TIDEMARK_RECONCILE_RETRY_ATTEMPTS_MAX,
      delay_ms_min: c.TIDEMARK_RECONCILE_RETRY_DELAY_MS_MIN,
      delay_ms_max: c.TIDEMARK_RECONCILE_RETRY_DELAY_MS_MAX,
      factor: 2,
      jitter: 0.2,
    },
    chunk_size: c.TIDEMARK_RECONCILE_CHUNK_SIZE,
    settle_ms: c.TIDEMARK_RECONCILE_SETTLE_MS,
    stuck_ms: c.TIDEMARK_RECONCILE_STUCK_MS,
    audit_timeout_ms: c.TIDEMARK_RECONCILE_AUDIT_TIMEOUT_MS,
    audit_lookback_ms: c.TIDEMARK_RECONCILE_AUDIT_LOOKBACK_MS,
    open_events_max: c.TIDEMARK_RECONCILE_OPEN_EVENTS_MAX,
  };
}

/** What a run of the command works with: its options, the prepared configuration and the open session. */
interface CommandContext {
  opts: ReconcileCommandOptions;
  p: Prepared;
  s: Session;
  metrics: ReconcilerMetrics;
  logger: Logger;
}

/** One run; prints the report; returns 0/1, or 2 with a message on stderr. */
async function runOnce(command: CommandContext): Promise<number> {
  const { opts, p, s, metrics, logger } = command;
  const run_id = newRunId();
  let result: RunResult;
  try {
    const run_opts = runOptions(opts, p, run_id);
    result = await withSpan(
      'reconcile.run',
      { attributes: { 'tidemark.run_id': run_id, 'tidemark.provider': p.provider, 'tidemark.heal': Boolean(opts.heal) } },
      () =>
        runReconciliation(run_opts, {
          pool: s.pool,
          kafka: s.kafka,
          codec: s.codec,
          publisher: s.publisher,
          prefix: p.config.TIDEMARK_TOPIC_PREFIX,
          logger,
          metrics,
        }),
    );
  } catch (err) {
    s.publisher.discard();
    metrics.observeFailure(p.provider);
    logger.error({ run_id, err: (err as Error).message }, 'reconciliation run failed');
    process.stderr.write(`reconcile could not run (run ${run_id}): ${describeFailure(err, p.config)}\n`);
    return EXIT_COULD_NOT_RUN;
  }
  const { summary } = result;
  if (opts.json) {
    process.stdout.write(
      JSON.stringify(
        {
          ...summary,
          report_path: result.report_path,
          discrepancies: result.findings_kept,
          discrepancies_listed_all: result.findings_kept.length === summary.discrepancies_total,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    process.stdout.write(renderText(summary, result.findings_kept) + `\n  report             ${result.report_path}\n`);
  }
  await writeFile(result.report_path.replace(/\.json$/, '') + '.prom', await metrics.metrics.text()).catch((err: unknown) => {
    logger.warn({ err: (err as Error).message }, 'could not write the metrics file');
  });
  logger.info(
    {
      run_id,
      verdict: summary.verdict,
      discrepancies: summary.discrepancies_total,
      duration_ms: summary.duration_ms,
      report: result.report_path,
    },
    'reconciliation run finished',
  );
  return summary.ok ? EXIT_CLEAN : EXIT_DISCREPANCIES;
}

/** Runs every `schedule` seconds (never overlapping) until SIGINT/SIGTERM or TIDEMARK_RECONCILE_RUNS_MAX. */
async function runScheduled(command: CommandContext): Promise<number> {
  const { opts, p, s, metrics, logger } = command;
  const interval_ms = (opts.schedule as number) * 1000;
  const runs_max = p.config.TIDEMARK_RECONCILE_RUNS_MAX ?? Number.POSITIVE_INFINITY;
  let stopping = false;
  let wake: (() => void) | null = null;
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal: the operator does not want to wait for the current run.
      logger.warn({ signal }, 'second signal; exiting without finishing the current run');
      process.exit(EXIT_COULD_NOT_RUN);
    }
    stopping = true;
    logger.info({ signal }, 'scheduled reconciliation stopping after the current run');
    wake?.();
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let server: Server | null = null;
  if (p.config.TIDEMARK_RECONCILER_OPS_PORT !== undefined) {
    server = await startOpsServer({
      service: 'reconciler',
      metrics: metrics.metrics,
      readiness: { postgres: async () => (await s.pool.query('SELECT 1')).rowCount === 1 },
      host: p.config.TIDEMARK_RECONCILER_OPS_HOST,
      port: p.config.TIDEMARK_RECONCILER_OPS_PORT,
    });
  }
  let last = EXIT_CLEAN;
  try {
    logger.info(
      { provider: p.provider, interval_s: opts.schedule, runs_max: Number.isFinite(runs_max) ? runs_max : null },
      'scheduled reconciliation started',
    );
    for (let n = 1; n <= runs_max && !stopping; n += 1) {
      const started = Date.now();
      last = await runOnce(command);
      logger.info({ run: n, exit_code: last, duration_ms: Date.now() - started }, 'scheduled reconciliation run done');
      if (n >= runs_max || stopping) break;
      const wait_ms = Math.max(0, interval_ms - (Date.now() - started));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait_ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
    return last;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    if (server) await closeServer(server, 2_000);
  }
}
