/**
 * compliance-screening: loads the reference data (sanctions list, names, rules),
 * migrates its Postgres schema, and runs the screening handler on the shared stream
 * runtime, with an ops server (/healthz /readyz /metrics, POST /admin/reload) on
 * TIDEMARK_SCREENING_PORT (8083).
 *
 * Reference data reloads without a restart: the sanctions folder is watched (URL
 * sources are re-fetched every TIDEMARK_SANCTIONS_REFRESH_MS), and SIGHUP or
 * POST /admin/reload re-reads everything.
 */
import express, { type Request, type Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import {
  closeServer,
  createLogger,
  createMetrics,
  initTelemetry,
  listen,
  mountOpsRoutes,
  registerSecret,
  runService,
  type Metrics,
  type Stopper,
  createPool,
} from '@tidemark/common';
import { classifyFailure, LATENCY_BUCKETS_SECONDS, runConsumer, type RunningConsumer } from '@tidemark/stream';
import { loadScreeningConfig } from './config.js';
import { createScreeningHandler, SERVICE } from './handler.js';
import { RulesHolder } from './reference/rules-source.js';
import { SanctionsHolder, type ReloadOutcome } from './reference/sanctions-source.js';
import { RiskApiClient, type BreakerState } from './risk/risk-client.js';
import { DecisionStore, migrate } from './store/decision-store.js';

const config = loadScreeningConfig();
registerSecret(config.TIDEMARK_RISK_API_KEY);
registerSecret(config.TIDEMARK_SCREENING_ADMIN_TOKEN);
const logger = createLogger(SERVICE, config.TIDEMARK_LOG_LEVEL);

const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };
/** How long start-up waits for Postgres (it may be restarting) before giving up. */
const STARTUP_DB_WAIT_MS_MAX = 60_000;

async function migrateWhenReachable(): Promise<string[]> {
  const started_ms = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrate(config.TIDEMARK_DATABASE_URL, config.TIDEMARK_SCREENING_DB_SCHEMA);
    } catch (err) {
      if (classifyFailure(err) !== 'INFRASTRUCTURE' || Date.now() - started_ms > STARTUP_DB_WAIT_MS_MAX) throw err;
      logger.warn({ attempt, err: { message: (err as Error).message } }, 'postgres not reachable yet; retrying migrations');
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
    }
  }
}

/** The service's own metrics (the runtime's are registered by runConsumer). */
function screeningMetrics(metrics: Metrics) {
  const decisions = metrics.counter('tidemark_screening_decisions_total', 'Screening decisions by outcome', [
    'decision',
    'replayed',
    'trivial',
  ]);
  const duration = metrics.histogram(
    'tidemark_screening_duration_seconds',
    'Time to screen one event (risk API, window read, decision, store)',
    ['decision'],
  );
  const receivedToScreened = metrics.histogram(
    'tidemark_received_to_screened_seconds',
    "Time from the event's arrival at ingress (received_at_ms) to its screening decision, per event type (decisions made now; replays of stored decisions are not counted)",
    ['event_type'],
    [...LATENCY_BUCKETS_SECONDS],
  );
  const breakerGauge = metrics.gauge('tidemark_screening_risk_breaker_state', 'Risk API circuit breaker: 0 closed, 1 half-open, 2 open');
  const listAddresses = metrics.gauge('tidemark_screening_sanctions_addresses', 'Addresses in the sanctions list in force');
  const reloads = metrics.counter('tidemark_screening_reference_reloads_total', 'Reference data reloads', ['what', 'outcome']);
  return { decisions, duration, receivedToScreened, breakerGauge, listAddresses, reloads };
}

/** Sanctions list, rules and names: loaded, auto-reloaded, and reloaded on SIGHUP (and POST /admin/reload). */
async function openReferenceData(
  reloads: ReturnType<Metrics['counter']>,
  listAddresses: ReturnType<Metrics['gauge']>,
  stoppers: Stopper[],
) {
  const sanctions = await SanctionsHolder.open(config.TIDEMARK_SANCTIONS_SOURCE, (outcome) => {
    reloads.inc({ what: 'sanctions', outcome: outcome.error ? 'failed' : outcome.changed ? 'changed' : 'unchanged' });
    listAddresses.set(outcome.address_count);
    if (outcome.error)
      logger.error(
        { source: config.TIDEMARK_SANCTIONS_SOURCE, version: outcome.version, error: outcome.error },
        'sanctions list reload failed; keeping the list in force',
      );
    else if (outcome.changed) logger.info({ version: outcome.version, addresses: outcome.address_count }, 'sanctions list reloaded');
  });
  listAddresses.set(sanctions.current.address_count);
  sanctions.startAutoReload({ url_refresh_ms: config.TIDEMARK_SANCTIONS_REFRESH_MS });
  stoppers.push(async () => sanctions.stop());
  const reference = await RulesHolder.open({
    rules_file: config.TIDEMARK_SCREENING_RULES_FILE,
    names_file: config.TIDEMARK_SANCTIONED_NAMES_FILE,
  });
  logger.info(
    {
      sanctions_version: sanctions.current.version,
      sanctions_addresses: sanctions.current.address_count,
      sanctions_source: config.TIDEMARK_SANCTIONS_SOURCE,
      rules_version: reference.current.rules.rules_version,
      names_version: `${reference.current.names.list_id}@${reference.current.names.version}`,
    },
    'reference data loaded',
  );

  const reloadAll = async () => {
    const s = await sanctions.reload();
    const r = await reference.reload();
    reloads.inc({ what: 'rules', outcome: r.error ? 'failed' : 'ok' });
    if (r.error) logger.error({ error: r.error }, 'rules/names reload failed; keeping the versions in force');
    else logger.info({ rules_version: r.rules_version, names_version: r.names_version }, 'rules and names reloaded');
    return { sanctions: s, rules: r };
  };
  const onHup = () => void reloadAll();
  process.on('SIGHUP', onHup);
  stoppers.push(async () => void process.off('SIGHUP', onHup));
  return { sanctions, reference, reloadAll };
}

/** POST /admin/reload: reloads the reference data when the admin token is configured and presented. */
function adminReload(
  adminToken: Buffer | null,
  reloadAll: () => Promise<{ sanctions: ReloadOutcome; rules: Awaited<ReturnType<RulesHolder['reload']>> }>,
) {
  return async (req: Request, res: Response) => {
    if (!adminToken) {
      res.status(404).json({
        error: 'admin_disabled',
        message: 'set TIDEMARK_SCREENING_ADMIN_TOKEN to enable the admin endpoint (SIGHUP also reloads)',
      });
      return;
    }
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== adminToken.length || !timingSafeEqual(given, adminToken)) {
      res.status(401).json({ error: 'unauthorized', message: 'missing or wrong admin token' });
      return;
    }
    const outcome = await reloadAll();
    const failed = Boolean(outcome.sanctions.error ?? outcome.rules.error);
    res.status(failed ? 500 : 200).json({
      sanctions_list_version: outcome.sanctions.version,
      sanctions_addresses: outcome.sanctions.address_count,
      sanctions_changed: outcome.sanctions.changed,
      rules_version: outcome.rules.rules_version,
      names_version: outcome.rules.names_version,
      ...(failed ? { error: 'reload_failed', message: outcome.sanctions.error ?? outcome.rules.error } : {}),
    });
  };
}

await runService({
  service: SERVICE,
  logger,
  start: async (): Promise<Stopper[]> => {
    initTelemetry(SERVICE, config.TIDEMARK_OTLP_ENDPOINT);
    const metrics = createMetrics(SERVICE);
    const stoppers: Stopper[] = [];

    const { decisions, duration, receivedToScreened, breakerGauge, listAddresses, reloads } = screeningMetrics(metrics);

    const { sanctions, reference, reloadAll } = await openReferenceData(reloads, listAddresses, stoppers);

    const applied = await migrateWhenReachable();
    logger.info(
      { schema: config.TIDEMARK_SCREENING_DB_SCHEMA, applied },
      applied.length > 0 ? 'screening migrations applied' : 'screening schema up to date',
    );
    const pool = createPool({
      database_url: config.TIDEMARK_DATABASE_URL,
      max: config.TIDEMARK_SCREENING_DB_POOL_MAX,
      statement_timeout_ms: config.TIDEMARK_SCREENING_DB_STATEMENT_TIMEOUT_MS,
      connect_timeout_ms: config.TIDEMARK_SCREENING_DB_CONNECT_TIMEOUT_MS,
      application_name: 'tidemark-compliance-screening',
      onError: (err) => logger.warn({ err: { message: err.message } }, 'postgres connection failed'),
    });
    stoppers.push(() => pool.end());
    const store = new DecisionStore(pool, config.TIDEMARK_SCREENING_DB_SCHEMA);

    const risk = new RiskApiClient({
      base_url: config.TIDEMARK_RISK_API_URL,
      api_key: config.TIDEMARK_RISK_API_KEY,
      timeout_ms: config.TIDEMARK_RISK_API_TIMEOUT_MS,
      breaker_error_threshold_pct: config.TIDEMARK_RISK_API_BREAKER_ERROR_PCT,
      breaker_volume_threshold: config.TIDEMARK_RISK_API_BREAKER_VOLUME,
      breaker_rolling_window_ms: config.TIDEMARK_RISK_API_BREAKER_WINDOW_MS,
      breaker_reset_ms: config.TIDEMARK_RISK_API_BREAKER_RESET_MS,
      cache_ttl_ms: config.TIDEMARK_RISK_API_CACHE_TTL_MS,
      cache_entries_max: config.TIDEMARK_RISK_API_CACHE_ENTRIES_MAX,
    });
    risk.onStateChange((state) => {
      breakerGauge.set(BREAKER_GAUGE[state]);
      const log = state === 'open' ? logger.warn.bind(logger) : logger.info.bind(logger);
      log({ risk_api: config.TIDEMARK_RISK_API_URL, state }, `risk API circuit ${state}`);
    });
    stoppers.push(async () => risk.shutdown());

    const handler = createScreeningHandler({
      store,
      risk,
      sanctions: () => sanctions.current,
      reference: () => reference.current,
      observe: (o) => {
        decisions.inc({ decision: o.decision, replayed: String(o.replayed), trivial: String(o.trivial) });
        duration.observe({ decision: o.decision }, o.duration_ms / 1_000);
        if (!o.replayed) receivedToScreened.observe({ event_type: o.event_type }, Math.max(0, o.received_to_screened_ms) / 1_000);
      },
    });

    let consumer: RunningConsumer | null = null;
    const app = express();
    app.disable('x-powered-by');
    mountOpsRoutes(app, {
      service: SERVICE,
      metrics,
      readiness: {
        postgres: () => store.ping(),
        consumer: async () => consumer?.isReady() ?? false,
        // Not ready to screen without the risk API: events would only pile up in the ladder.
        risk_api: () => risk.healthy(),
      },
    });
    const adminToken = config.TIDEMARK_SCREENING_ADMIN_TOKEN ? Buffer.from(`Bearer ${config.TIDEMARK_SCREENING_ADMIN_TOKEN}`) : null;
    app.post('/admin/reload', adminReload(adminToken, reloadAll));
    const server = await listen(app, config.TIDEMARK_SCREENING_HOST, config.TIDEMARK_SCREENING_PORT);
    logger.info({ host: config.TIDEMARK_SCREENING_HOST, port: config.TIDEMARK_SCREENING_PORT }, 'ops server listening');

    const retry_delays_ms = config.TIDEMARK_SCREENING_RETRY_DELAYS_MS?.split(',').map((d) => Number.parseInt(d, 10));
    consumer = await runConsumer({ handler, logger, metrics, config, retry_delays_ms });
    stoppers.push(() => consumer!.stop());
    // Stopped first (stoppers run in reverse).
    stoppers.push(() => closeServer(server));
    return stoppers;
  },
});
