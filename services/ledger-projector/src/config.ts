/** The ledger projector's configuration: base keys plus its own, validated once at start-up. */
import { z } from 'zod';
import { loadServiceConfig } from '@tidemark/common';

export const ledgerConfigShape = {
  TIDEMARK_LEDGER_API_HOST: z.string().min(1).default('127.0.0.1'),
  TIDEMARK_LEDGER_API_PORT: z.coerce.number().int().min(0).max(65_535).default(8090),
  /** "name:token:role,..." (roles reader, compliance); empty → random tokens are generated and printed. */
  TIDEMARK_API_TOKENS: z.string().default(''),
  TIDEMARK_LEDGER_PG_POOL_MAX: z.coerce.number().int().min(2).max(64).default(8),
  TIDEMARK_LEDGER_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(60_000),
  /** Kafka consumer session timeout: how long a crashed instance's partitions wait before reassignment. */
  TIDEMARK_LEDGER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  /** Records per Kafka transaction / database batch in the runtime. */
  TIDEMARK_LEDGER_BATCH_SIZE_MAX: z.coerce.number().int().min(1).max(10_000).default(2_000),
  TIDEMARK_LEDGER_PG_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
};

export type LedgerConfig = ReturnType<typeof loadLedgerConfig>;

export function loadLedgerConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadServiceConfig(ledgerConfigShape, env);
}
