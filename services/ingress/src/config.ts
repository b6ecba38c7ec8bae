/** Ingress configuration: environment variables, validated once at start-up. */
import { ConfigError, loadServiceConfig } from '@tidemark/common';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const PROVIDERS_FILE_DEFAULT = fileURLToPath(new URL('../config/providers.json', import.meta.url));

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

export const ingressConfigShape = {
  TIDEMARK_INGRESS_HOST: z.string().min(1).default('127.0.0.1'),
  TIDEMARK_INGRESS_PORT: int(0, 65_535, 8080),
  TIDEMARK_INGRESS_PROVIDERS_FILE: z.string().min(1).default(PROVIDERS_FILE_DEFAULT),
  TIDEMARK_INGRESS_TLS_CERT: z.string().min(1).optional().describe('PEM certificate file; with TIDEMARK_INGRESS_TLS_KEY enables HTTPS'),
  TIDEMARK_INGRESS_TLS_KEY: z.string().min(1).optional(),
  TIDEMARK_INGRESS_ACK_TIMEOUT_MS: int(100, 30_000, 2_000),
  /** Idempotent producers (connections), each with one batch in flight. */
  TIDEMARK_INGRESS_KAFKA_PRODUCERS: int(1, 8, 2),
  TIDEMARK_INGRESS_LINGER_MS: int(0, 50, 1),
  TIDEMARK_INGRESS_BATCH_RECORDS_MAX: int(2, 10_000, 1_000),
  TIDEMARK_INGRESS_QUEUE_RECORDS_MAX: int(2, 1_000_000, 20_000),
  TIDEMARK_INGRESS_AUDIT_QUEUE_MAX: int(1, 1_000_000, 50_000),
  TIDEMARK_INGRESS_CONCURRENT_REQUESTS_MAX: int(1, 100_000, 4_096),
  TIDEMARK_INGRESS_HEADERS_TIMEOUT_MS: int(1_000, 120_000, 10_000),
  TIDEMARK_INGRESS_REQUEST_TIMEOUT_MS: int(1_000, 300_000, 15_000),
  TIDEMARK_INGRESS_HEADER_BYTES_MAX: int(1_024, 65_536, 16_384),
  TIDEMARK_INGRESS_JSON_DEPTH_MAX: int(2, 256, 32),
  TIDEMARK_INGRESS_SHUTDOWN_DRAIN_MS: int(0, 60_000, 10_000),
} as const;

export const ingressConfigSchema = z
  .object(ingressConfigShape)
  .refine((c) => (c.TIDEMARK_INGRESS_TLS_CERT === undefined) === (c.TIDEMARK_INGRESS_TLS_KEY === undefined), {
    message: 'TIDEMARK_INGRESS_TLS_CERT and TIDEMARK_INGRESS_TLS_KEY must be set together',
    path: ['TIDEMARK_INGRESS_TLS_CERT'],
  });

export type IngressConfig = ReturnType<typeof loadIngressConfig>;

export function loadIngressConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadServiceConfig(ingressConfigShape, env);
  const tls_ok = ingressConfigSchema.safeParse(config);
  if (!tls_ok.success)
    throw new ConfigError(`invalid configuration: ${tls_ok.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return config;
}
