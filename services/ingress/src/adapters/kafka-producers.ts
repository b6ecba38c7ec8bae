/**
 * Ingress's Kafka side: the producers the BatchWriter sends through and the readiness probe,
 * for either client (TIDEMARK_KAFKA_CLIENT). Both keep connecting in the background, so
 * ingress starts (and answers 503) while Kafka is down and recovers without a restart.
 *
 * - confluent (default): ONE librdkafka producer (idempotent, acks=all, Java-compatible
 *   partitioning); it pipelines requests itself, so the writer's "producers" are lanes over it
 *   (TIDEMARK_INGRESS_KAFKA_PRODUCERS batches in flight at once).
 * - kafkajs: one client producer per lane, each with its own connection.
 */
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import {
  createConfluentKafka,
  createConfluentProducer,
  createIdempotentProducer,
  createKafka,
  kafkaConnection,
  kafkaReachable,
  type BaseConfig,
  type KafkaSecurityConfig,
  type Logger,
} from '@tidemark/common';
import type { Admin, Producer } from 'kafkajs';
import { WriteRejected, type BatchProducer } from './batch-writer.js';

const CONNECT_RETRY_MS_MIN = 250;
const CONNECT_RETRY_MS_MAX = 5_000;
const REACHABLE_TIMEOUT_MS = 2_000;

export interface IngressKafka {
  producers: BatchProducer[];
  reachable(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface IngressKafkaConfig extends Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS' | 'TIDEMARK_KAFKA_CLIENT'>, KafkaSecurityConfig {
  TIDEMARK_INGRESS_KAFKA_PRODUCERS: number;
  TIDEMARK_INGRESS_LINGER_MS: number;
  TIDEMARK_INGRESS_ACK_TIMEOUT_MS: number;
}

export function createIngressKafka(config: IngressKafkaConfig, logger: Logger): IngressKafka {
  return config.TIDEMARK_KAFKA_CLIENT === 'kafkajs' ? kafkajsSide(config, logger) : confluentSide(config, logger);
}

/** Retries `connect` with capped exponential backoff until it succeeds or `stopped()`. */
export class Reconnector {
  connected = false;
  private timer: NodeJS.Timeout | null = null;
  stopped = false;

  constructor(
    private readonly connect: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  async loop(delay_ms: number): Promise<void> {
    if (this.timer || this.stopped) return;
    await new Promise<void>((resolve) => {
      this.timer = setTimeout(resolve, delay_ms);
    });
    this.timer = null;
    if (this.stopped || this.connected) return;
    try {
      await this.connect();
      this.connected = true;
      this.logger.info('Kafka producer connected');
    } catch (error) {
      const retry_ms = Math.min(CONNECT_RETRY_MS_MAX, Math.max(CONNECT_RETRY_MS_MIN, delay_ms * 2));
      this.logger.warn(
        { err: { message: (error as Error).message }, retry_ms },
        'Kafka producer cannot connect; answering 503 until it does',
      );
      void this.loop(retry_ms);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]);
}

function confluentSide(config: IngressKafkaConfig, logger: Logger): IngressKafka {
  const kafka = createConfluentKafka({ ...kafkaConnection(config), client_id: 'tidemark-ingress', logger });
  const producer: KafkaJS.Producer = createConfluentProducer(kafka, {
    linger_ms: config.TIDEMARK_INGRESS_LINGER_MS,
    // A record not delivered within the ack timeout is answered 503 anyway; don't keep retrying it much longer.
    delivery_timeout_ms: Math.max(config.TIDEMARK_INGRESS_ACK_TIMEOUT_MS * 2, 5_000),
  });
  const admin = kafka.admin();
  const link = new Reconnector(async () => {
    await producer.connect();
    await admin.connect();
  }, logger);
  void link.loop(0);
  const lane: BatchProducer = {
    sendBatch(batch) {
      if (!link.connected) return Promise.reject(new WriteRejected('Kafka producer is not connected'));
      return producer.sendBatch({ topicMessages: batch.topicMessages as KafkaJS.TopicMessages[] });
    },
  };
  // Distinct objects: the writer keeps one batch in flight per entry.
  const producers = Array.from({ length: config.TIDEMARK_INGRESS_KAFKA_PRODUCERS }, () => ({ sendBatch: lane.sendBatch }));
  return {
    producers,
    async reachable() {
      if (!link.connected) return false;
      try {
        await withTimeout(admin.listTopics(), REACHABLE_TIMEOUT_MS);
        return true;
      } catch {
        return false;
      }
    },
    async stop() {
      link.stop();
      await producer.flush({ timeout: 5_000 }).catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
}

/**
 * One kafkajs lane. After a failed send its producer is replaced by a new one (a new producer
 * id): kafkajs 2.2.4 keeps a partition's sequence number when a send fails even where the broker
 * appended part of it, so the next, different batch could be acknowledged as a duplicate and lost
 * (seen in the cluster failover test; test/cluster/broker-failover.int.test.ts).
 */
export class KafkajsLane implements BatchProducer {
  private producer: Producer;
  readonly link: Reconnector;
  /** Producers replaced after a failed send. */
  replacements = 0;

  constructor(
    private readonly kafka: ReturnType<typeof createKafka>,
    private readonly logger: Logger,
  ) {
    this.producer = this.fresh();
    this.link = new Reconnector(() => this.producer.connect(), logger);
    void this.link.loop(0);
  }

  private fresh(): Producer {
    const producer = createIdempotentProducer(this.kafka);
    producer.on(producer.events.DISCONNECT, () => {
      if (producer !== this.producer) return;
      this.link.connected = false;
      if (!this.link.stopped) void this.link.loop(CONNECT_RETRY_MS_MIN);
    });
    return producer;
  }

  async sendBatch(batch: Parameters<BatchProducer['sendBatch']>[0]): Promise<unknown> {
    if (!this.link.connected) throw new WriteRejected('Kafka producer is not connected');
    const producer = this.producer;
    try {
      return await producer.sendBatch(batch);
    } catch (err) {
      if (producer === this.producer) this.replace();
      throw err;
    }
  }

  private replace(): void {
    const old = this.producer;
    this.replacements++;
    this.logger.warn(
      { replacements: this.replacements },
      'Kafka send failed; replacing the producer (new producer id) before the next send',
    );
    this.producer = this.fresh();
    this.link.connected = false;
    void old.disconnect().catch(() => undefined);
    void this.link.loop(0);
  }

  async stop(): Promise<void> {
    this.link.stop();
    await this.producer.disconnect().catch(() => undefined);
  }
}

function kafkajsSide(config: IngressKafkaConfig, logger: Logger): IngressKafka {
  const kafka = createKafka({ ...kafkaConnection(config), client_id: 'tidemark-ingress', logger });
  const lanes = Array.from({ length: config.TIDEMARK_INGRESS_KAFKA_PRODUCERS }, () => new KafkajsLane(kafka, logger));
  const admin: Admin = kafka.admin();
  let admin_connected: Promise<void> | null = null;
  return {
    producers: lanes,
    async reachable() {
      if (!lanes.every((l) => l.link.connected)) return false;
      admin_connected ??= admin.connect().catch((error: unknown) => {
        admin_connected = null;
        throw error;
      });
      await admin_connected;
      return kafkaReachable(admin);
    },
    async stop() {
      await Promise.all(lanes.map((l) => l.stop()));
      await admin.disconnect().catch(() => undefined);
    },
  };
}
