/**
 * Wiring shared by the CLI commands and by tests that start a whole simulator: secrets
 * from the environment, the HTTP transport, the statements/truth server.
 */
import type { Server } from 'node:http';
import { loadSanctionsSnapshot } from './adapters/files.js';
import { HttpWebhookSender } from './adapters/http-sender.js';
import { startSimulatorServer } from './adapters/server.js';
import type { SanctionsSnapshot } from './core/sanctions.js';
import { PROVIDER_IDS, type ProviderId, type Scenario } from './core/scenario.js';
import { PROFILES, keysFromSecrets, type ProviderKeys } from './profiles/profiles.js';
import { Simulation, type RatePlan, type SimulationStatus } from './simulation.js';

/** Providers that carry traffic in a scenario. */
export function providersOf(scenario: Scenario): ProviderId[] {
  return PROVIDER_IDS.filter((p) => (scenario.world.providers[p] ?? 0) > 0);
}

/**
 * Signing keys for every provider of the scenario, from the same environment variables
 * ingress reads (TIDEMARK_GENERIC_SECRETS, TIDEMARK_LEDGERPAY_SECRETS, TIDEMARK_CUSTODIAN_X_SECRETS).
 */
export function keysFromEnv(providers: readonly ProviderId[], env: NodeJS.ProcessEnv = process.env): ProviderKeys {
  const keys: ProviderKeys = {};
  const missing: string[] = [];
  for (const provider of providers) {
    const profile = PROFILES[provider];
    const value = env[profile.secrets_env];
    if (!value || value.trim() === '') {
      missing.push(profile.secrets_env);
      continue;
    }
    keys[provider] = keysFromSecrets(profile, value);
  }
  if (missing.length > 0) {
    throw new Error(`missing webhook secrets: set ${missing.join(', ')} (comma-separated, the same values ingress is configured with)`);
  }
  return keys;
}

/** Fresh random secrets for every provider (local sinks, benchmarks); returned as env-style strings. */
export function generateSecrets(providers: readonly ProviderId[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of providers) out[PROFILES[p].secrets_env] = PROFILES[p].generateSecret();
  return out;
}

export interface StartOptions {
  scenario: Scenario;
  /** Ingress base URL; null: generate only (statements and truth, no webhooks). */
  ingress_url: string | null;
  keys?: ProviderKeys;
  sanctions?: SanctionsSnapshot;
  namespace?: string;
  start_ms?: number;
  /** Serve statements/truth on this port (0 = any free port); null = no server. */
  listen?: { host: string; port: number } | null;
  rate?: RatePlan;
  record_truth?: boolean;
  drain_timeout_ms?: number;
  on_progress?: (status: SimulationStatus) => void;
  /** Counterparty risk scores (the spend guard keeps withdrawals off deposits screening may REVIEW). */
  risk_score?: (address: string) => number | null;
}

export interface RunningSimulator {
  sim: Simulation;
  /** Base URL of the statements/truth server, when one was started. */
  url: string | null;
  server: Server | null;
  /** Resolves when delivery is finished (immediately for generate-only). */
  done: Promise<SimulationStatus>;
  stop(): Promise<SimulationStatus>;
}

export async function startSimulator(opts: StartOptions): Promise<RunningSimulator> {
  const sanctions = opts.sanctions ?? loadSanctionsSnapshot();
  let sender: HttpWebhookSender | null = null;
  if (opts.ingress_url) {
    sender = new HttpWebhookSender({
      base_url: opts.ingress_url,
      keys: opts.keys ?? keysFromEnv(providersOf(opts.scenario)),
      connections: opts.scenario.delivery.concurrency,
      timeout_ms: opts.scenario.delivery.timeout_ms,
      sign_with_all_secrets: opts.scenario.delivery.sign_with_all_secrets,
    });
  }
  const sim = new Simulation({
    scenario: opts.scenario,
    sanctions,
    namespace: opts.namespace,
    start_ms: opts.start_ms,
    transport: sender ? (d) => sender!.send(d) : undefined,
    rate: opts.rate,
    record_truth: opts.record_truth,
    drain_timeout_ms: opts.drain_timeout_ms,
    on_progress: opts.on_progress,
    risk_score: opts.risk_score,
  });
  let server: Server | null = null;
  let url: string | null = null;
  let close_server = async () => {};
  if (opts.listen) {
    const started = await startSimulatorServer(sim, opts.listen.host, opts.listen.port);
    server = started.server;
    url = started.url;
    close_server = started.close;
  }
  const abort = new AbortController();
  let done: Promise<SimulationStatus>;
  if (sender) {
    done = sim.run(abort.signal).finally(() => sender!.close());
  } else {
    sim.generateAll();
    done = Promise.resolve(sim.status());
  }
  return {
    sim,
    url,
    server,
    done,
    async stop() {
      abort.abort();
      const status = await done;
      await close_server();
      return status;
    },
  };
}
