/** The ledger projector's configuration: base keys plus its own, validated once at start-up. */
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadServiceConfig } from '@tidemark/common';
import type { FourEyesPolicy } from './core/four-eyes.js';

export const DEFAULT_PRICES_FILE = fileURLToPath(new URL('../../compliance-screening/data/rules.json', import.meta.url));

export const ledgerConfigShape = {
  TIDEMARK_LEDGER_API_HOST: z.string().min(1).default('127.0.0.1'),
  TIDEMARK_LEDGER_API_PORT: z.coerce.number().int().min(0).max(65_535).default(8090),
  /** "name:token:role,..." (roles reader, compliance, operator); empty → random tokens are generated and printed. */
  TIDEMARK_API_TOKENS: z.string().default(''),
  TIDEMARK_LEDGER_PG_POOL_MAX: z.coerce.number().int().min(2).max(64).default(8),
  TIDEMARK_LEDGER_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(60_000),
  /** Kafka consumer session timeout: how long a crashed instance's partitions wait before reassignment. */
  TIDEMARK_LEDGER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  /** Records per Kafka transaction / database batch in the runtime. */
  TIDEMARK_LEDGER_BATCH_SIZE_MAX: z.coerce.number().int().min(1).max(10_000).default(2_000),
  TIDEMARK_LEDGER_PG_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** Four-eyes: releases worth more than this many USD need a second compliance officer (unset: off). */
  TIDEMARK_FOUR_EYES_USD: z
    .string()
    .regex(/^\d{1,15}(\.\d{1,6})?$/, 'a USD amount, e.g. 10000')
    .optional(),
  /** The price table for four-eyes (the screening rules file's prices.per_asset). */
  TIDEMARK_FOUR_EYES_PRICES_FILE: z.string().min(1).default(DEFAULT_PRICES_FILE),
};

const pricesFileSchema = z.object({
  prices: z.object({ per_asset: z.record(z.string().regex(/^[A-Z0-9]{1,16}$/), z.string().regex(/^\d{1,20}(\.\d{1,18})?$/)) }),
});

/** The four-eyes policy from the configuration, or null when off. Throws naming the file when it is unusable. */
export function loadFourEyesPolicy(config: {
  TIDEMARK_FOUR_EYES_USD?: string;
  TIDEMARK_FOUR_EYES_PRICES_FILE: string;
}): FourEyesPolicy | null {
  if (!config.TIDEMARK_FOUR_EYES_USD) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(config.TIDEMARK_FOUR_EYES_PRICES_FILE, 'utf8'));
  } catch (err) {
    throw new ConfigError(
      `TIDEMARK_FOUR_EYES_PRICES_FILE: cannot read ${config.TIDEMARK_FOUR_EYES_PRICES_FILE}: ${(err as Error).message}`,
    );
  }
  const result = pricesFileSchema.safeParse(parsed);
  if (!result.success)
    throw new ConfigError(`TIDEMARK_FOUR_EYES_PRICES_FILE: ${config.TIDEMARK_FOUR_EYES_PRICES_FILE} has no valid prices.per_asset table`);
  return { threshold_usd: config.TIDEMARK_FOUR_EYES_USD, prices: result.data.prices.per_asset };
}

export type LedgerConfig = ReturnType<typeof loadLedgerConfig>;

export function loadLedgerConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadServiceConfig(ledgerConfigShape, env);
}
