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

export function kafkaBrokers(config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS'>): string[] {
  return config.TIDEMARK_KAFKA_BROKERS.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}
