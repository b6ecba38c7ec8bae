/**
 * Console configuration: base keys of @tidemark/common plus the console's own, validated
 * once at start-up (a bad value stops the process with a message naming the key).
 */
import { z } from 'zod';
import { baseConfigSchema, loadConfig } from '@tidemark/common';

const port = z.coerce.number().int().min(0).max(65_535);
const ms = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

export const consoleConfigSchema = baseConfigSchema.extend({
  TIDEMARK_CONSOLE_HOST: z.string().min(1).default('127.0.0.1'),
  TIDEMARK_CONSOLE_PORT: port.default(8095),
  TIDEMARK_API_TOKENS: z.string().min(1, 'TIDEMARK_API_TOKENS must list name:token:role entries (the console signs users in with them)'),
  /** The ledger read API (default from TIDEMARK_LEDGER_API_HOST/PORT). */
  TIDEMARK_CONSOLE_LEDGER_URL: z.url().optional(),
  TIDEMARK_LEDGER_API_HOST: z.string().default('127.0.0.1'),
  TIDEMARK_LEDGER_API_PORT: port.default(8090),
  TIDEMARK_INGRESS_HOST: z.string().default('127.0.0.1'),
  TIDEMARK_INGRESS_PORT: port.default(8080),
  TIDEMARK_DEDUPE_PORT: port.default(8082),
  TIDEMARK_SCREENING_PORT: port.default(8083),
  /** `name=url,...` of the services whose /metrics and /readyz the Pipeline page shows (default: the four pipeline services). */
  TIDEMARK_CONSOLE_TARGETS: z.string().optional(),
  TIDEMARK_CONSOLE_SCRAPE_INTERVAL_MS: ms(250, 60_000, 2_000),
  TIDEMARK_CONSOLE_HISTORY_MS: ms(10_000, 3_600_000, 600_000),
  TIDEMARK_CONSOLE_LATENCY_WINDOW_MS: ms(1_000, 600_000, 60_000),
  TIDEMARK_CONSOLE_RATE_WINDOW_MS: ms(1_000, 600_000, 10_000),
  TIDEMARK_CONSOLE_SESSION_IDLE_MS: ms(60_000, 86_400_000, 1_800_000),
  TIDEMARK_CONSOLE_SESSION_LIFETIME_MS: ms(60_000, 7 * 86_400_000, 8 * 3_600_000),
  /** Set behind TLS: the session cookie gets `Secure`. */
  TIDEMARK_CONSOLE_SECURE_COOKIE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** Providers offered on the Reconciliation page. */
  TIDEMARK_CONSOLE_RECONCILE_PROVIDERS: z.string().default('generic'),
  TIDEMARK_RECONCILE_REPORTS_DIR: z.string().min(1).default('reports'),
  /** The reconciler's (read-only) database URL for the runs the console starts; unset: the console's environment's. */
  TIDEMARK_CONSOLE_RECONCILER_DATABASE_URL: z.string().min(1).optional(),
  /**
   * The reconciler's Kafka principal for the runs the console starts (the console's own may only work dead letters);
   * unset: the console's environment's. Never logged.
   */
  TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  /** Jaeger UI base URL for trace links (unset: no links). */
  TIDEMARK_JAEGER_UI_URL: z.url().optional(),
});

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;

export function loadConsoleConfig(env: NodeJS.ProcessEnv = process.env): ConsoleConfig {
  const config = loadConfig(consoleConfigSchema, env);
  if (!config.TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME !== !config.TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD)
    throw new Error('TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME and _PASSWORD: set both or neither');
  return config;
}

/**
 * The environment of the reconciliations the console starts (`tidemark reconcile` child processes): the console's,
 * with the reconciler's read-only database role and Kafka principal where configured.
 */
export function reconcilerEnv(c: ConsoleConfig, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    ...(c.TIDEMARK_CONSOLE_RECONCILER_DATABASE_URL ? { TIDEMARK_DATABASE_URL: c.TIDEMARK_CONSOLE_RECONCILER_DATABASE_URL } : {}),
    ...(c.TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME && c.TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD
      ? {
          TIDEMARK_KAFKA_SASL_USERNAME: c.TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME,
          TIDEMARK_KAFKA_SASL_PASSWORD: c.TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD,
        }
      : {}),
  };
}

export function ledgerUrl(c: ConsoleConfig): string {
  return (c.TIDEMARK_CONSOLE_LEDGER_URL ?? `http://${c.TIDEMARK_LEDGER_API_HOST}:${c.TIDEMARK_LEDGER_API_PORT}`).replace(/\/+$/, '');
}

export interface Target {
  name: string;
  url: string;
}

/** The scrape targets: TIDEMARK_CONSOLE_TARGETS, else the pipeline services on their configured ports. */
export function scrapeTargets(c: ConsoleConfig): Target[] {
  if (c.TIDEMARK_CONSOLE_TARGETS) {
    return c.TIDEMARK_CONSOLE_TARGETS.split(',').map((entry, i) => {
      const at = entry.indexOf('=');
      const name = entry.slice(0, at).trim();
      const url = entry.slice(at + 1).trim();
      if (at <= 0 || !/^https?:\/\/[^\s]+$/.test(url))
        throw new Error(`TIDEMARK_CONSOLE_TARGETS entry ${i + 1}: expected name=http(s)://host:port`);
      return { name, url: url.replace(/\/+$/, '') };
    });
  }
  const local = (p: number) => `http://127.0.0.1:${p}`;
  return [
    { name: 'ingress', url: `http://${c.TIDEMARK_INGRESS_HOST}:${c.TIDEMARK_INGRESS_PORT}` },
    { name: 'dedupe', url: local(c.TIDEMARK_DEDUPE_PORT) },
    { name: 'compliance-screening', url: local(c.TIDEMARK_SCREENING_PORT) },
    { name: 'ledger-projector', url: ledgerUrl(c) },
  ];
}
