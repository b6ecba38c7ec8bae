/**
 * Dedupe service: `tsx services/dedupe/src/main.ts`. Wires config, Postgres
 * (migrations), the stream runtime with the dedupe handler, the periodic purge of
 * expired claims and the ops server (/healthz /readyz /metrics).
 */
import { closeServer, createLogger, createMetrics, initTelemetry, runService, startOpsServer, createPool } from '@tidemark/common';
import { retryStartup, runConsumer } from '@tidemark/stream';
import { loadDedupeConfig, retryDelays } from './config.js';
import { windowCutoffMs } from './core/dedupe.js';
import { DedupeHandler, DEDUPE_SERVICE } from './handler.js';
import { ClaimStore, migrateDedupe } from './store.js';

const logger = createLogger(DEDUPE_SERVICE);

await runService({
  service: DEDUPE_SERVICE,
  logger,
  start: async () => {
    const config = loadDedupeConfig();
    initTelemetry(DEDUPE_SERVICE, config.TIDEMARK_OTLP_ENDPOINT);
    const metrics = createMetrics(DEDUPE_SERVICE);
    const pool = createPool({
      database_url: config.TIDEMARK_DATABASE_URL,
      max: 10,
      application_name: 'tidemark-dedupe',
      onError: (err) => logger.warn({ err: err.message }, 'postgres connection failed'),
    });
    const applied = await retryStartup('applying dedupe migrations', () => migrateDedupe(pool), {
      onRetry: (err, delay_ms) => logger.warn({ err: (err as Error).message, delay_ms }, 'postgres not reachable yet; retrying'),
    });
    if (applied.length > 0) logger.info({ applied }, 'dedupe migrations applied');
    const store = new ClaimStore(pool);
    const consumer = await runConsumer({
      handler: new DedupeHandler(store, metrics),
      logger,
      metrics,
      config,
      pool,
      retry_delays_ms: retryDelays(config),
      batch_size_max: config.TIDEMARK_DEDUPE_BATCH_SIZE_MAX,
      session_timeout_ms: config.TIDEMARK_DEDUPE_SESSION_TIMEOUT_MS,
    });
    const purged = metrics.counter('tidemark_dedupe_claims_purged_total', 'Claims deleted after the dedupe window');
    const purge = async () => {
      try {
        const n = await store.purgeExpired(new Date(windowCutoffMs(Date.now(), config.TIDEMARK_DEDUPE_WINDOW_DAYS)));
        purged.inc(n);
        if (n > 0) logger.info({ purged: n, window_days: config.TIDEMARK_DEDUPE_WINDOW_DAYS }, 'expired dedupe claims purged');
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'purging expired dedupe claims failed; retried next interval');
      }
    };
    const purgeTimer = setInterval(() => void purge(), config.TIDEMARK_DEDUPE_PURGE_INTERVAL_MS);
    purgeTimer.unref();
    const server = await startOpsServer({
      service: DEDUPE_SERVICE,
      metrics,
      host: config.TIDEMARK_DEDUPE_HOST,
      port: config.TIDEMARK_DEDUPE_PORT,
      readiness: {
        kafka: async () => consumer.isReady(),
        postgres: async () => (await pool.query('SELECT 1')).rowCount === 1,
      },
    });
    const address = server.address();
    logger.info(
      {
        ops: typeof address === 'object' && address ? `${address.address}:${address.port}` : address,
        window_days: config.TIDEMARK_DEDUPE_WINDOW_DAYS,
      },
      'dedupe ops server listening',
    );
    // Stopped in reverse order: ops server, purge timer, consumer (finishes in-flight chunks), pool.
    return [() => pool.end(), () => consumer.stop(), async () => clearInterval(purgeTimer), () => closeServer(server)];
  },
});
