/**
 * ledger-projector: migrations on start, the stream-runtime consumer of
 * events.screened.v1, the outbox publisher, and the read API (with /healthz /readyz /metrics).
 */
import type { Server } from 'node:http';
import {
  AvroCodec,
  closeServer,
  createIdempotentProducer,
  createKafka,
  createLogger,
  createMetrics,
  initTelemetry,
  kafkaConnection,
  kafkaReachable,
  listen,
  registerSecret,
  runService,
  type Stopper,
} from '@tidemark/common';
import { runConsumer, type RunningConsumer } from '@tidemark/stream';
import { createApi } from './api.js';
import { generateApiTokens, parseApiTokens } from './auth.js';
import { loadFourEyesPolicy, loadLedgerConfig } from './config.js';
import { runMigrations } from './db/migrate.js';
import { createLedgerPool } from './db/pool.js';
import { SERVICE_NAME } from './topics.js';
import { createLedgerHandler } from './handler.js';
import { OutboxPublisher } from './outbox.js';

const config = loadLedgerConfig();
const fourEyes = loadFourEyesPolicy(config);
const logger = createLogger(SERVICE_NAME, config.TIDEMARK_LOG_LEVEL);

function apiTokens() {
  if (config.TIDEMARK_API_TOKENS.trim().length > 0) {
    for (const entry of config.TIDEMARK_API_TOKENS.split(',')) registerSecret(entry.split(':')[1]);
    return parseApiTokens(config.TIDEMARK_API_TOKENS);
  }
  // No anonymous mode: without configured tokens, generate one per role and print them once.
  const generated = generateApiTokens();
  for (const t of generated.tokens) registerSecret(t.token);
  process.stdout.write(
    `ledger read API tokens (generated; set TIDEMARK_API_TOKENS=name:token:role,... to choose your own):\n` +
      generated.tokens.map((t) => `  ${t.role}: ${t.token}\n`).join(''),
  );
  return parseApiTokens(generated.spec);
}

await runService({
  service: SERVICE_NAME,
  logger,
  start: async (): Promise<Stopper[]> => {
    initTelemetry(SERVICE_NAME, config.TIDEMARK_OTLP_ENDPOINT);
    const tokens = apiTokens();
    const metrics = createMetrics(SERVICE_NAME);
    const stoppers: Stopper[] = [];

    await runMigrations(config.TIDEMARK_DATABASE_URL, logger);
    const pool = createLedgerPool({
      database_url: config.TIDEMARK_DATABASE_URL,
      pool_max: config.TIDEMARK_LEDGER_PG_POOL_MAX,
      statement_timeout_ms: config.TIDEMARK_LEDGER_STATEMENT_TIMEOUT_MS,
      connect_timeout_ms: config.TIDEMARK_LEDGER_PG_CONNECT_TIMEOUT_MS,
    });
    stoppers.push(() => pool.end());

    const kafka = createKafka({ ...kafkaConnection(config), client_id: SERVICE_NAME, logger });
    const admin = kafka.admin();
    await admin.connect();
    stoppers.push(() => admin.disconnect());
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    stoppers.push(() => producer.disconnect());
    const codec = new AvroCodec(config.TIDEMARK_REGISTRY_URL, config.TIDEMARK_TOPIC_PREFIX);
    const outbox = new OutboxPublisher({ pool, producer, codec, logger, prefix: config.TIDEMARK_TOPIC_PREFIX });
    outbox.start();
    stoppers.push(() => outbox.stop());

    let consumer: RunningConsumer | null = null;
    const app = createApi({
      pool,
      tokens,
      logger,
      metrics,
      readiness: {
        postgres: async () => (await pool.query('SELECT 1')).rowCount === 1,
        kafka: () => kafkaReachable(admin),
        consumer: async () => consumer?.isReady() ?? false,
      },
      on_outbox: () => void outbox.flush().catch(() => undefined),
      four_eyes: fourEyes,
    });
    const server: Server = await listen(app, config.TIDEMARK_LEDGER_API_HOST, config.TIDEMARK_LEDGER_API_PORT);
    logger.info(
      { host: config.TIDEMARK_LEDGER_API_HOST, port: config.TIDEMARK_LEDGER_API_PORT, tokens: tokens.map((t) => `${t.name}:${t.role}`) },
      'ledger read API listening',
    );

    const handler = createLedgerHandler({ pool, logger, metrics });
    consumer = await runConsumer({
      handler,
      logger,
      metrics,
      config,
      batch_size_max: config.TIDEMARK_LEDGER_BATCH_SIZE_MAX,
      session_timeout_ms: config.TIDEMARK_LEDGER_SESSION_TIMEOUT_MS,
    });
    stoppers.push(() => consumer!.stop());
    // Stopped first (stoppers run in reverse): no new API requests while the consumer drains.
    stoppers.push(() => closeServer(server));
    return stoppers;
  },
});
