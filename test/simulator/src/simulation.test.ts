/**
 * The simulator as a provider, over real local HTTP: a receiver that verifies every
 * signature with independent libraries and misbehaves (500s, 503 + Retry-After, hangs past
 * the timeout, "accepted but answered 500") gets every event at least once, with
 * duplicates and out of order — and a ledger fed from what it received equals the truth.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGERPAY_EVENT_TYPES } from '@tidemark/ingress';
import { loadSanctionsSnapshot } from './adapters/files.js';
import { HttpWebhookSender, parseRetryAfter_ms } from './adapters/http-sender.js';
import { ReferenceLedger } from './core/effects.js';
import { Rng } from './core/rng.js';
import { parseScenario } from './core/scenario.js';
import { expectedOrAllow } from './core/truth.js';
import { PROFILES, keysFromSecrets } from './profiles/profiles.js';
import { generateSecrets } from './runtime.js';
import { Simulation } from './simulation.js';

const sanctions = loadSanctionsSnapshot();
const secrets = generateSecrets(['generic', 'ledgerpay', 'custodian-x']);
const stripe = new Stripe('sk_test_simulator_receiver');

interface Received {
  provider: string;
  id: string;
  type: string;
  transaction_id: string | null;
  wallet_id: string;
  asset: string | null;
  amount_units: bigint | null;
}

interface GenericBody {
  id: string;
  type: string;
  data: { transaction_id?: string; wallet_id: string; asset?: string };
}
interface LedgerpayBody {
  id: string;
  type: string;
  data: { object: { id: string; object: string; wallet: string; currency?: string } };
}

/** Verifies with independent implementations and extracts the facts a ledger needs. */
function verifyAndParse(provider: string, body: string, headers: Record<string, string | string[] | undefined>): Received {
  const h = (name: string) => String(headers[name] ?? '');
  if (provider === 'generic') {
    const p = new Webhook(secrets.TIDEMARK_GENERIC_SECRETS!).verify(body, {
      'webhook-id': h('webhook-id'),
      'webhook-timestamp': h('webhook-timestamp'),
      'webhook-signature': h('webhook-signature'),
    }) as GenericBody;
    return {
      provider,
      id: p.id,
      type: p.type,
      transaction_id: p.data.transaction_id ?? null,
      wallet_id: p.data.wallet_id,
      asset: p.data.asset ?? null,
      amount_units: null,
    };
  }
  if (provider === 'ledgerpay') {
    const p = stripe.webhooks.constructEvent(
      body,
      h('ledgerpay-signature'),
      secrets.TIDEMARK_LEDGERPAY_SECRETS!,
    ) as unknown as LedgerpayBody;
    const o = p.data.object;
    const is_customer = o.object === 'customer';
    return {
      provider,
      id: p.id,
      // The receiving side's own table (ingress), so the simulator's types are checked against it.
      type: LEDGERPAY_EVENT_TYPES[p.type]!,
      transaction_id: is_customer ? null : o.id,
      wallet_id: o.wallet,
      asset: o.currency ?? null,
      amount_units: null,
    };
  }
  const expected = createHmac('sha256', Buffer.from(secrets.TIDEMARK_CUSTODIAN_X_SECRETS!, 'utf8'))
    .update(`${h('x-timestamp')}.${body}`)
    .digest('hex');
  if (expected !== h('x-signature')) throw new Error('custodian-x signature mismatch');
  const p = JSON.parse(body);
  if (p.kind === 'customer.kyc_updated')
    return {
      provider,
      id: p.notification_id,
      type: 'kyc.status_changed',
      transaction_id: null,
      wallet_id: p.customer.vault_id,
      asset: null,
      amount_units: null,
    };
  const t = p.transfer;
  const direction = t.direction === 'INCOMING' ? 'deposit' : 'withdrawal';
  const state = (
    {
      DETECTED: 'detected',
      CONFIRMED: 'confirmed',
      FAILED: 'failed',
      REVERSED: 'reversed',
      SUBMITTED: 'requested',
      BROADCAST: 'broadcast',
    } as Record<string, string>
  )[t.state]!;
  return {
    provider,
    id: p.notification_id,
    type: `${direction}.${state}`,
    transaction_id: t.id,
    wallet_id: t.vault_id,
    asset: t.asset_id,
    amount_units: BigInt(t.amount_base_units),
  };
}

describe('simulator over HTTP against a misbehaving receiver', () => {
  let server: Server;
  let base_url: string;
  const arrivals: Received[] = [];
  const answers: Record<string, number> = {};
  const bad_signatures: string[] = [];
  const rng = new Rng(4242);

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const provider = (req.url ?? '').replace('/webhooks/', '');
        const body = Buffer.concat(chunks).toString('utf8');
        let parsed: Received;
        try {
          parsed = verifyAndParse(provider, body, req.headers);
        } catch (err) {
          bad_signatures.push(`${provider}: ${(err as Error).message}`);
          res.writeHead(401).end();
          return;
        }
        const roll = rng.float();
        const answer = (status: number, headers: Record<string, string> = {}) => {
          answers[status] = (answers[status] ?? 0) + 1;
          res.writeHead(status, { 'content-type': 'application/json', ...headers }).end('{}');
        };
        if (roll < 0.12) return answer(500);
        if (roll < 0.16) return answer(503, { 'retry-after': '0' });
        if (roll < 0.2) {
          // Durably accepted, but the answer never arrives in time: the provider must retry.
          arrivals.push(parsed);
          setTimeout(() => answer(202), 400);
          return;
        }
        if (roll < 0.24) {
          arrivals.push(parsed);
          return answer(500);
        }
        arrivals.push(parsed);
        answer(202);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base_url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('delivers every event at least once; duplicates and reordering do not change the resulting ledger', async () => {
    const scenario = parseScenario({
      name: 'http',
      seed: 8,
      world: { customers: 10, providers: { generic: 2, ledgerpay: 1, 'custodian-x': 1 } },
      traffic: { transactions: 250, transactions_per_s: 200 },
      lifecycle: {
        block_time_scale: 0.0001,
        detected_updates_max: 1,
        deposit_reversal_rate: 0.1,
        withdrawal_fail_rate: 0.15,
        reversal_delay_ms: [0, 20],
      },
      compliance: { sanctioned_rate: 0.1, high_risk_country_rate: 0.1 },
      delivery: {
        pace: 'asap',
        concurrency: 12,
        timeout_ms: 200,
        duplicate_rate: 0.2,
        duplicate_delay_ms: [0, 100],
        reorder_rate: 0.2,
        late_rate: 0.1,
        late_delay_ms: [10, 200],
        retry: { attempts_max: 30, delay_ms_min: 5, delay_ms_max: 200, factor: 2, jitter: 0.2 },
      },
    });
    const keys = Object.fromEntries(Object.values(PROFILES).map((p) => [p.id, keysFromSecrets(p, secrets[p.secrets_env]!)]));
    const sender = new HttpWebhookSender({ base_url, keys, connections: 12, timeout_ms: 200, sign_with_all_secrets: false });
    const sim = new Simulation({ scenario, sanctions, transport: (d) => sender.send(d), drain_timeout_ms: 30_000 });
    const status = await sim.run();
    await sender.close();

    expect(bad_signatures).toEqual([]);
    expect(status.phase).toBe('done');
    expect(status.delivery.abandoned).toBe(0);
    expect(status.delivery.errors).toBeGreaterThan(0); // timeouts happened
    expect(status.delivery.retried).toBeGreaterThan(0);
    expect(status.delivery.status_counts['500']).toBeGreaterThan(0);
    expect(status.delivery.status_counts['503']).toBeGreaterThan(0);
    expect(status.ack_latency.count).toBe(status.delivery.acknowledged);

    const generated = sim.truth.transactions().flatMap((r) => r.events.map((e) => e.id));
    const kyc = sim.truth.kycStatuses();
    const distinct = new Set(arrivals.map((a) => a.id));
    expect(distinct.size).toBe(sim.truth.event_count);
    for (const id of generated) expect(distinct.has(id)).toBe(true);
    expect(kyc.length).toBeGreaterThan(0);
    expect(arrivals.length).toBeGreaterThan(distinct.size * 1.15); // duplicates arrived
    expect(sim.truth.summary().acknowledged).toBe(sim.truth.event_count);

    // Out of order within transactions: some transaction's later event arrived before an earlier one.
    const order = new Map<string, number>();
    for (const r of sim.truth.transactions()) r.events.forEach((e, i) => order.set(e.id, i));
    const last_step = new Map<string, number>();
    let overtaken = 0;
    for (const a of arrivals) {
      if (!a.transaction_id) continue;
      const step = order.get(a.id)!;
      const key = `${a.provider}|${a.transaction_id}`;
      if (step < (last_step.get(key) ?? -1)) overtaken++;
      last_step.set(key, Math.max(step, last_step.get(key) ?? -1));
    }
    expect(overtaken).toBeGreaterThan(5);

    // A ledger applying arrivals as they came (with every duplicate) ends at the truth.
    const decide = (provider: string) => (id: string) => expectedOrAllow(sim.truth.transaction(provider, id)!.tx);
    const ledgers = new Map<string, ReferenceLedger>();
    for (const a of arrivals) {
      let ledger = ledgers.get(a.provider);
      if (!ledger) ledgers.set(a.provider, (ledger = new ReferenceLedger(decide(a.provider))));
      const amount_units = a.transaction_id ? sim.truth.transaction(a.provider, a.transaction_id)!.tx.amount_units : null;
      if (a.amount_units !== null) expect(a.amount_units).toBe(amount_units);
      ledger.apply({
        id: a.id,
        type: a.type as never,
        transaction_id: a.transaction_id,
        wallet_id: a.wallet_id,
        asset: a.asset,
        amount_units,
      });
    }
    let lines = 0;
    for (const wallet of sim.truth.balances({ decide: expectedOrAllow })) {
      for (const line of wallet.balances) {
        const b = ledgers.get(wallet.provider)!.buckets(line.wallet_id, line.asset);
        expect(`${b.pending}/${b.available}/${b.held}`).toBe(`${line.units.pending}/${line.units.available}/${line.units.held}`);
        lines++;
      }
    }
    expect(lines).toBeGreaterThan(10);
  }, 60_000);

  it('gives up after attempts_max against a receiver that always fails, and says so in the truth', async () => {
    const scenario = parseScenario({
      name: 'down',
      world: { customers: 2, providers: { generic: 1 } },
      traffic: { transactions: 3, kind_weights: { deposit: 1, withdrawal: 0, kyc: 0 } },
      delivery: {
        pace: 'asap',
        duplicate_rate: 0,
        reorder_rate: 0,
        late_rate: 0,
        timeout_ms: 200,
        retry: { attempts_max: 3, delay_ms_min: 1, delay_ms_max: 5 },
      },
    });
    const keys = { generic: keysFromSecrets(PROFILES.generic, secrets.TIDEMARK_GENERIC_SECRETS!) };
    const sender = new HttpWebhookSender({
      base_url: 'http://127.0.0.1:9',
      keys,
      connections: 2,
      timeout_ms: 200,
      sign_with_all_secrets: false,
    });
    const sim = new Simulation({ scenario, sanctions, transport: (d) => sender.send(d) });
    const status = await sim.run();
    await sender.close();
    expect(status.delivery.abandoned).toBe(sim.truth.event_count);
    expect(status.delivery.attempts).toBe(3 * sim.truth.event_count);
    expect(status.delivery.status_counts.connection_refused).toBe(3 * sim.truth.event_count);
    expect(sim.truth.summary().abandoned).toBe(sim.truth.event_count);
    expect(sim.truth.balances()).toEqual([]);
  });

  it('parses Retry-After in seconds and as an HTTP date', () => {
    expect(parseRetryAfter_ms('3', 0)).toBe(3_000);
    expect(parseRetryAfter_ms(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter_ms('soon', 0)).toBeNull();
    expect(parseRetryAfter_ms(undefined, 0)).toBeNull();
  });

  it('rate plan: a linear ramp, then the target rate', () => {
    const plan = { rate_per_s: 100, ramp_ms: 2_000, duration_ms: 10_000 };
    expect(Simulation.allowedByRate(plan, 0)).toBe(0);
    expect(Simulation.allowedByRate(plan, 1_000)).toBe(25);
    expect(Simulation.allowedByRate(plan, 2_000)).toBe(100);
    expect(Simulation.allowedByRate(plan, 3_000)).toBe(200);
    expect(Simulation.allowedByRate(plan, 60_000)).toBe(900);
  });
});
