/**
 * End to end: provider simulator → ingress → dedupe → compliance-screening →
 * ledger-projector, every service a real process on real Kafka, registry and Postgres.
 *  - the ledger equals the simulator's ground truth exactly (given the decisions made);
 *  - transactions touching sanctioned addresses are BLOCKed and their funds held;
 *  - the reconciler's run over the window is clean (exit 0);
 *  - one trace holds spans of ingress, dedupe, compliance-screening and ledger-projector,
 *    ending with the ledger's Postgres write span, each stage's span tagged with the event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '@tidemark/common';
import { generateSecrets, keysFromEnv, loadScenario, startSimulator, type RunningSimulator } from '@tidemark/simulator';
import { liveJaeger } from '../harness/jaeger.js';
import { Stack } from '../harness/stack.js';
import { OtlpReceiver, jaegerSpansInTraceOf, type TraceSpan } from '../harness/otlp-receiver.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const PROJECTION_TIMEOUT_MS = 240_000;

interface TxView {
  status: string;
  screening: { decision: string; reasons: unknown[] };
  history: Array<{ event_id: string }>;
}
interface BalancesView {
  wallet_id: string;
  balances: Array<{ asset: string; pending: string; available: string; held: string }>;
}

describe.skipIf(SKIP)('end to end: simulator → all services → ledger', () => {
  const secrets = generateSecrets(['generic', 'ledgerpay', 'custodian-x']);
  const receiver = new OtlpReceiver();
  let jaeger: string | null = null;
  let stack: Stack;
  let sim: RunningSimulator;

  beforeAll(async () => {
    jaeger = (await liveJaeger())?.query_url ?? null;
    let otlp: string;
    if (jaeger) {
      const { infraEndpoints } = await import('@tidemark/local-infra');
      otlp = (infraEndpoints() as { jaeger_otlp_traces_url: string }).jaeger_otlp_traces_url;
    } else {
      await receiver.start();
      otlp = receiver.url;
    }
    stack = new Stack({ port_base: 18080, otlp_endpoint: otlp, env: { TIDEMARK_DEDUPE_RETRY_DELAYS_MS: '200,1000,3000' } }, secrets);
    await stack.setUp();
    await stack.startAll();
    sim = await startSimulator({
      scenario: loadScenario('e2e'),
      ingress_url: stack.ingress_url,
      keys: keysFromEnv(['generic', 'ledgerpay', 'custodian-x'], secrets),
      listen: { host: '127.0.0.1', port: 0 },
    });
    const status = await sim.done;
    expect(status).toBeDefined();
  }, 600_000);

  afterAll(async () => {
    await sim?.stop().catch(() => undefined);
    await stack?.tearDown();
    await receiver.stop();
  }, 120_000);

  it(
    'projects every transaction and the ledger equals the simulator truth exactly',
    async () => {
      const transactions = sim.sim.truth.transactions();
      expect(transactions.length).toBeGreaterThan(100);
      // Wait until every delivered transaction is known to the ledger with all of its acknowledged events.
      const deadline = Date.now() + PROJECTION_TIMEOUT_MS;
      const decisions = new Map<string, string>();
      for (const record of transactions) {
        const acked = record.events.filter((e) => e.acknowledged);
        if (acked.length === 0) continue;
        const path = `/v1/transactions/${record.tx.provider}/${encodeURIComponent(record.tx.transaction_id)}`;
        for (;;) {
          const { status, body } = await stack.getJson<TxView>(path);
          const applied = new Set(status === 200 ? body.history.map((h) => h.event_id) : []);
          if (acked.every((e) => applied.has(e.id))) {
            decisions.set(`${record.tx.provider}:${record.tx.transaction_id}`, body.screening.decision);
            break;
          }
          if (Date.now() > deadline) throw new Error(`transaction ${path} not fully projected in time (HTTP ${status})`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }

      const truth = sim.sim.truth.balances({
        view: 'delivered',
        decide: (tx) => (decisions.get(`${tx.provider}:${tx.transaction_id}`) ?? 'ALLOW') as 'ALLOW' | 'REVIEW' | 'BLOCK',
      });
      let compared = 0;
      for (const wallet of truth) {
        const { status, body } = await stack.getJson<BalancesView>(`/v1/wallets/${encodeURIComponent(wallet.wallet_id)}/balances`);
        expect(status).toBe(200);
        for (const line of wallet.balances) {
          const got = body.balances.find((b) => b.asset === line.asset) ?? { pending: '0', available: '0', held: '0' };
          for (const bucket of ['pending', 'available', 'held'] as const) {
            expect(
              new Decimal(got[bucket]).eq(new Decimal(line[bucket])),
              `${wallet.wallet_id} ${line.asset} ${bucket}: ledger ${got[bucket]} truth ${line[bucket]}`,
            ).toBe(true);
          }
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(20);

      // Sanctioned addresses are blocked and their deposits held.
      const sanctioned = transactions.filter((r) => r.tx.sanctioned_address && r.events.some((e) => e.acknowledged));
      expect(sanctioned.length).toBeGreaterThan(0);
      for (const r of sanctioned) expect(decisions.get(`${r.tx.provider}:${r.tx.transaction_id}`), r.tx.transaction_id).toBe('BLOCK');
    },
    PROJECTION_TIMEOUT_MS + 60_000,
  );

  it('the ledger invariants hold', async () => {
    const { ledgerCheck } = await import('@tidemark/ledger-projector');
    const pg = (await import('pg')).default;
    const pool = new pg.Pool({ connectionString: stack.database_url, max: 2 });
    try {
      const report = (await ledgerCheck(pool)) as { ok: boolean; violations: unknown[] };
      expect(report.violations).toEqual([]);
      expect(report.ok).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('the reconciler finds nothing to report (exit 0)', async () => {
    const { reconcileCommand } = await import('@tidemark/reconciler');
    const previous = { ...process.env };
    Object.assign(process.env, { TIDEMARK_TOPIC_PREFIX: stack.prefix, TIDEMARK_DATABASE_URL: stack.database_url });
    try {
      for (const provider of ['generic', 'ledgerpay', 'custodian-x']) {
        const code = await reconcileCommand({
          provider,
          since: new Date(Date.now() - 3600_000).toISOString(),
          statementsUrl: `${sim.url}/providers/${provider}`,
          json: false,
          report: `reports/e2e-reconcile-${provider}.json`,
        });
        expect(code, `reconcile ${provider}`).toBe(0);
      }
    } finally {
      process.env = previous;
    }
  }, 180_000);

  it('exports the latency histograms per event type, depth gauges and readiness', async () => {
    const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const ledger = await scrape(stack.portOf('ledger-projector'));
    const screening = await scrape(stack.portOf('compliance-screening'));
    const dedupe = await scrape(stack.portOf('dedupe'));
    // prom-client orders labels le, service, event_type: match them in any order.
    expect(ledger).toMatch(/tidemark_received_to_projected_seconds_bucket\{(?=[^}]*event_type="deposit.confirmed")(?=[^}]*le="0.25")/);
    expect(ledger).toMatch(/tidemark_occurred_to_projected_seconds_count\{[^}]*event_type="deposit.detected"/);
    expect(screening).toMatch(/tidemark_received_to_screened_seconds_bucket\{(?=[^}]*event_type="deposit.confirmed")(?=[^}]*le="0.005")/);
    for (const [name, text] of [
      ['ledger-projector', ledger],
      ['compliance-screening', screening],
      ['dedupe', dedupe],
    ] as const) {
      expect(text, name).toMatch(/tidemark_stream_ladder_depth\{(?=[^}]*rung="1")/);
      expect(text, name).toMatch(/^tidemark_stream_dlq_depth\{[^}]*\} \d+$/m);
      expect(text, name).toMatch(/^tidemark_ready\{[^}]*\} 1$/m);
    }
    // Every projected event was observed once: the histogram's count is at least the number of events applied.
    const counts = [...ledger.matchAll(/^tidemark_received_to_projected_seconds_count\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
  });

  it('one trace follows an event through every service', async () => {
    const record = sim.sim.truth.transactions().find((r) => r.tx.provider === 'generic' && r.events.some((e) => e.acknowledged))!;
    const event_id = record.events.find((e) => e.acknowledged)!.id;
    const wanted = ['ingress', 'dedupe', 'compliance-screening', 'ledger-projector'];
    const isPgWrite = (s: TraceSpan) =>
      s.service === 'ledger-projector' && s.name === 'ledger-projector pg.project_batch' && s.attributes['db.system'] === 'postgresql';
    // Redeliveries of the event make more traces (ingress + dedupe only); the one that was projected must hold every stage.
    const completeTrace = (spans: TraceSpan[]): TraceSpan[] | null => {
      for (const trace_id of new Set(spans.map((s) => s.trace_id))) {
        const trace = spans.filter((s) => s.trace_id === trace_id);
        const services = new Set(trace.map((s) => s.service));
        if (wanted.every((w) => services.has(w)) && trace.some(isPgWrite)) return trace;
      }
      return null;
    };
    let spans: TraceSpan[] = [];
    let trace: TraceSpan[] | null = null;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      spans = jaeger ? await jaegerSpansInTraceOf(jaeger, event_id) : receiver.spansInTraceOf(event_id);
      trace = completeTrace(spans);
      if (trace) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const where = `traces of ${event_id} (${jaeger ? 'jaeger' : 'otlp receiver'}): ${spans.map((s) => `${s.trace_id.slice(0, 8)}:${s.service}/${s.name}`).join(', ')}`;
    expect(trace, `no trace holds spans of ${wanted.join(', ')} and the Postgres write; ${where}`).not.toBeNull();
    // The ledger's Postgres write is in the event's trace, tagged with the event and its batch.
    const pgSpan = trace!.find(isPgWrite)!;
    expect(pgSpan.attributes['tidemark.event_id'], where).toBe(event_id);
    expect(Number(pgSpan.attributes['tidemark.db_batch_size']), where).toBeGreaterThanOrEqual(1);
    // Every stage's span carries the event's provider, type, wallet and id.
    for (const service of wanted) {
      const tagged = trace!.filter((s) => s.service === service && s.attributes['tidemark.event_id'] === event_id);
      expect(tagged.length, `${service} span tagged with ${event_id}; ${where}`).toBeGreaterThan(0);
      for (const s of tagged) {
        expect(s.attributes['tidemark.provider'], `${service}/${s.name}`).toBe(record.tx.provider);
        expect(s.attributes['tidemark.event_type'], `${service}/${s.name}`).toBeTruthy();
        expect(s.attributes['tidemark.wallet_id'], `${service}/${s.name}`).toBe(record.tx.wallet_id);
      }
    }
  }, 60_000);
});
