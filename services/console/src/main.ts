/**
 * The ops console: sign-in with the platform's API tokens, Pipeline, Compliance queue,
 * Transaction, Dead letters and Reconciliation pages, on TIDEMARK_CONSOLE_HOST:PORT
 * (default 127.0.0.1:8095), with /healthz /readyz /metrics.
 */
import type { Server } from 'node:http';
import { closeServer, createLogger, createMetrics, listen, registerSecret, runService, type Stopper } from '@tidemark/common';
import { parseApiTokens } from '@tidemark/ledger-projector';
import { openDlqContext, type DlqContext } from '@tidemark/stream';
import { createConsole } from './app.js';
import { ledgerUrl, loadConsoleConfig, reconcilerEnv, scrapeTargets } from './config.js';
import { SessionStore } from './core/session.js';
import { PipelineMonitor } from './pipeline-monitor.js';
import { Reconciliations } from './reconciliation.js';

const SERVICE = 'console';
const config = loadConsoleConfig();
const logger = createLogger(SERVICE, config.TIDEMARK_LOG_LEVEL);

await runService({
  service: SERVICE,
  logger,
  start: async (): Promise<Stopper[]> => {
    for (const entry of config.TIDEMARK_API_TOKENS.split(',')) registerSecret(entry.split(':')[1]);
    registerSecret(config.TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD);
    const tokens = parseApiTokens(config.TIDEMARK_API_TOKENS);
    const metrics = createMetrics(SERVICE);
    const stoppers: Stopper[] = [];
    const monitor = new PipelineMonitor({
      targets: scrapeTargets(config),
      interval_ms: config.TIDEMARK_CONSOLE_SCRAPE_INTERVAL_MS,
      history_ms: config.TIDEMARK_CONSOLE_HISTORY_MS,
      rate_window_ms: config.TIDEMARK_CONSOLE_RATE_WINDOW_MS,
      latency_window_ms: config.TIDEMARK_CONSOLE_LATENCY_WINDOW_MS,
    });
    monitor.start();
    stoppers.push(() => monitor.stop());

    // The DLQ context (Kafka + Postgres) opens on first use, so the console starts even when they are down.
    let dlq: Promise<DlqContext & { close(): Promise<void> }> | null = null;
    const dlqContext = () => {
      dlq ??= openDlqContext(config, logger).catch((err: unknown) => {
        dlq = null;
        throw err;
      });
      return dlq;
    };
    stoppers.push(async () => {
      if (dlq) await (await dlq.catch(() => null))?.close();
    });

    const ledger = ledgerUrl(config);
    const app = createConsole({
      tokens,
      sessions: new SessionStore({
        idle_ttl_ms: config.TIDEMARK_CONSOLE_SESSION_IDLE_MS,
        lifetime_ms: config.TIDEMARK_CONSOLE_SESSION_LIFETIME_MS,
        sessions_max: 1_000,
      }),
      ledger_url: ledger,
      monitor,
      dlq: dlqContext,
      // Runs as the reconciler (its database role and Kafka principal), not as the console.
      reconciliations: new Reconciliations(config.TIDEMARK_RECONCILE_REPORTS_DIR, reconcilerEnv(config)),
      reconcile_providers: config.TIDEMARK_CONSOLE_RECONCILE_PROVIDERS.split(',')
        .map((p) => p.trim())
        .filter(Boolean),
      jaeger_ui_url: config.TIDEMARK_JAEGER_UI_URL,
      secure_cookie: config.TIDEMARK_CONSOLE_SECURE_COOKIE,
      logger,
      metrics,
      readiness: {
        ledger_api: async () => (await fetch(`${ledger}/healthz`, { signal: AbortSignal.timeout(1_500) })).ok,
      },
    });
    const server: Server = await listen(app, config.TIDEMARK_CONSOLE_HOST, config.TIDEMARK_CONSOLE_PORT);
    logger.info({ host: config.TIDEMARK_CONSOLE_HOST, port: config.TIDEMARK_CONSOLE_PORT, ledger }, 'console listening');
    stoppers.push(() => closeServer(server));
    return stoppers;
  },
});
