/**
 * `npm start`: infrastructure, topics, every service, demo traffic from the provider
 * simulator, and a live summary. Ctrl-C stops everything it started.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseConfigSchema, loadConfig } from '@tidemark/common';
import {
  consoleReconcilerKafkaEnv,
  kafkaPrincipalOf,
  Platform,
  SERVICE_ENTRIES,
  waitForHttp,
  type ProcessSpec,
  type ServiceName,
} from './platform.js';
import { repoRoot } from './paths.js';
import { applyTopicsFromEnv } from './topics.js';

const SUMMARY_INTERVAL_MS = 5_000;

const PROVIDER_SECRET_ENVS = ['TIDEMARK_GENERIC_SECRETS', 'TIDEMARK_LEDGERPAY_SECRETS', 'TIDEMARK_CUSTODIAN_X_SECRETS'] as const;

/**
 * Secrets for a local run: webhook secrets of every built-in provider and API tokens,
 * taken from the environment, else generated once and kept in .tidemark/secrets
 * (git-ignored, mode 0600). Webhook secrets are never printed.
 */
export async function localSecrets(): Promise<{ provider_secrets: Record<string, string>; api_tokens: string; generated_tokens: boolean }> {
  const dir = join(repoRoot(), '.tidemark', 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'providers.env');
  let stored: Record<string, string> = {};
  if (existsSync(file)) {
    stored = Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }
  if (PROVIDER_SECRET_ENVS.some((k) => !stored[k])) {
    const { generateSecrets } = await import('@tidemark/simulator');
    stored = { ...generateSecrets(['generic', 'ledgerpay', 'custodian-x']), ...stored };
    writeFileSync(
      file,
      Object.entries(stored)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
      { mode: 0o600 },
    );
  }
  const provider_secrets: Record<string, string> = {};
  for (const k of PROVIDER_SECRET_ENVS) provider_secrets[k] = process.env[k] || stored[k] || '';
  let tokens = process.env.TIDEMARK_API_TOKENS ?? '';
  let generated = false;
  if (!tokens) {
    tokens = ['reader', 'compliance', 'operator'].map((role) => `local-${role}:${randomBytes(24).toString('base64url')}:${role}`).join(',');
    generated = true;
  }
  return { provider_secrets, api_tokens: tokens, generated_tokens: generated };
}

export function serviceEnv(opts: {
  provider_secrets: Record<string, string>;
  api_tokens: string;
  otlp?: string | null;
  statements_url?: string;
}): Record<string, string> {
  const env: Record<string, string> = {
    ...opts.provider_secrets,
    TIDEMARK_API_TOKENS: opts.api_tokens,
    TIDEMARK_RISK_API_URL: process.env.TIDEMARK_RISK_API_URL ?? `http://127.0.0.1:${process.env.TIDEMARK_RISK_API_PORT ?? '8099'}`,
  };
  if (opts.otlp) env.TIDEMARK_OTLP_ENDPOINT = opts.otlp;
  if (opts.statements_url) env.TIDEMARK_GENERIC_STATEMENTS_URL = opts.statements_url;
  return env;
}

/** The services' /metrics ports under `npm start` (their own port settings, else the defaults). */
export function localMetricsPorts(
  env: NodeJS.ProcessEnv = process.env,
): Record<'ingress' | 'dedupe' | 'compliance-screening' | 'ledger-projector', number[]> {
  const port = (name: string, fallback: number) => [Number(env[name] ?? fallback)];
  return {
    ingress: port('TIDEMARK_INGRESS_PORT', 8080),
    dedupe: port('TIDEMARK_DEDUPE_PORT', 8082),
    'compliance-screening': port('TIDEMARK_SCREENING_PORT', 8083),
    'ledger-projector': port('TIDEMARK_LEDGER_API_PORT', 8090),
  };
}

/** The Prometheus stack name of `npm start`'s services (the `stack` label of their series). */
export const LOCAL_STACK = 'local';

/** The services, each as its own instance 1; those with state connect as their own database roles. */
function startServices(
  supervise: (spec: ProcessSpec) => void,
  databaseUrlOf: (s: 'dedupe' | 'compliance-screening' | 'ledger-projector') => string,
): void {
  const databaseEnv = (s: ServiceName): Record<string, string> =>
    s === 'dedupe' || s === 'compliance-screening' || s === 'ledger-projector' ? { TIDEMARK_DATABASE_URL: databaseUrlOf(s) } : {};
  const services: ServiceName[] = ['risk-api', 'ingress', 'dedupe', 'compliance-screening', 'ledger-projector'];
  for (const s of services)
    supervise({
      name: s,
      entry: SERVICE_ENTRIES[s],
      env: { TIDEMARK_INSTANCE_ID: `${s}-1`, ...databaseEnv(s) },
      kafka_principal: kafkaPrincipalOf(s),
    });
}

/**
 * A supervisor's job: a service that ends with a failure (the stream runtime exits 70 when it cannot
 * repair its consumer) is started again; its log says why it ended.
 */
function superviseLocally(platform: Platform): (spec: ProcessSpec) => void {
  platform.onRestart = (name, exit) => console.log(`${name} exited (${exit}); started again (log: ${platform.log_dir})`);
  return (spec) => void platform.start({ ...spec, restart_on_failure: true });
}

export async function startPlatform(opts: { demo: boolean }): Promise<void> {
  const infra = await import('@tidemark/local-infra');
  console.log(
    'starting infrastructure (first run downloads Kafka and Apicurio and installs PostgreSQL and Prometheus; later runs are cached)...',
  );
  await infra.infraUp({ log: (line: string) => console.log(`  ${line}`) });
  const endpoints = infra.infraEndpoints();
  console.log('applying topics and schemas...');
  await applyTopicsFromEnv(process.env.TIDEMARK_TOPIC_PREFIX ?? '');

  const secrets = await localSecrets();
  // While Jaeger builds, the services already export to where it will listen: the exporter drops
  // those spans quietly until it is up, and traces appear from then on.
  const jaegerComing = endpoints.jaeger_otlp_traces_url !== null || endpoints.jaeger_build !== null;
  const otlp = process.env.TIDEMARK_OTLP_ENDPOINT ?? (jaegerComing ? endpoints.jaeger_planned.otlp_traces_url : null);
  const statementsPort = process.env.TIDEMARK_SIMULATOR_PORT ?? '8070';
  const platform = new Platform(serviceEnv({ ...secrets, otlp, statements_url: `http://127.0.0.1:${statementsPort}` }));
  const supervise = superviseLocally(platform);

  // Least privilege: the services with state connect as their own roles (deploy/local/src/db-roles.ts); the
  // others (ingress, the risk API) get no database URL at all (Platform).
  const admin_database_url = loadConfig(baseConfigSchema).TIDEMARK_DATABASE_URL;
  await infra.provisionDatabaseAt(admin_database_url);
  startServices(supervise, (s) => infra.serviceDatabaseUrl(admin_database_url, s));
  infra.registerScrapeTargets(LOCAL_STACK, localMetricsPorts());
  const ingressUrl = `http://${process.env.TIDEMARK_INGRESS_HOST ?? '127.0.0.1'}:${process.env.TIDEMARK_INGRESS_PORT ?? '8080'}`;
  const ledgerUrl = `http://${process.env.TIDEMARK_LEDGER_API_HOST ?? '127.0.0.1'}:${process.env.TIDEMARK_LEDGER_API_PORT ?? '8090'}`;
  const consoleUrl = `http://${process.env.TIDEMARK_CONSOLE_HOST ?? '127.0.0.1'}:${process.env.TIDEMARK_CONSOLE_PORT ?? '8095'}`;
  supervise({
    name: 'console',
    entry: SERVICE_ENTRIES.console,
    env: {
      // Its dead-letter state, as its own role (dlq_ops.stream_dlq_state only).
      TIDEMARK_DATABASE_URL: infra.serviceDatabaseUrl(admin_database_url, 'console'),
      // Reconciliations started from the console run as the reconciler: its read-only role and its Kafka principal.
      TIDEMARK_CONSOLE_RECONCILER_DATABASE_URL: infra.serviceDatabaseUrl(admin_database_url, 'reconciler'),
      ...consoleReconcilerKafkaEnv(),
      ...(endpoints.jaeger_query_url ? { TIDEMARK_JAEGER_UI_URL: endpoints.jaeger_query_url } : {}),
    },
    // Its dead-letter actions run as its own principal (tidemark-console: only what they need).
    kafka_principal: kafkaPrincipalOf('console'),
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping services...');
    infra.unregisterScrapeTargets(LOCAL_STACK);
    await platform.stopAll('SIGTERM');
    console.log('services stopped (the infrastructure keeps running: `npx tidemark infra down` stops it)');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  await waitForHttp(`${ingressUrl}/readyz`, 120_000);
  await waitForHttp(`${ledgerUrl}/readyz`, 120_000);
  await waitForHttp(`${consoleUrl}/healthz`, 60_000);

  const reader = secrets.api_tokens
    .split(',')
    .map((t) => t.split(':'))
    .find((t) => t[2] === 'reader');
  console.log('\nTidemark is running:');
  console.log(`  ingress           ${ingressUrl}/webhooks/generic   (metrics ${ingressUrl}/metrics)`);
  console.log(`  ops console       ${consoleUrl}/   (sign in with an API token below)`);
  console.log(`  ledger read API   ${ledgerUrl}/v1/wallets/<wallet_id>/balances`);
  console.log(`  Jaeger UI         ${jaegerLine(endpoints, otlp, infra.describeJaegerBuild)}`);
  const prom = endpoints.prometheus_url;
  console.log(
    `  Prometheus        ${prom ? `${prom}  (alerts ${prom}/classic/alerts, targets ${prom}/classic/targets)` : 'not running (see `npx tidemark infra status`)'}`,
  );
  if (prom) {
    console.log('  dashboard         (Prometheus graph pages; more in docs/observability.md)');
    for (const panel of infra.DASHBOARD_PANELS.slice(0, 3)) console.log(`    ${panel.title}: ${infra.graphUrl(prom, panel.expr)}`);
  }
  console.log(`  logs              ${platform.log_dir}`);
  console.log(`  webhook secrets   in .tidemark/secrets/providers.env (or TIDEMARK_<PROVIDER>_SECRETS)`);
  if (secrets.generated_tokens) {
    console.log('  API tokens (generated for this run; set TIDEMARK_API_TOKENS to choose your own):');
    for (const [name, token, role] of secrets.api_tokens.split(',').map((t) => t.split(':')))
      console.log(`    ${role?.padEnd(10)} ${name}: ${token}`);
  }

  if (opts.demo) {
    platform.start({
      name: 'simulator',
      entry: 'test/simulator/src/main.ts',
      args: ['demo', '--ingress-url', ingressUrl, '--statements-port', statementsPort],
    });
    console.log(`  simulator         demo traffic; statements API http://127.0.0.1:${statementsPort}/v1/transactions`);
  }
  console.log('\nCtrl-C stops everything.\n');
  await liveSummary(
    ingressUrl,
    ledgerUrl,
    `http://127.0.0.1:${statementsPort}`,
    reader?.[1] ?? '',
    () => stopping,
    jaegerWatcher(endpoints, otlp),
  );
}

type Endpoints = Awaited<ReturnType<(typeof import('@tidemark/local-infra'))['infraEndpoints']>>;

function jaegerLine(e: Endpoints, otlp: string | null, describeJaegerBuild: (p: NonNullable<Endpoints['jaeger_build']>) => string): string {
  if (e.jaeger_query_url) return `${e.jaeger_query_url}  (traces exported to ${otlp ?? '-'})`;
  if (e.jaeger_build && otlp) {
    return `${e.jaeger_planned.query_url} once built — building in the background (${describeJaegerBuild(e.jaeger_build)}); traces are exported once it is up, this summary says when`;
  }
  return `not available: ${e.jaeger_unavailable_reason ?? 'see README'}`;
}

const JAEGER_PROGRESS_EVERY_MS = 30_000;
const JAEGER_START_GRACE_MS = 60_000;

/** While Jaeger builds: a progress line every 30 s, and one line when it is up and traces flow. */
function jaegerWatcher(initial: Endpoints, otlp: string | null): () => Promise<string | null> {
  if (initial.jaeger_query_url || !initial.jaeger_build || !otlp) return async () => null;
  let done = false;
  let lastProgress = Date.now();
  let notBuildingSince: number | null = null;
  return async () => {
    if (done) return null;
    const { infraEndpoints, describeJaegerBuild } = await import('@tidemark/local-infra');
    const e = infraEndpoints();
    if (e.jaeger_query_url) {
      try {
        const res = await fetch(`${e.jaeger_query_url}/api/services`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) {
          done = true;
          return `Jaeger is up: ${e.jaeger_query_url} — traces are exported from now on (to ${otlp})`;
        }
      } catch {
        /* starting */
      }
      return null;
    }
    if (!e.jaeger_build) {
      // Built: the build process is starting it (health within JAEGER_START_GRACE_MS), or it failed.
      notBuildingSince ??= Date.now();
      if (Date.now() - notBuildingSince < JAEGER_START_GRACE_MS) return null;
      done = true;
      return `Jaeger not available: ${e.jaeger_unavailable_reason ?? 'build stopped'}`;
    }
    if (Date.now() - lastProgress < JAEGER_PROGRESS_EVERY_MS) return null;
    lastProgress = Date.now();
    return `Jaeger build: ${describeJaegerBuild(e.jaeger_build)}`;
  };
}

async function metricValue(url: string, name: string, filter?: RegExp): Promise<number> {
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(2_000) })).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name) || line.startsWith('#')) continue;
      if (filter && !filter.test(line)) continue;
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(value)) sum += value;
    }
    return sum;
  } catch {
    return Number.NaN;
  }
}

async function liveSummary(
  ingressUrl: string,
  ledgerUrl: string,
  simulatorUrl: string,
  token: string,
  stopped: () => boolean,
  jaeger: () => Promise<string | null>,
): Promise<void> {
  let lastAccepted = 0;
  let wallet: string | null = null;
  let lastAt = Date.now();
  while (!stopped()) {
    await new Promise((resolve) => setTimeout(resolve, SUMMARY_INTERVAL_MS));
    const accepted = await metricValue(`${ingressUrl}/metrics`, 'tidemark_ingress_requests_total', /outcome="accepted"/);
    const screened = await metricValue(
      `http://127.0.0.1:${process.env.TIDEMARK_SCREENING_PORT ?? '8083'}/metrics`,
      'tidemark_screening_decisions_total',
    );
    const projected = await metricValue(`${ledgerUrl}/metrics`, 'ledger_events_total');
    const now = Date.now();
    const rate = ((accepted - lastAccepted) * 1000) / (now - lastAt);
    lastAccepted = accepted;
    lastAt = now;
    let balances = '';
    try {
      if (!wallet) {
        const truth = (await (await fetch(`${simulatorUrl}/truth/balances`, { signal: AbortSignal.timeout(2_000) })).json()) as {
          wallets?: Array<{ wallet_id: string }>;
        };
        wallet = truth.wallets?.[0]?.wallet_id ?? null;
      }
      if (!wallet) throw new Error('no wallet yet');
      const res = await fetch(`${ledgerUrl}/v1/wallets/${encodeURIComponent(wallet)}/balances`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await res.json()) as { balances?: Array<{ asset: string; available: string; pending: string; held: string }> };
      balances = (body.balances ?? [])
        .slice(0, 3)
        .map((b) => `${b.asset} avail=${b.available} pend=${b.pending} held=${b.held}`)
        .join('; ');
    } catch {
      /* ledger not answering yet */
    }
    const jaegerNews = await jaeger().catch(() => null);
    if (jaegerNews) console.log(`[${new Date().toISOString().slice(11, 19)}] ${jaegerNews}`);
    console.log(
      `[${new Date().toISOString().slice(11, 19)}] accepted=${accepted} (${Number.isFinite(rate) ? rate.toFixed(0) : '-'}/s) screened=${screened} projected=${projected}` +
        (balances ? ` | ${wallet}: ${balances}` : ''),
    );
  }
}
