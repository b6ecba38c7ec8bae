/**
 * The simulator's own HTTP face: the providers' statements API (DESIGN 3.5), the ground
 * truth for tests, run status, a few admin knobs for reconciler tests, and the usual
 * /healthz and /metrics.
 *
 *   GET  /v1/transactions                       the generic provider's statements
 *   GET  /providers/{provider}/v1/transactions  any simulated provider's statements
 *   GET  /truth/balances?view=delivered|complete&policy=sanctioned_blocks|expected&wallet_id=
 *   GET  /truth/transactions?provider=&limit=&offset=
 *   GET  /truth/discrepancies
 *   GET  /truth/kyc
 *   GET  /truth/status
 *   PUT  /admin/statements        (JSON patch of statement knobs)
 *   POST /admin/discrepancies     {"provider","transaction_id","kind": "alter_amount"|"alter_status"|"omit_from_statements"}
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Server } from 'node:http';
import { z } from 'zod';
import { createMetrics, listen, mountOpsRoutes, closeServer } from '@tidemark/common';
import { PROVIDER_IDS, type ProviderId } from '../core/scenario.js';
import { DECISION_POLICIES, type DecisionPolicy, type TransactionRecord, type TruthView } from '../core/truth.js';
import type { Simulation } from '../simulation.js';

const TRUTH_PAGE_MAX = 100_000;

/** JSON-safe view of one transaction of the ground truth. */
export function transactionView(record: TransactionRecord, ledger_status_delivered: string | null, ledger_status_complete: string | null) {
  const { tx } = record;
  return {
    provider: tx.provider,
    transaction_id: tx.transaction_id,
    kind: tx.kind,
    direction: tx.kind === 'deposit' ? 'in' : 'out',
    wallet_id: tx.wallet_id,
    customer_id: tx.customer_id,
    asset: tx.asset,
    network: tx.network,
    amount: tx.amount,
    amount_units: tx.amount_units.toString(),
    decimals: tx.decimals,
    tx_hash: tx.tx_hash,
    from_address: tx.from_address,
    to_address: tx.to_address,
    counterparty: tx.counterparty,
    sanctioned_address: tx.sanctioned_address,
    high_risk_country: tx.high_risk_country,
    approx_usd: (Number(tx.approx_usd_micro / 10_000n) / 100).toFixed(2),
    expected_screening: tx.expected_screening,
    screening_hints: tx.screening_hints,
    discrepancy: tx.discrepancy,
    final_type: tx.final_type,
    status_delivered: ledger_status_delivered,
    status_complete: ledger_status_complete,
    updated_at: new Date(record.updated_at_ms).toISOString(),
    events: record.events.map((e) => ({
      id: e.id,
      type: e.type,
      occurred_at: new Date(e.occurred_at_ms).toISOString(),
      withheld: e.withheld,
      abandoned: e.abandoned,
      acknowledged: e.acknowledged,
    })),
  };
}

const discrepancyBody = z.strictObject({
  provider: z.enum(PROVIDER_IDS),
  transaction_id: z.string().min(1).max(256),
  kind: z.enum(['alter_amount', 'alter_status', 'omit_from_statements']),
});

function sendError(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ error, message });
}

export function createSimulatorApp(sim: Simulation, opts: { service?: string } = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));
  const metrics = createMetrics(opts.service ?? 'provider-simulator');
  const deliveries = metrics.gauge('simulator_deliveries', 'Delivery counters of the running simulation', ['counter']);
  mountOpsRoutes(app, { service: opts.service ?? 'provider-simulator', metrics, readiness: {} });
  app.use('/metrics', (_req, _res, next) => {
    const stats = sim.scheduler.stats;
    for (const [name, value] of Object.entries(stats)) if (typeof value === 'number') deliveries.set({ counter: name }, value);
    next();
  });

  const statementsHandler = (provider: ProviderId) => async (req: Request, res: Response) => {
    const q = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
    const answer = sim.statements(provider, { updated_since: q('updated_since'), cursor: q('cursor'), limit: q('limit') });
    if (answer.delay_ms > 0) await new Promise((resolve) => setTimeout(resolve, answer.delay_ms));
    if (answer.status !== 200) res.set(answer.headers);
    res.status(answer.status).json(answer.body);
  };

  app.get('/v1/transactions', statementsHandler('generic'));
  app.get('/providers/:provider/v1/transactions', (req, res, next) => {
    const provider = req.params.provider as ProviderId;
    if (!PROVIDER_IDS.includes(provider)) return sendError(res, 404, 'unknown_provider', `no simulated provider ${provider}`);
    return statementsHandler(provider)(req, res).catch(next);
  });

  app.get('/truth/balances', (req, res) => {
    const view = (req.query.view ?? 'delivered') as TruthView;
    const policy = (req.query.policy ?? 'sanctioned_blocks') as DecisionPolicy;
    if (view !== 'delivered' && view !== 'complete') return sendError(res, 400, 'invalid_view', 'view must be delivered or complete');
    if (!(policy in DECISION_POLICIES))
      return sendError(res, 400, 'invalid_policy', `policy must be one of ${Object.keys(DECISION_POLICIES).join(', ')}`);
    let wallets = sim.truth.balances({ view, decide: DECISION_POLICIES[policy] });
    if (typeof req.query.wallet_id === 'string') wallets = wallets.filter((w) => w.wallet_id === req.query.wallet_id);
    res.json({ view, policy, namespace: sim.namespace, wallets });
  });

  app.get('/truth/transactions', (req, res) => {
    const limit = Number(req.query.limit ?? 10_000);
    const offset = Number(req.query.offset ?? 0);
    if (!Number.isInteger(limit) || limit < 1 || limit > TRUTH_PAGE_MAX)
      return sendError(res, 400, 'invalid_limit', `limit must be 1..${TRUTH_PAGE_MAX}`);
    if (!Number.isInteger(offset) || offset < 0) return sendError(res, 400, 'invalid_offset', 'offset must be a non-negative integer');
    let records = sim.truth.transactions();
    if (typeof req.query.provider === 'string') records = records.filter((r) => r.tx.provider === req.query.provider);
    const page = records.slice(offset, offset + limit);
    res.json({
      total: records.length,
      offset,
      transactions: page.map((r) => transactionView(r, sim.truth.ledgerStatus(r, 'delivered'), sim.truth.ledgerStatus(r, 'complete'))),
    });
  });

  app.get('/truth/discrepancies', (_req, res) => {
    res.json({ discrepancies: sim.truth.expectedDiscrepancies() });
  });

  app.get('/truth/kyc', (_req, res) => {
    res.json({ customers: sim.truth.kycStatuses() });
  });

  app.get('/truth/status', (_req, res) => {
    res.json({ ...sim.status(), truth: sim.truth.summary(), statement_knobs: sim.statementKnobs });
  });

  app.put('/admin/statements', (req, res) => {
    try {
      res.json(sim.setStatementKnobs(req.body ?? {}));
    } catch (err) {
      const issues =
        err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message;
      sendError(res, 400, 'invalid_knobs', issues);
    }
  });

  app.post('/admin/discrepancies', (req, res) => {
    const parsed = discrepancyBody.safeParse(req.body);
    if (!parsed.success)
      return sendError(res, 400, 'invalid_body', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const ok = sim.truth.injectStatementDiscrepancy(parsed.data.provider, parsed.data.transaction_id, parsed.data.kind);
    if (!ok) return sendError(res, 409, 'not_injectable', 'unknown transaction, or it already carries a discrepancy');
    res.status(201).json({ ...parsed.data, injected: true });
  });

  app.use((_req, res) => sendError(res, 404, 'not_found', 'no such route'));
  // Express error handler: four arguments.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status ?? 500;
    sendError(
      res,
      status,
      status === 400 ? 'invalid_request' : 'internal',
      status === 400 ? 'request body is not valid JSON' : 'internal error',
    );
  });
  return app;
}

export async function startSimulatorServer(
  sim: Simulation,
  host: string,
  port: number,
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = await listen(createSimulatorApp(sim), host, port);
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return { server, url: `http://${host}:${bound}`, close: () => closeServer(server, 5_000) };
}
