/**
 * Wires ingress: provider profiles (+ secrets from env/files), the Kafka producer and
 * BatchWriter, the registry-backed encoder, metrics, readiness and the HTTP server.
 * `startIngress` is what main.ts runs and what the integration tests and bench start.
 */
import { AvroCodec, createLogger, createMetrics, registerSecret, topicName, type Logger } from '@tidemark/common';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriter, type BatchProducer } from './adapters/batch-writer.js';
import { createIngressKafka } from './adapters/kafka-producers.js';
import { createIngressServer, LIMITS_DEFAULT, type IngressServer, type RecordEncoder } from './adapters/http-server.js';
import { createIngressMetrics, type IngressMetrics } from './adapters/metrics.js';
import type { IngressConfig } from './config.js';
import { parseProfiles, resolveProvider, type Provider } from './core/profiles.js';

export const EVENTS_TOPIC = 'webhooks.received.v1';
export const AUDIT_TOPIC = 'audit.v1';
export const OPENAPI_FILE = fileURLToPath(new URL('../openapi.yaml', import.meta.url));

const WRITER_CLOSE_TIMEOUT_MS = 5_000;

export interface RunningIngress {
  url: string;
  port: number;
  providers: ReadonlyMap<string, Provider>;
  server: IngressServer;
  /** Graceful stop: drain in-flight requests, flush queued records, disconnect. */
  close(): Promise<void>;
}

/** Loads providers.json and resolves each profile's secrets; registers every secret for log scrubbing. */
export function loadProviders(file: string, env: NodeJS.ProcessEnv, logger?: Logger): Map<string, Provider> {
  const base = dirname(resolve(file));
  const specs = parseProfiles(readFileSync(file, 'utf8'));
  const providers = new Map<string, Provider>();
  for (const spec of specs) {
    const provider = resolveProvider(spec, { env, readFile: (path) => readFileSync(resolve(base, path), 'utf8') });
    for (const secret of provider.secrets) registerSecret(secret);
    if (provider.keys.length === 0) {
      logger?.warn(
        { provider: spec.id, secrets_env: spec.secrets_env ?? null, secrets_file: spec.secrets_file ?? null },
        'provider has no secrets configured: every request to it will be rejected 401',
      );
    }
    providers.set(spec.id, provider);
  }
  return providers;
}

/** The BatchWriter over the producers, logging failure transitions (not every retry of a long outage). */
function createWriter(config: IngressConfig, producers: BatchProducer[], im: IngressMetrics, logger: Logger): BatchWriter {
  let batch_failures = 0;
  return new BatchWriter({
    producers,
    linger_ms: config.TIDEMARK_INGRESS_LINGER_MS,
    batch_records_max: config.TIDEMARK_INGRESS_BATCH_RECORDS_MAX,
    queue_records_max: config.TIDEMARK_INGRESS_QUEUE_RECORDS_MAX,
    ack_timeout_ms: config.TIDEMARK_INGRESS_ACK_TIMEOUT_MS,
    detached_records_max: config.TIDEMARK_INGRESS_AUDIT_QUEUE_MAX,
    on_batch: ({ records, ok, error }) => {
      im.batch(records, ok);
      // Log transitions (and every 100th failure), not every retry of a long outage.
      if (!ok) {
        if (batch_failures % 100 === 0)
          logger.warn(
            { records, consecutive_failures: batch_failures + 1, err: { message: (error as Error)?.message } },
            'Kafka batch failed',
          );
        batch_failures++;
      } else if (batch_failures > 0) {
        logger.info({ failed_batches: batch_failures }, 'Kafka writes succeed again');
        batch_failures = 0;
      }
    },
    on_detached_dropped: (count) => {
      im.auditDropped(count);
      logger.error({ count }, 'audit queue full: dropped audit records of rejected requests');
    },
  });
}

export async function startIngress(
  config: IngressConfig,
  opts: { env?: NodeJS.ProcessEnv; logger?: Logger } = {},
): Promise<RunningIngress> {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? createLogger('ingress', config.TIDEMARK_LOG_LEVEL);
  const providers = loadProviders(config.TIDEMARK_INGRESS_PROVIDERS_FILE, env, logger);
  const metrics = createMetrics('ingress');
  const im = createIngressMetrics(metrics);

  const kafka = createIngressKafka(config, logger);
  const producers = kafka.producers;

  const prefix = config.TIDEMARK_TOPIC_PREFIX;
  const codec = new AvroCodec(config.TIDEMARK_REGISTRY_URL, prefix);
  const encoder: RecordEncoder = {
    events_topic: topicName(EVENTS_TOPIC, prefix),
    audit_topic: topicName(AUDIT_TOPIC, prefix),
    encodeEvent: (event) => codec.encode(EVENTS_TOPIC, event),
    encodeAudit: (record) => codec.encode(AUDIT_TOPIC, record),
  };
  // Warm the schema-id cache; a failure here is retried on first use (and shows in /readyz).
  await Promise.all([codec.schemaId(EVENTS_TOPIC), codec.schemaId(AUDIT_TOPIC)]).catch((error: unknown) =>
    logger.warn({ err: { message: (error as Error).message } }, 'schema registry lookup failed at start-up; will retry on demand'),
  );

  const writer = createWriter(config, producers, im, logger);

  const tls =
    config.TIDEMARK_INGRESS_TLS_CERT && config.TIDEMARK_INGRESS_TLS_KEY
      ? { cert: readFileSync(config.TIDEMARK_INGRESS_TLS_CERT), key: readFileSync(config.TIDEMARK_INGRESS_TLS_KEY) }
      : undefined;

  const server = createIngressServer({
    providers,
    writer,
    encoder,
    logger,
    metrics,
    ingress_metrics: im,
    limits: {
      ...LIMITS_DEFAULT,
      concurrent_requests_max: config.TIDEMARK_INGRESS_CONCURRENT_REQUESTS_MAX,
      headers_timeout_ms: config.TIDEMARK_INGRESS_HEADERS_TIMEOUT_MS,
      request_timeout_ms: config.TIDEMARK_INGRESS_REQUEST_TIMEOUT_MS,
      header_bytes_max: config.TIDEMARK_INGRESS_HEADER_BYTES_MAX,
      json_depth_max: config.TIDEMARK_INGRESS_JSON_DEPTH_MAX,
    },
    readiness: {
      kafka: () => kafka.reachable(),
      registry: async () => {
        await Promise.all([codec.schemaId(EVENTS_TOPIC), codec.schemaId(AUDIT_TOPIC)]);
        return true;
      },
    },
    openapi_yaml: readFileSync(OPENAPI_FILE, 'utf8'),
    ...(tls ? { tls } : {}),
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.server.listen(config.TIDEMARK_INGRESS_PORT, config.TIDEMARK_INGRESS_HOST, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.TIDEMARK_INGRESS_PORT;
  const host = config.TIDEMARK_INGRESS_HOST.includes(':') ? `[${config.TIDEMARK_INGRESS_HOST}]` : config.TIDEMARK_INGRESS_HOST;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  logger.info({ url, providers: [...providers.keys()], tls: Boolean(tls) }, 'ingress listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    providers,
    server,
    close() {
      closing ??= (async () => {
        await server.drain(config.TIDEMARK_INGRESS_SHUTDOWN_DRAIN_MS);
        await writer.close(WRITER_CLOSE_TIMEOUT_MS);
        await kafka.stop();
        logger.info('ingress drained and disconnected');
      })();
      return closing;
    },
  };
}
