/**
 * Configuration is validated once at start-up; a service never starts half-configured.
 * Every key is an environment variable; errors name the variable and what is wrong.
 */
import { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Settings every Tidemark process shares. */
export const baseConfigShape = {
  TIDEMARK_KAFKA_BROKERS: z.string().default('127.0.0.1:9092').describe('comma-separated host:port list'),
  TIDEMARK_KAFKA_CLIENT: z
    .enum(['confluent', 'kafkajs'])
    .default('confluent')
    .describe('Kafka client: confluent (librdkafka, KIP-447; default) or kafkajs (pure JavaScript)'),
  TIDEMARK_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .optional()
    .describe('stable name of this instance (e.g. a pod name); keeps its transactional id across restarts'),
  TIDEMARK_REGISTRY_URL: z.string().url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  TIDEMARK_DATABASE_URL: z.string().default('postgres://tidemark:tidemark@127.0.0.1:55432/tidemark'),
  TIDEMARK_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/, 'only letters, digits, ".", "_" and "-"')
    .default(''),
  TIDEMARK_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TIDEMARK_OTLP_ENDPOINT: z.string().url().optional().describe('OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces'),
  TIDEMARK_KAFKA_ACK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  TIDEMARK_KAFKA_SECURITY_PROTOCOL: z
    .enum(['plaintext', 'sasl_ssl'])
    .default('plaintext')
    .describe('how clients reach the broker: sasl_ssl (SCRAM over TLS; what `infra up` runs) or plaintext'),
  TIDEMARK_KAFKA_SASL_MECHANISM: z.enum(['scram-sha-512', 'scram-sha-256']).default('scram-sha-512'),
  TIDEMARK_KAFKA_SASL_USERNAME: z.string().min(1).optional().describe("this process's Kafka principal (sasl_ssl)"),
  TIDEMARK_KAFKA_SASL_PASSWORD: z.string().min(1).optional().describe('its SCRAM password (sasl_ssl); never logged'),
  TIDEMARK_KAFKA_SSL_CA_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('PEM file of the CA that signed the broker certificates (default: the system trust store)'),
} as const;

export const baseConfigSchema = z.object(baseConfigShape);
export type BaseConfig = z.infer<typeof baseConfigSchema>;

/** Validates `env` against `schema`; throws ConfigError naming every bad key. */
export function loadConfig<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${problems.join('\n')}\nfix the environment variable(s) above and start again`);
  }
  return result.data;
}

/** Base config plus a service's own keys. */
export function loadServiceConfig<T extends z.ZodRawShape>(shape: T, env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(z.object({ ...baseConfigShape, ...shape }), env);
}

/** How a client authenticates to the broker; `sasl_ssl` carries the principal and its secret. */
export type KafkaSecurity =
  | { protocol: 'plaintext' }
  | {
      protocol: 'sasl_ssl';
      mechanism: 'scram-sha-512' | 'scram-sha-256';
      username: string;
      password: string;
      /** PEM CA file; undefined: the system trust store. */
      ca_file?: string;
    };

export type KafkaSecurityConfig = Partial<
  Pick<
    BaseConfig,
    | 'TIDEMARK_KAFKA_SECURITY_PROTOCOL'
    | 'TIDEMARK_KAFKA_SASL_MECHANISM'
    | 'TIDEMARK_KAFKA_SASL_USERNAME'
    | 'TIDEMARK_KAFKA_SASL_PASSWORD'
    | 'TIDEMARK_KAFKA_SSL_CA_FILE'
  >
>;

/** The client security settings of `config`; throws ConfigError when sasl_ssl lacks a username or password. */
export function kafkaSecurity(config: KafkaSecurityConfig): KafkaSecurity {
  if ((config.TIDEMARK_KAFKA_SECURITY_PROTOCOL ?? 'plaintext') === 'plaintext') return { protocol: 'plaintext' };
  const missing = (['TIDEMARK_KAFKA_SASL_USERNAME', 'TIDEMARK_KAFKA_SASL_PASSWORD'] as const).filter((k) => !config[k]);
  if (missing.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${missing.join(', ')}: required when TIDEMARK_KAFKA_SECURITY_PROTOCOL=sasl_ssl`);
  }
  return {
    protocol: 'sasl_ssl',
    mechanism: config.TIDEMARK_KAFKA_SASL_MECHANISM ?? 'scram-sha-512',
    username: config.TIDEMARK_KAFKA_SASL_USERNAME!,
    password: config.TIDEMARK_KAFKA_SASL_PASSWORD!,
    ...(config.TIDEMARK_KAFKA_SSL_CA_FILE ? { ca_file: config.TIDEMARK_KAFKA_SSL_CA_FILE } : {}),
  };
}

/** Everything a Kafka client factory needs to reach the cluster: `createKafka({ ...kafkaConnection(config), client_id })`. */
export function kafkaConnection(config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS'> & KafkaSecurityConfig): {
  brokers: string[];
  security: KafkaSecurity;
} {
  return { brokers: kafkaBrokers(config), security: kafkaSecurity(config) };
}

export function kafkaBrokers(config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS'>): string[] {
  return config.TIDEMARK_KAFKA_BROKERS.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}
