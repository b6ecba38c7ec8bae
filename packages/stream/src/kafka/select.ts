/**
 * Picks the Kafka client behind the transport interface: `TIDEMARK_KAFKA_CLIENT=confluent`
 * (librdkafka, KIP-447, the default) or `kafkajs` (pure JavaScript, per-partition fencing).
 */
import {
  createConfluentKafka,
  createKafka,
  kafkaConnection,
  type BaseConfig,
  type KafkaSecurityConfig,
  type Logger,
} from '@tidemark/common';
import { ConfluentTransport } from './confluent.js';
import { KafkajsTransport } from './kafkajs.js';
import type { KafkaTransport } from './transport.js';

/** The client named by TIDEMARK_KAFKA_CLIENT in the environment (default confluent). */
export function kafkaClientFromEnv(env: NodeJS.ProcessEnv = process.env): 'confluent' | 'kafkajs' {
  const v = env.TIDEMARK_KAFKA_CLIENT;
  if (v === undefined || v === '' || v === 'confluent') return 'confluent';
  if (v === 'kafkajs') return 'kafkajs';
  throw new Error(`TIDEMARK_KAFKA_CLIENT=${JSON.stringify(v)}: expected confluent or kafkajs`);
}

export function createTransport(
  config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS'> & Partial<Pick<BaseConfig, 'TIDEMARK_KAFKA_CLIENT'>> & KafkaSecurityConfig,
  client_id: string,
  logger?: Logger,
): KafkaTransport {
  if ((config.TIDEMARK_KAFKA_CLIENT ?? kafkaClientFromEnv()) === 'kafkajs') {
    return new KafkajsTransport(
      logger ? createStreamKafka(config, client_id, logger) : createKafka({ ...kafkaConnection(config), client_id }),
    );
  }
  const { brokers, security } = kafkaConnection(config);
  return new ConfluentTransport(createConfluentKafka({ brokers, security, client_id, logger }), { brokers, security });
}

/** kafkajs logs retried, expected conditions at error level; those go to debug. */
const EXPECTED_KAFKA_NOISE = [
  /another concurrent operation on the same transaction/i,
  /coordinator is loading/i,
  /Limiting retries for the idempotent producer/i,
  /ongoing transaction on this transactionId/i,
];

export function createStreamKafka(
  config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS'> & KafkaSecurityConfig,
  client_id: string,
  logger: Logger,
) {
  const log = logger.child({ component: 'kafkajs' });
  return createKafka({
    ...kafkaConnection(config),
    client_id,
    extra: {
      logCreator:
        () =>
        ({ level, log: entry }) => {
          const { message, ...rest } = entry;
          const text = `${message} ${String((rest as { error?: unknown }).error ?? '')}`;
          if (EXPECTED_KAFKA_NOISE.some((re) => re.test(text))) return log.debug({ kafkajs: rest }, message);
          if (level <= 1) log.error({ kafkajs: rest }, message);
          else if (level === 2) log.warn({ kafkajs: rest }, message);
          else log.debug({ kafkajs: rest }, message);
        },
    },
  });
}
