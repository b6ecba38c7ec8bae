/** Compliance-screening configuration: validated once at start-up (base keys + these). */
import { z } from 'zod';
import { loadServiceConfig } from '@tidemark/common';
import { DEFAULT_NAMES_FILE, DEFAULT_RULES_FILE, DEFAULT_SANCTIONS_SOURCE } from './reference/rules-source.js';
import { SCHEMA_NAME_PATTERN } from './store/decision-store.js';

export const screeningConfigShape = {
  TIDEMARK_SCREENING_HOST: z.string().default('127.0.0.1'),
  TIDEMARK_SCREENING_PORT: z.coerce.number().int().min(0).max(65_535).default(8083),
  /** Postgres schema for decisions and windows (tests use a unique one per run). */
  TIDEMARK_SCREENING_DB_SCHEMA: z.string().regex(SCHEMA_NAME_PATTERN, 'lower-case SQL identifier').default('compliance'),
  TIDEMARK_SCREENING_DB_POOL_MAX: z.coerce.number().int().min(1).max(100).default(5),
  TIDEMARK_SCREENING_DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  TIDEMARK_SCREENING_DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** Folder of sanctioned_addresses_<TICKER>.txt files, or comma-separated http(s) URLs. */
  TIDEMARK_SANCTIONS_SOURCE: z.string().min(1).default(DEFAULT_SANCTIONS_SOURCE),
  /** How often a URL source is fetched again (0: only on SIGHUP / admin reload). Folders are watched. */
  TIDEMARK_SANCTIONS_REFRESH_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3_600_000)
    .default(3_600_000),
  TIDEMARK_SCREENING_RULES_FILE: z.string().min(1).default(DEFAULT_RULES_FILE),
  TIDEMARK_SANCTIONED_NAMES_FILE: z.string().min(1).default(DEFAULT_NAMES_FILE),
  /** Bearer token for POST /admin/reload; without it the admin endpoint is off (SIGHUP still works). */
  TIDEMARK_SCREENING_ADMIN_TOKEN: z.string().min(16).optional(),
  TIDEMARK_RISK_API_URL: z.string().url().default('http://127.0.0.1:8099'),
  /** Overrides the catalog's rung delays (tests use short ones), e.g. "200,500". */
  TIDEMARK_SCREENING_RETRY_DELAYS_MS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated milliseconds, e.g. 1000,10000,60000')
    .optional(),
  TIDEMARK_RISK_API_KEY: z.string().min(8).optional(),
  TIDEMARK_RISK_API_TIMEOUT_MS: z.coerce.number().int().min(50).max(30_000).default(2_000),
  TIDEMARK_RISK_API_BREAKER_ERROR_PCT: z.coerce.number().int().min(1).max(100).default(50),
  TIDEMARK_RISK_API_BREAKER_VOLUME: z.coerce.number().int().min(1).max(10_000).default(5),
  TIDEMARK_RISK_API_BREAKER_WINDOW_MS: z.coerce.number().int().min(1_000).max(600_000).default(10_000),
  TIDEMARK_RISK_API_BREAKER_RESET_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  TIDEMARK_RISK_API_CACHE_TTL_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
  TIDEMARK_RISK_API_CACHE_ENTRIES_MAX: z.coerce.number().int().min(1).max(1_000_000).default(50_000),
} as const;

export type ScreeningConfig = ReturnType<typeof loadScreeningConfig>;

export function loadScreeningConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadServiceConfig(screeningConfigShape, env);
}
