/**
 * Runs the fake risk API as its own process:
 *   npx tsx services/compliance-screening/src/fake-risk-api/main.ts
 * Env: TIDEMARK_RISK_API_HOST (127.0.0.1), TIDEMARK_RISK_API_PORT (8099),
 * TIDEMARK_RISK_API_KEY (optional; then `Authorization: Bearer <key>` is required),
 * TIDEMARK_FAKE_RISK_MODE (ok|fail|hang), TIDEMARK_FAKE_RISK_LATENCY_MS,
 * TIDEMARK_FAKE_RISK_FAIL_STATUS (503).
 */
import { z } from 'zod';
import { createLogger, loadConfig, registerSecret } from '@tidemark/common';
import { startFakeRiskApi } from './server.js';

const config = loadConfig(
  z.object({
    TIDEMARK_RISK_API_HOST: z.string().default('127.0.0.1'),
    TIDEMARK_RISK_API_PORT: z.coerce.number().int().min(0).max(65_535).default(8099),
    TIDEMARK_RISK_API_KEY: z.string().min(8).optional(),
    TIDEMARK_FAKE_RISK_MODE: z.enum(['ok', 'fail', 'hang']).default('ok'),
    TIDEMARK_FAKE_RISK_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
    TIDEMARK_FAKE_RISK_FAIL_STATUS: z.coerce.number().int().min(400).max(599).default(503),
  }),
);
registerSecret(config.TIDEMARK_RISK_API_KEY);
const logger = createLogger('fake-risk-api');
const api = await startFakeRiskApi({
  host: config.TIDEMARK_RISK_API_HOST,
  port: config.TIDEMARK_RISK_API_PORT,
  api_key: config.TIDEMARK_RISK_API_KEY,
  mode: config.TIDEMARK_FAKE_RISK_MODE,
  latency_ms: config.TIDEMARK_FAKE_RISK_LATENCY_MS,
  fail_status: config.TIDEMARK_FAKE_RISK_FAIL_STATUS,
});
logger.info({ url: api.url, mode: api.state.mode, auth: Boolean(config.TIDEMARK_RISK_API_KEY) }, 'fake risk API listening');
const stop = (signal: string) => {
  logger.info({ signal }, 'fake risk API stopping');
  void api.close().then(() => process.exit(0));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
