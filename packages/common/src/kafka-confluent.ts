/**
 * The librdkafka-based Kafka client (@confluentinc/kafka-javascript, Confluent's supported
 * client with a KafkaJS-style API). Tidemark's default client; kafkajs stays selectable
 * with TIDEMARK_KAFKA_CLIENT=kafkajs (see kafka.ts).
 *
 * Settings that matter, and why:
 * - `partitioner: murmur2_random`: the Java client's partitioner (and kafkajs' default), so a
 *   wallet's records land in the same partition whichever client wrote them. librdkafka's own
 *   default (consistent_random, CRC32) would break per-key order across clients.
 * - producers are idempotent with acks=all; `linger.ms` is small because Tidemark's writers batch
 *   themselves (ingress across requests, the stream runtime per transaction) and latency matters.
 * - a transactional producer's `transaction.timeout.ms` bounds how long a crashed instance's open
 *   transaction holds back read_committed readers when no successor re-registers its id.
 */
import { createRequire } from 'node:module';
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { KafkaSecurity } from './config.js';
import type { Logger } from './log.js';

type ConfluentModule = typeof import('@confluentinc/kafka-javascript');

let loaded: ConfluentModule | null = null;

/**
 * libuv threads a process using the native client needs. The binding runs every blocking
 * librdkafka call (transaction begin/offsets/commit, seeks, committed-offset and watermark
 * queries) on libuv's threadpool; with Node's default of 4, a consumer's seeks and queries
 * can hold all of them while the transaction commit waits behind them for up to a second,
 * and a hop's latency collapses from tens of ms to seconds (packages/stream/bench/hop.bench.ts).
 * Node reads UV_THREADPOOL_SIZE when it starts, so launchers set it in the child's environment
 * (`threadpoolEnv`); a process started without it logs a warning (`threadpoolWarning`).
 */
export const UV_THREADPOOL_SIZE_MIN = 16;

/** `env` with UV_THREADPOOL_SIZE raised to the minimum unless it is set already. */
export function threadpoolEnv<E extends Record<string, string | undefined>>(env: E): E & { UV_THREADPOOL_SIZE: string } {
  return { ...env, UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE ?? String(UV_THREADPOOL_SIZE_MIN) };
}

/** A warning when this process's libuv threadpool is smaller than the native client needs (null: fine). */
export function threadpoolWarning(env: Record<string, string | undefined> = process.env): string | null {
  const size = Number(env.UV_THREADPOOL_SIZE ?? 4);
  if (size >= UV_THREADPOOL_SIZE_MIN) return null;
  return (
    `UV_THREADPOOL_SIZE is ${env.UV_THREADPOOL_SIZE ?? 'unset (4)'}; the librdkafka client needs at least ${UV_THREADPOOL_SIZE_MIN} ` +
    'libuv threads or transaction commits can wait behind blocking calls (set it in the environment that starts the process)'
  );
}

/** Loads the native client on first use, so processes that never use it do not load librdkafka. */
export function confluentModule(): ConfluentModule {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    try {
      loaded = require('@confluentinc/kafka-javascript') as ConfluentModule;
    } catch (err) {
      throw new Error(
        `the native Kafka client (@confluentinc/kafka-javascript) does not load: ${(err as Error).message}. ` +
          'Run `npm install` (its postinstall step builds it), or set TIDEMARK_KAFKA_CLIENT=kafkajs.',
        { cause: err },
      );
    }
  }
  return loaded;
}

/** Expected, retried conditions librdkafka reports at warning/error level; logged at debug. */
const EXPECTED_NOISE = [
  /CONCURRENT_TRANSACTIONS/i,
  /COORDINATOR_LOAD_IN_PROGRESS/i,
  /NOT_COORDINATOR/i,
  /Connection refused/i,
  /Disconnected \(after/i,
  /REBALANCE_IN_PROGRESS/i,
];

/** librdkafka's log lines through Tidemark's pino logger (structured, noise at debug). */
export function confluentLogger(logger: Logger | undefined, namespace = 'kafka'): KafkaJS.Logger {
  const log = logger?.child({ component: namespace });
  const emit = (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra?: object) => {
    if (!log) return;
    if ((level === 'error' || level === 'warn') && EXPECTED_NOISE.some((re) => re.test(message))) level = 'debug';
    if (level === 'info') level = 'debug';
    log[level]({ rdkafka: extra ?? {} }, message);
  };
  const self: KafkaJS.Logger = {
    error: (m, e) => emit('error', m, e),
    warn: (m, e) => emit('warn', m, e),
    info: (m, e) => emit('info', m, e),
    debug: () => undefined,
    namespace: () => self,
    setLogLevel: () => undefined,
  };
  return self;
}

export interface ConfluentClientOptions {
  brokers: string[];
  client_id: string;
  security?: KafkaSecurity;
  logger?: Logger;
}

/** librdkafka's security properties for `security` (none for plaintext); for clients built from raw properties. */
export function librdkafkaSecurity(security: KafkaSecurity | undefined): Record<string, string> {
  if (!security || security.protocol === 'plaintext') return {};
  return {
    'security.protocol': 'sasl_ssl',
    'sasl.mechanisms': security.mechanism.toUpperCase(),
    'sasl.username': security.username,
    'sasl.password': security.password,
    ...(security.ca_file ? { 'ssl.ca.location': security.ca_file } : {}),
  };
}

let threadpoolWarned = false;

export function createConfluentKafka(opts: ConfluentClientOptions): KafkaJS.Kafka {
  const { KafkaJS: K } = confluentModule();
  const warning = threadpoolWarning();
  if (warning && opts.logger && !threadpoolWarned) {
    threadpoolWarned = true;
    opts.logger.warn({ uv_threadpool_size: process.env.UV_THREADPOOL_SIZE ?? null }, warning);
  }
  return new K.Kafka({
    kafkaJS: {
      brokers: opts.brokers,
      clientId: opts.client_id,
      logger: confluentLogger(opts.logger),
      logLevel: K.logLevel.WARN,
    },
    ...librdkafkaSecurity(opts.security),
  } as KafkaJS.CommonConstructorConfig);
}

export interface ConfluentProducerOptions {
  transactional_id?: string;
  /** How long the producer waits to fill a batch; Tidemark's writers batch themselves. */
  linger_ms?: number;
  transaction_timeout_ms?: number;
  /** Bound on one record's delivery (retries included); a send rejects after it. */
  delivery_timeout_ms?: number;
}

export const CONFLUENT_PRODUCER_DEFAULTS = {
  linger_ms: 1,
  transaction_timeout_ms: 30_000,
  delivery_timeout_ms: 30_000,
} as const;

/** Idempotent producer, acks=all, Java-compatible partitioning; transactional when an id is given. */
export function createConfluentProducer(kafka: KafkaJS.Kafka, opts: ConfluentProducerOptions = {}): KafkaJS.Producer {
  const d = CONFLUENT_PRODUCER_DEFAULTS;
  return kafka.producer({
    'enable.idempotence': true,
    acks: -1,
    'linger.ms': opts.linger_ms ?? d.linger_ms,
    partitioner: 'murmur2_random',
    'message.timeout.ms': opts.delivery_timeout_ms ?? d.delivery_timeout_ms,
    'allow.auto.create.topics': false,
    ...(opts.transactional_id
      ? { 'transactional.id': opts.transactional_id, 'transaction.timeout.ms': opts.transaction_timeout_ms ?? d.transaction_timeout_ms }
      : {}),
  } as KafkaJS.ProducerConstructorConfig);
}
