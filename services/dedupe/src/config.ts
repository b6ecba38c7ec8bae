/** Dedupe settings (environment), validated once at start-up. */
import { z } from 'zod';
import { loadServiceConfig } from '@tidemark/common';
import { DEDUPE_WINDOW_DAYS_MAX, DEDUPE_WINDOW_DAYS_MIN } from './core/dedupe.js';

export const dedupeConfigShape = {
  TIDEMARK_DEDUPE_HOST: z.string().default('127.0.0.1'),
  TIDEMARK_DEDUPE_PORT: z.coerce.number().int().min(0).max(65_535).default(8082),
  TIDEMARK_DEDUPE_WINDOW_DAYS: z.coerce.number().int().min(DEDUPE_WINDOW_DAYS_MIN).max(DEDUPE_WINDOW_DAYS_MAX).default(30),
  TIDEMARK_DEDUPE_PURGE_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(7 * 24 * 3600_000)
    .default(3_600_000),
  TIDEMARK_DEDUPE_BATCH_SIZE_MAX: z.coerce.number().int().min(1).max(10_000).default(1_000),
  /** Consumer-group session timeout: how long a dead instance keeps its partitions. */
  TIDEMARK_DEDUPE_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  /** Overrides the catalog's rung delays (tests use short ones), e.g. "500,1000,2000". */
  TIDEMARK_DEDUPE_RETRY_DELAYS_MS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated milliseconds, e.g. 1000,10000,60000')
    .optional(),
} as const;

export type DedupeConfig = ReturnType<typeof loadDedupeConfig>;

export function loadDedupeConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadServiceConfig(dedupeConfigShape, env);
}

export function retryDelays(config: DedupeConfig): number[] | undefined {
  return config.TIDEMARK_DEDUPE_RETRY_DELAYS_MS?.split(',').map((d) => Number.parseInt(d, 10));
}
