/**
 * The reconciler's configuration: validated once, every limit named with its unit.
 * Per-provider settings are looked up by name: TIDEMARK_<PROVIDER>_STATEMENTS_URL and
 * (optional) TIDEMARK_<PROVIDER>_STATEMENTS_TOKEN, PROVIDER being the id upper-cased with
 * non-alphanumerics as '_' (custodian-x -> TIDEMARK_CUSTODIAN_X_STATEMENTS_URL).
 */
import { z } from 'zod';
import { ConfigError, loadServiceConfig } from '@tidemark/common';

const int = (min: number, max: number, def: number) => z.coerce.number().int().min(min).max(max).default(def);

export const reconcilerConfigShape = {
  /** Items requested per statements page. */
  TIDEMARK_RECONCILE_PAGE_LIMIT: int(1, 10_000, 500),
  TIDEMARK_RECONCILE_REQUEST_TIMEOUT_MS: int(100, 300_000, 15_000),
  TIDEMARK_RECONCILE_RETRY_ATTEMPTS_MAX: int(1, 20, 6),
  TIDEMARK_RECONCILE_RETRY_DELAY_MS_MIN: int(1, 60_000, 250),
  TIDEMARK_RECONCILE_RETRY_DELAY_MS_MAX: int(1, 300_000, 10_000),
  /** When --until is not given, the window ends this long before now (events still in the pipeline). */
  TIDEMARK_RECONCILE_GRACE_MS: int(0, 86_400_000, 0),
  /** Conservation: events that entered less than this long ago are in flight, not judged. */
  TIDEMARK_RECONCILE_SETTLE_MS: int(0, 86_400_000, 30_000),
  /** Conservation: an event in the retry ladder longer than this is stuck. */
  TIDEMARK_RECONCILE_STUCK_MS: int(1_000, 30 * 86_400_000, 900_000),
  TIDEMARK_RECONCILE_AUDIT_TIMEOUT_MS: int(1_000, 3_600_000, 300_000),
  /** The audit read starts this long before --since (record timestamps vs at_ms skew). */
  TIDEMARK_RECONCILE_AUDIT_LOOKBACK_MS: int(0, 86_400_000, 300_000),
  /** Conservation: events open at once (entered, no outcome yet), at most. */
  TIDEMARK_RECONCILE_OPEN_EVENTS_MAX: int(1_000, 50_000_000, 1_000_000),
  /** Page size of ledger and staging reads. */
  TIDEMARK_RECONCILE_CHUNK_SIZE: int(10, 10_000, 1_000),
  TIDEMARK_RECONCILE_REPORTS_DIR: z.string().min(1).default('reports'),
  /** Scheduled mode: serve /healthz, /readyz, /metrics on this port (unset: no server). */
  TIDEMARK_RECONCILER_OPS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  TIDEMARK_RECONCILER_OPS_HOST: z.string().default('127.0.0.1'),
  /** Scheduled mode: stop after this many runs (unset: until SIGINT/SIGTERM). */
  TIDEMARK_RECONCILE_RUNS_MAX: z.coerce.number().int().min(1).max(1_000_000).optional(),
} as const;

export type ReconcilerConfig = ReturnType<typeof loadReconcilerConfig>;

export function loadReconcilerConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadServiceConfig(reconcilerConfigShape, env);
  if (config.TIDEMARK_RECONCILE_RETRY_DELAY_MS_MIN > config.TIDEMARK_RECONCILE_RETRY_DELAY_MS_MAX) {
    throw new ConfigError(
      'invalid configuration:\n  TIDEMARK_RECONCILE_RETRY_DELAY_MS_MIN: must not exceed TIDEMARK_RECONCILE_RETRY_DELAY_MS_MAX',
    );
  }
  return config;
}

const PROVIDER_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function validateProviderId(provider: string): string {
  if (!PROVIDER_ID.test(provider)) {
    throw new ConfigError(
      `--provider must be a provider profile id (lower-case letters, digits, '-' or '_', e.g. generic); got ${JSON.stringify(provider)}`,
    );
  }
  return provider;
}

export function providerEnvPrefix(provider: string): string {
  return `TIDEMARK_${provider.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The statements base URL: the flag, else TIDEMARK_<PROVIDER>_STATEMENTS_URL; validated http(s). */
export function resolveStatementsUrl(provider: string, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const name = `${providerEnvPrefix(provider)}_STATEMENTS_URL`;
  const value = flag ?? env[name];
  if (!value) {
    throw new ConfigError(`no statements API URL for provider ${provider}: pass --statements-url <url> or set ${name}`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${flag ? '--statements-url' : name} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${flag ? '--statements-url' : name} must be an http(s) URL`);
  }
  return value;
}

export function statementsToken(provider: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[`${providerEnvPrefix(provider)}_STATEMENTS_TOKEN`];
  return value && value.length > 0 ? value : undefined;
}
