/**
 * The local Prometheus (started by `infra up`) evaluates the repo's alert rules against a running
 * platform: stopping the ledger-projector while events keep arriving fires TidemarkConsumerStalled
 * through Prometheus' API, and restarting it resolves the alert. The rule is the real one from
 * deploy/prometheus/alerts.yml, copied with `for: 10s` (instead of 2m) into a test-only rule file so
 * the test takes ~3 minutes. Also checks that the ledger's latency histogram reaches Prometheus
 * with trace-id exemplars (query_exemplars API).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '@tidemark/ingress';
import { generateSecrets } from '@tidemark/simulator';
import { eventually } from '../harness/eventually.js';
import { Stack } from '../harness/stack.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const PORT_BASE = 19_560;
const ALERT = 'TidemarkConsumerStalled';
const TEST_FOR = '10s';
const SEND_INTERVAL_MS = 250;
/** Upper bounds: the stalled rule's 1 m rate window + `for:` + scrape/evaluation intervals (5 s each), with slack. */
const FIRING_TIMEOUT_MS = 150_000;
const RESOLVE_TIMEOUT_MS = 120_000;

type Infra = typeof import('@tidemark/local-infra');

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

async function promQuery<T>(base: string, path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
  return body.data;
}

function waitFor<T>(what: string, timeout_ms: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  return eventually(what, probe, { timeout_ms, interval_ms: 2_000 });
}

describe.skipIf(SKIP)('Prometheus evaluates the alert rules against a running platform', () => {
  const secrets = generateSecrets(['generic']);
  const secret = secrets.TIDEMARK_GENERIC_SECRETS!.split(',')[0]!;
  let infra: Infra;
  let prom: string;
  let stack: Stack;
  let ruleFile = '';
  let sending = false;
  let sender: Promise<void> = Promise.resolve();
  let sent = 0;

  async function send(n: number): Promise<void> {
    const id = `${stack.id}_${n}`;
    const body = JSON.stringify({
      id: `evt_alert_${id}`,
      type: 'deposit.detected',
      occurred_at: new Date().toISOString(),
      data: {
        transaction_id: `tx_alert_${id}`,
        wallet_id: `wal_alert_${stack.id}_${n % 5}`,
        asset: 'BTC',
        network: 'bitcoin',
        amount: '0.01000000',
      },
    });
    const headers = signWebhook({ type: 'standard-webhooks' }, secret, body, {
      timestamp_s: Math.floor(Date.now() / 1000),
      delivery_id: `msg_${id}`,
    });
    const res = await fetch(`${stack.ingress_url}/webhooks/generic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    await res.text();
    if (res.status !== 202 && res.status !== 200) throw new Error(`webhook ${n}: HTTP ${res.status}`);
  }

  function startSending(): void {
    sending = true;
    sender = (async () => {
      while (sending) {
        await send(sent++);
        await new Promise((r) => setTimeout(r, SEND_INTERVAL_MS));
      }
    })();
  }

  const alertsOfStack = async (): Promise<PromAlert[]> =>
    (await promQuery<{ alerts: PromAlert[] }>(prom, '/api/v1/alerts')).alerts.filter(
      (a) => a.labels.alertname === ALERT && a.labels.stack === stack.id && a.labels.rules === ruleFile,
    );

  beforeAll(async () => {
    infra = await import('@tidemark/local-infra');
    const url = infra.infraEndpoints().prometheus_url;
    if (!url) throw new Error('Prometheus is not running: `npx tidemark infra up` starts it (it is part of the required infrastructure)');
    prom = url;
    stack = new Stack({ port_base: PORT_BASE, otlp_endpoint: null }, secrets);
    ruleFile = `test-${stack.id}`;
    const derived = infra.deriveRules(readFileSync(infra.alertRulesFile(), 'utf8'), {
      alerts: [ALERT],
      for: TEST_FOR,
      group_suffix: `-${ruleFile}`,
      labels: { rules: ruleFile },
    });
    await infra.installRuleFile(ruleFile, derived);
    const groups = await promQuery<{ groups: Array<{ name: string; rules: Array<{ name: string; duration: number }> }> }>(
      prom,
      '/api/v1/rules',
      { type: 'alert' },
    );
    const mine = groups.groups.find((g) => g.name.endsWith(ruleFile));
    expect(mine?.rules.map((r) => [r.name, r.duration])).toEqual([[ALERT, 10]]);

    await stack.setUp();
    await stack.startAll();
    await waitFor('Prometheus to scrape the stack (up == 1 for all four services)', 60_000, async () => {
      const r = await promQuery<{ result: unknown[] }>(prom, '/api/v1/query', { query: `up{stack="${stack.id}"} == 1` });
      return r.result.length === 4;
    });
  }, 300_000);

  afterAll(async () => {
    sending = false;
    await sender.catch(() => undefined);
    await stack?.tearDown();
    if (ruleFile) await infra?.removeRuleFile(ruleFile).catch(() => undefined);
  }, 120_000);

  it(`fires ${ALERT} while the ledger-projector is stopped and resolves after its restart`, async () => {
    startSending();
    await waitFor('the ledger to settle records (rate > 0 in Prometheus)', 90_000, async () => {
      const r = await promQuery<{ result: unknown[] }>(prom, '/api/v1/query', {
        query: `sum(rate(tidemark_stream_records_total{stack="${stack.id}", service="ledger-projector"}[1m])) > 0`,
      });
      return r.result.length === 1;
    });
    // Right after start a stage's records counter appears a scrape or two after its upstream's, so
    // the alert may be pending briefly (the real `for: 2m` covers that): start from a quiet state.
    await waitFor(`no ${ALERT} pending or firing while everything runs`, 60_000, async () => (await alertsOfStack()).length === 0);

    const stopped_at = Date.now();
    await stack.platform.stop('ledger-projector#1', 'SIGTERM');
    const firing = await waitFor(`${ALERT} to fire`, FIRING_TIMEOUT_MS, async () =>
      (await alertsOfStack()).find((a) => a.state === 'firing'),
    );
    const fired_after_s = (Date.now() - stopped_at) / 1000;
    expect(firing.labels).toMatchObject({ service: 'ledger-projector', severity: 'page', stack: stack.id });
    expect(Number(firing.value)).toBeGreaterThan(0); // the upstream's event rate
    // Only the stopped stage stalls: dedupe and screening keep consuming.
    expect((await alertsOfStack()).map((a) => a.labels.service)).toEqual(['ledger-projector']);

    const restarted_at = Date.now();
    stack.startService('ledger-projector');
    await waitFor(`${ALERT} to resolve`, RESOLVE_TIMEOUT_MS, async () => (await alertsOfStack()).length === 0);
    const resolved_after_s = (Date.now() - restarted_at) / 1000;
    console.log(
      `${ALERT} (for: ${TEST_FOR}): firing ${fired_after_s.toFixed(0)} s after the stop, resolved ${resolved_after_s.toFixed(0)} s after the restart; ${sent} webhooks sent`,
    );
  }, 420_000);

  it('keeps trace-id exemplars of the ledger latency histogram (query_exemplars)', async () => {
    const data = await waitFor('exemplars of tidemark_received_to_projected_seconds', 30_000, async () => {
      const end = Date.now() / 1000;
      const d = await promQuery<
        Array<{ seriesLabels: Record<string, string>; exemplars: Array<{ labels: Record<string, string>; value: string }> }>
      >(prom, '/api/v1/query_exemplars', {
        query: `tidemark_received_to_projected_seconds_bucket{stack="${stack.id}"}`,
        start: String(end - 600),
        end: String(end),
      });
      return d.length > 0 ? d : null;
    });
    const exemplars = data.flatMap((s) => s.exemplars);
    expect(exemplars.length).toBeGreaterThan(0);
    for (const e of exemplars) {
      expect(e.labels.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(Number(e.value)).toBeGreaterThanOrEqual(0);
    }
    expect(data.every((s) => s.seriesLabels.event_type === 'deposit.detected')).toBe(true);
  }, 60_000);
});
