/**
 * The ledger read API (DESIGN 3.3), a thin HTTP layer over the read model and the release:
 *   GET  /v1/wallets/{wallet_id}/balances                      (reader)
 *   GET  /v1/transactions/{provider}/{transaction_id}          (reader)
 *   POST /v1/transactions/{provider}/{transaction_id}/release  (compliance; audited; with four-eyes on,
 *        a release above TIDEMARK_FOUR_EYES_USD answers 202 awaiting_second_approval until a
 *        different compliance officer releases it too)
 * and, additions for the ops console (DESIGN 3.3 unchanged):
 *   POST /v1/transactions/{provider}/{transaction_id}/escalate (compliance; reason required; audited)
 *   POST /v1/transactions/{provider}/{transaction_id}/notes    (compliance; reason required; audited)
 *   GET  /v1/transactions/{provider}/{transaction_id}/actions  (reader; the decision history)
 *   GET  /v1/transactions/{provider}/{transaction_id}/postings (reader)
 *   GET  /v1/transactions/{provider}/{transaction_id}/balance-changes (reader; wallet balance before/after each event)
 *   GET  /v1/compliance/queue?state=&decision=&wallet_id=&asset=&rule=&min_age_s=&limit= (reader)
 *   GET  /v1/compliance/actions?limit=                         (reader; latest decisions)
 * plus /healthz, /readyz, /metrics (no token). Every /v1 request needs a bearer token:
 * none or unknown → 401, wrong role → 403. Errors are {"error", "message"} and never
 * echo a token.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import { type Logger, type Metrics, type ReadinessCheck, currentTraceId, mountOpsRoutes } from '@tidemark/common';
import { InfrastructureError } from '@tidemark/stream';
import { type ApiRole, type ApiToken, authenticate, bearerToken, hasRole } from './auth.js';
import { IDENTIFIER_LENGTH_MAX } from './core/validate.js';
import { EscalationRejectedError, ReleaseRejectedError } from './core/transaction.js';
import {
  QUEUE_PAGE_SIZE_MAX,
  getBalances,
  getTransaction,
  listBalanceChanges,
  listComplianceActions,
  listComplianceQueue,
  listPostings,
} from './db/read.js';
import type { FourEyesPolicy } from './core/four-eyes.js';
import {
  FourEyesError,
  type ReleaseRequest,
  TransactionNotFoundError,
  escalateTransaction,
  insertOutbox,
  noteTransaction,
  releaseAudit,
  releaseTransaction,
} from './db/release.js';
import { isConnectionError } from './db/errors.js';
import { AUDIT_TOPIC, SERVICE_NAME } from './topics.js';

export const RELEASE_BODY_LIMIT = '16kb';
export const RELEASE_NOTE_LENGTH_MAX = 500;
/** Escalations and notes need a reason of 1..REASON_LENGTH_MAX characters. */
export const REASON_LENGTH_MAX = 500;

export interface ApiOptions {
  pool: Pool;
  tokens: readonly ApiToken[];
  logger: Logger;
  metrics: Metrics;
  readiness: Record<string, ReadinessCheck>;
  /** Called after a release committed records to the outbox (e.g. flush it now). */
  on_outbox?: () => void;
  /** Four-eyes release above a USD amount (null/absent: one officer releases). */
  four_eyes?: FourEyesPolicy | null;
}

interface Authed {
  token: ApiToken;
  request_id: string;
}

function sendError(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ error, message });
}

function param(req: Request, name: string): string | null {
  const value = req.params[name];
  return typeof value === 'string' && value.length > 0 && value.length <= IDENTIFIER_LENGTH_MAX ? value : null;
}

/** The `provider` / `transaction_id` path parameters, or null after answering 400. */
function transactionParams(req: Request, res: Response): { provider: string; transaction_id: string } | null {
  const provider = param(req, 'provider');
  const transaction_id = param(req, 'transaction_id');
  if (provider && transaction_id) return { provider, transaction_id };
  sendError(res, 400, 'invalid_request', `provider and transaction_id must be 1-${IDENTIFIER_LENGTH_MAX} characters`);
  return null;
}

/** Bearer-token authentication of every /v1 request (401 otherwise); counts every request by route and status. */
function authenticateRequest(tokens: readonly ApiToken[], requests: ReturnType<Metrics['counter']>) {
  return (req: Request, res: Response, next: NextFunction) => {
    const request_id = randomUUID();
    res.setHeader('x-request-id', request_id);
    res.on('finish', () => requests.inc({ route: req.route?.path ?? 'unmatched', status: String(res.statusCode) }));
    const presented = bearerToken(req.header('authorization'));
    if (!presented) {
      res.setHeader('www-authenticate', 'Bearer realm="tidemark-ledger"');
      return sendError(res, 401, 'unauthorized', 'an Authorization: Bearer <token> header is required');
    }
    const token = authenticate(tokens, presented);
    if (!token) {
      res.setHeader('www-authenticate', 'Bearer realm="tidemark-ledger", error="invalid_token"');
      return sendError(res, 401, 'unauthorized', 'the bearer token is not valid');
    }
    res.locals.auth = { token, request_id } satisfies Authed;
    next();
  };
}

/** Express error handler (4 arguments): malformed JSON bodies, database outages, bugs. */
function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : 500;
    if (status === 400 || status === 413)
      return sendError(res, status, status === 413 ? 'payload_too_large' : 'invalid_body', 'the request body is not acceptable JSON');
    if (err instanceof InfrastructureError || isConnectionError(err)) {
      res.setHeader('retry-after', '5');
      return sendError(res, 503, 'unavailable', 'the ledger database is unreachable; retry later');
    }
    logger.error(
      { err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err), path: req.path },
      'ledger api: unexpected error',
    );
    sendError(res, 500, 'internal', 'unexpected error; see the service log');
  };
}

/** What the route groups share: the options, the role check and the audit of a rejected release. */
interface ApiContext {
  opts: ApiOptions;
  pool: Pool;
  logger: Logger;
  requireRole: (role: ApiRole) => (req: Request, res: Response, next: NextFunction) => void;
  auditReleaseRejection: (req: Request, auth: Authed, reason: string, message: string) => Promise<void>;
}

function createContext(opts: ApiOptions): ApiContext {
  const { pool, logger } = opts;

  async function auditReleaseRejection(req: Request, auth: Authed, reason: string, message: string): Promise<void> {
    const provider = String(req.params.provider ?? '').slice(0, IDENTIFIER_LENGTH_MAX);
    const transaction_id = String(req.params.transaction_id ?? '').slice(0, IDENTIFIER_LENGTH_MAX);
    const record = releaseAudit(
      { provider, transaction_id, released_by: auth.token.name, request_id: auth.request_id, trace_id: currentTraceId() },
      'release_rejected',
      { message: message.slice(0, 300) },
      reason,
      Date.now(),
    );
    try {
      await insertOutbox(pool, [{ topic: AUDIT_TOPIC, key: `${provider}:${transaction_id}`, value: record }]);
      opts.on_outbox?.();
    } catch (err) {
      logger.error(
        { err: err instanceof Error ? err.message : String(err), provider, transaction_id },
        'ledger api: could not record the audit of a rejected release',
      );
    }
  }

  const requireRole = (role: ApiRole) => (req: Request, res: Response, next: NextFunction) => {
    const auth = res.locals.auth as Authed;
    if (!hasRole(auth.token, role)) {
      if (role === 'compliance' && req.path.endsWith('/release'))
        void auditReleaseRejection(req, auth, 'forbidden', `token ${auth.token.name} has role ${auth.token.role}`);
      return sendError(res, 403, 'forbidden', `this request needs the ${role} role`);
    }
    next();
  };

  return { opts, pool, logger, requireRole, auditReleaseRejection };
}

/** The required `reason` of an escalation or a note, or null after answering 400. */
function requiredReason(req: Request, res: Response): string | null {
  const reason = typeof req.body?.reason === 'string' ? req.body.reason.trim() : '';
  if (reason.length === 0 || reason.length > REASON_LENGTH_MAX) {
    sendError(res, 400, 'invalid_request', `a reason of 1-${REASON_LENGTH_MAX} characters is required`);
    return null;
  }
  return reason;
}

/** GET balances and a transaction. */
function registerLookupRoutes(app: Express, ctx: ApiContext): void {
  const { pool, requireRole } = ctx;

  app.get('/v1/wallets/:wallet_id/balances', requireRole('reader'), async (req, res) => {
    const wallet_id = param(req, 'wallet_id');
    if (!wallet_id) return sendError(res, 400, 'invalid_request', `wallet_id must be 1-${IDENTIFIER_LENGTH_MAX} characters`);
    res.json(await getBalances(pool, wallet_id));
  });

  app.get('/v1/transactions/:provider/:transaction_id', requireRole('reader'), async (req, res) => {
    const params = transactionParams(req, res);
    if (!params) return;
    const { provider, transaction_id } = params;
    const view = await getTransaction(pool, provider, transaction_id);
    if (!view) return sendError(res, 404, 'not_found', `transaction ${provider}/${transaction_id} is not in the ledger`);
    res.json(view);
  });
}

/** POST .../release (compliance; audited; four-eyes above the threshold). */
function registerReleaseRoute(app: Express, ctx: ApiContext): void {
  const { opts, pool, logger, requireRole, auditReleaseRejection } = ctx;

  app.post(
    '/v1/transactions/:provider/:transaction_id/release',
    requireRole('compliance'),
    express.json({ limit: RELEASE_BODY_LIMIT, strict: true }),
    async (req, res) => {
      const auth = res.locals.auth as Authed;
      const params = transactionParams(req, res);
      if (!params) return;
      const { provider, transaction_id } = params;
      // `reason` (console) or `note` (DESIGN 3.3): optional here, recorded in the decision history.
      const given = typeof req.body?.reason === 'string' ? req.body.reason : typeof req.body?.note === 'string' ? req.body.note : undefined;
      const note = given?.trim().slice(0, RELEASE_NOTE_LENGTH_MAX) || undefined;
      try {
        const outcome = await releaseTransaction(
          pool,
          {
            provider,
            transaction_id,
            released_by: auth.token.name,
            request_id: auth.request_id,
            trace_id: currentTraceId(),
            reason: note ?? null,
          },
          undefined,
          opts.four_eyes ?? null,
        );
        if (outcome.outcome !== 'already_released') opts.on_outbox?.();
        logger.info(
          { provider, transaction_id, released_by: auth.token.name, outcome: outcome.outcome, note_present: note !== undefined },
          'ledger: release',
        );
        const view = await getTransaction(pool, provider, transaction_id);
        res.status(outcome.outcome === 'awaiting_second_approval' ? 202 : 200).json({
          outcome: outcome.outcome,
          amount_released: outcome.amount_released,
          ...(outcome.requested_by ? { requested_by: outcome.requested_by } : {}),
          transaction: view,
        });
      } catch (err) {
        if (err instanceof TransactionNotFoundError) {
          void auditReleaseRejection(req, auth, 'not_found', err.message);
          return sendError(res, 404, 'not_found', err.message);
        }
        if (err instanceof ReleaseRejectedError || err instanceof FourEyesError) {
          void auditReleaseRejection(req, auth, err.code, err.message);
          return sendError(res, 409, err.code, err.message);
        }
        throw err;
      }
    },
  );
}

/**
 * A compliance action on one transaction (POST .../escalate, .../notes): the path and the
 * required reason checked (400), then `act` answers; a transaction not in the ledger is 404.
 */
function postComplianceAction(
  app: Express,
  ctx: ApiContext,
  action: 'escalate' | 'notes',
  act: (request: ReleaseRequest & { reason: string }, res: Response) => Promise<void>,
): void {
  app.post(
    `/v1/transactions/:provider/:transaction_id/${action}`,
    ctx.requireRole('compliance'),
    express.json({ limit: RELEASE_BODY_LIMIT, strict: true }),
    async (req, res) => {
      const auth = res.locals.auth as Authed;
      const params = transactionParams(req, res);
      if (!params) return;
      const reason = requiredReason(req, res);
      if (reason === null) return;
      const request = { ...params, released_by: auth.token.name, request_id: auth.request_id, trace_id: currentTraceId(), reason };
      try {
        await act(request, res);
      } catch (err) {
        if (err instanceof TransactionNotFoundError) return sendError(res, 404, 'not_found', err.message);
        throw err;
      }
    },
  );
}

/** POST .../escalate and .../notes (compliance; reason required; audited). */
function registerEscalateAndNoteRoutes(app: Express, ctx: ApiContext): void {
  const { opts, pool, logger } = ctx;

  postComplianceAction(app, ctx, 'escalate', async (request, res) => {
    const { provider, transaction_id, released_by } = request;
    let outcome: Awaited<ReturnType<typeof escalateTransaction>>;
    try {
      outcome = await escalateTransaction(pool, request);
    } catch (err) {
      if (err instanceof EscalationRejectedError) return sendError(res, 409, err.code, err.message);
      throw err;
    }
    if (outcome.outcome === 'escalated') opts.on_outbox?.();
    logger.info({ provider, transaction_id, escalated_by: released_by, outcome: outcome.outcome }, 'ledger: escalation');
    res.json({
      outcome: outcome.outcome,
      amount_moved: outcome.amount_moved,
      transaction: await getTransaction(pool, provider, transaction_id),
    });
  });

  postComplianceAction(app, ctx, 'notes', async (request, res) => {
    await noteTransaction(pool, request);
    opts.on_outbox?.();
    const { provider, transaction_id } = request;
    res.status(201).json({ outcome: 'noted', actions: await listComplianceActions(pool, { provider, transaction_id }) });
  });
}

/** GET .../actions, .../postings, .../balance-changes (reader). */
function registerHistoryRoutes(app: Express, ctx: ApiContext): void {
  const { pool, requireRole } = ctx;
  const histories: Array<[path: string, field: string, list: (provider: string, transaction_id: string) => Promise<unknown>]> = [
    ['actions', 'actions', (provider, transaction_id) => listComplianceActions(pool, { provider, transaction_id })],
    ['postings', 'postings', (provider, transaction_id) => listPostings(pool, provider, transaction_id)],
    ['balance-changes', 'changes', (provider, transaction_id) => listBalanceChanges(pool, provider, transaction_id)],
  ];
  for (const [path, field, list] of histories) {
    app.get(`/v1/transactions/:provider/:transaction_id/${path}`, requireRole('reader'), async (req, res) => {
      const params = transactionParams(req, res);
      if (!params) return;
      const { provider, transaction_id } = params;
      res.json({ provider, transaction_id, [field]: await list(provider, transaction_id) });
    });
  }
}

/** GET /v1/compliance/queue and /v1/compliance/actions (reader). */
function registerQueueRoutes(app: Express, ctx: ApiContext): void {
  const { pool, requireRole } = ctx;

  app.get('/v1/compliance/queue', requireRole('reader'), async (req, res) => {
    const q = (name: string): string | undefined => {
      const v = req.query[name];
      return typeof v === 'string' && v.length > 0 && v.length <= IDENTIFIER_LENGTH_MAX ? v : undefined;
    };
    const state = q('state') ?? 'open';
    const decision = q('decision');
    const min_age_s = q('min_age_s') === undefined ? undefined : Number(q('min_age_s'));
    const limit = q('limit') === undefined ? undefined : Number(q('limit'));
    if (state !== 'open' && state !== 'all') return sendError(res, 400, 'invalid_request', 'state must be open or all');
    if (decision !== undefined && decision !== 'REVIEW' && decision !== 'BLOCK')
      return sendError(res, 400, 'invalid_request', 'decision must be REVIEW or BLOCK');
    if (min_age_s !== undefined && !(Number.isFinite(min_age_s) && min_age_s >= 0))
      return sendError(res, 400, 'invalid_request', 'min_age_s must be a non-negative number');
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= QUEUE_PAGE_SIZE_MAX))
      return sendError(res, 400, 'invalid_request', `limit must be 1-${QUEUE_PAGE_SIZE_MAX}`);
    const items = await listComplianceQueue(pool, {
      state,
      decision,
      wallet_id: q('wallet_id'),
      asset: q('asset'),
      rule: q('rule'),
      min_age_s,
      limit,
    });
    res.json({ items });
  });

  app.get('/v1/compliance/actions', requireRole('reader'), async (req, res) => {
    const raw = typeof req.query.limit === 'string' ? Number(req.query.limit) : 100;
    const limit = Number.isInteger(raw) && raw >= 1 ? Math.min(raw, 500) : 100;
    res.json({ actions: await listComplianceActions(pool, { limit }) });
  });
}

export function createApi(opts: ApiOptions): Express {
  const { tokens, logger, metrics } = opts;
  const requests = metrics.counter('ledger_api_requests_total', 'Ledger read API requests', ['route', 'status']);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  mountOpsRoutes(app, { service: SERVICE_NAME, metrics, readiness: opts.readiness });

  app.use('/v1', authenticateRequest(tokens, requests));

  // Registered in the original order (Express matches routes in registration order).
  const ctx = createContext(opts);
  registerLookupRoutes(app, ctx);
  registerReleaseRoute(app, ctx);
  registerEscalateAndNoteRoutes(app, ctx);
  registerHistoryRoutes(app, ctx);
  registerQueueRoutes(app, ctx);

  app.use((_req: Request, res: Response) => sendError(res, 404, 'not_found', 'no such route'));

  app.use(errorHandler(logger));
  return app;
}
