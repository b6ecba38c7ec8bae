/**
 * How fast can the simulator itself go on this machine?
 *  - generate+sign: scenario generation, body serialization and HMAC signing, no network.
 *  - http: the same through the real HTTP sender against a trivial sink in a child process.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ScenarioGenerator } from '../core/generate.js';
import type { SanctionsSnapshot } from '../core/sanctions.js';
import type { ProviderId, Scenario } from '../core/scenario.js';
import { PROFILES, type ProviderKeys } from '../profiles/profiles.js';
import { startSimulator } from '../runtime.js';
import type { SimulationStatus } from '../simulation.js';

export interface GenerateSignResult {
  events: number;
  elapsed_ms: number;
  events_per_s: number;
  body_bytes_mean: number;
}

/** Generates `events` events and builds + signs each one's webhook; no network. */
export function benchGenerateSign(
  scenario: Scenario,
  sanctions: SanctionsSnapshot,
  keys: ProviderKeys,
  events: number,
): GenerateSignResult {
  const sized: Scenario = { ...scenario, traffic: { ...scenario.traffic, transactions: Math.max(events, 1) } };
  const generator = new ScenarioGenerator(sized, { start_ms: Date.now(), namespace: 'bench', sanctions });
  let n = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  const timestamp_s = Math.floor(Date.now() / 1000);
  while (n < events) {
    const g = generator.next();
    if (!g) break;
    const profile = PROFILES[g.event.provider];
    const body = profile.body(g.event);
    const headers = profile.sign({ body, event: g.event, keys: keys[g.event.provider as ProviderId]!, timestamp_s, sign_with_all: false });
    if (Object.keys(headers).length === 0) throw new Error('invariant: no signature headers');
    bytes += body.length;
    n++;
  }
  const elapsed_ms = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    events: n,
    elapsed_ms: Math.round(elapsed_ms),
    events_per_s: Math.round((n * 1000) / elapsed_ms),
    body_bytes_mean: Math.round(bytes / Math.max(1, n)),
  };
}

/** Starts the sink in a child process (so it does not share the simulator's event loop). */
export async function startSinkProcess(): Promise<{ url: string; stop: () => Promise<void> }> {
  const main = fileURLToPath(new URL('../main.ts', import.meta.url));
  const child = fork(main, ['sink', '--port', '0', '--ipc'], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sink did not start within 30 s')), 30_000);
    child.once('message', (msg) => {
      clearTimeout(timer);
      resolve((msg as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`sink exited early with code ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Sends as fast as `concurrency` allows for `duration_ms` against a sink process. */
export async function benchHttp(
  scenario: Scenario,
  sanctions: SanctionsSnapshot,
  keys: ProviderKeys,
  opts: { duration_ms: number; concurrency: number; rate_per_s: number },
): Promise<SimulationStatus> {
  const sink = await startSinkProcess();
  try {
    const tuned: Scenario = {
      ...scenario,
      traffic: { ...scenario.traffic, transactions: 10_000_000 },
      delivery: {
        ...scenario.delivery,
        pace: 'asap',
        concurrency: opts.concurrency,
        queue_max: opts.concurrency * 16,
        duplicate_rate: 0,
        late_rate: 0,
        reorder_rate: 0,
      },
    };
    const running = await startSimulator({
      scenario: tuned,
      ingress_url: sink.url,
      keys,
      sanctions,
      listen: null,
      record_truth: false,
      rate: { rate_per_s: opts.rate_per_s, ramp_ms: 0, duration_ms: opts.duration_ms },
      drain_timeout_ms: 10_000,
    });
    return await running.done;
  } finally {
    await sink.stop();
  }
}
