/**
 * The ops console's HTTP layer: server-rendered pages, one small script and stylesheet,
 * sessions from the platform's bearer tokens, and every action checked on the server:
 *   - the session's role (reader / compliance / operator) for the action,
 *   - the per-session CSRF token on every POST (plus SameSite=Strict cookies),
 *   - compliance decisions go to the ledger API *with the user's own token*, so the
 *     ledger enforces the role again and audits who, when and why;
 *   - dead letters use @tidemark/stream's DLQ operations, reconciliation the operator
 *     CLI's own run (audited there) — nothing is reimplemented here.
 *
 * This file wires the app: security headers, assets, body parsing, then each route group
 * (routes/*.ts) in order — sign-in first, then the session + CSRF gate, then the pages —
 * and finally the 404 and error handlers.
 */
import { fileURLToPath } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { mountOpsRoutes } from '@tidemark/common';
import { esc, html } from './html.js';
import { registerCompliance } from './routes/compliance.js';
import { registerDeadLetters } from './routes/dead-letters.js';
import { registerPipeline } from './routes/pipeline.js';
import { registerReconciliation } from './routes/reconciliation.js';
import { registerSessionGate, registerSignIn } from './routes/session.js';
import { DLQ_IDS_PER_ACTION_MAX, FORM_BODY_LIMIT, createContext, page, type ConsoleOptions } from './routes/shared.js';
import { registerTransactions } from './routes/transactions.js';

export {
  COOKIE,
  DLQ_IDS_PER_ACTION_MAX,
  FORM_BODY_LIMIT,
  REASON_LENGTH_MAX,
  SIGN_IN_FAILURES_PER_MINUTE_MAX,
  type ConsoleOptions,
} from './routes/shared.js';

const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

export function createConsole(opts: ConsoleOptions): Express {
  const { logger, metrics } = opts;
  const requests = metrics.counter('console_requests_total', 'Console HTTP requests', ['route', 'status']);
  const ctx = createContext(opts);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  mountOpsRoutes(app, { service: 'console', metrics, readiness: opts.readiness });

  app.use((req, res, next) => {
    res.setHeader(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    );
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-frame-options', 'DENY');
    res.on('finish', () => requests.inc({ route: req.route?.path ?? 'unmatched', status: String(res.statusCode) }));
    next();
  });
  app.use('/assets', express.static(PUBLIC_DIR, { index: false, fallthrough: false, maxAge: 0 }));
  app.use(express.urlencoded({ extended: false, limit: FORM_BODY_LIMIT, parameterLimit: DLQ_IDS_PER_ACTION_MAX + 20 }));

  // Order matters: sign-in is public; everything registered after the gate needs a session (and CSRF on POST).
  registerSignIn(app, ctx);
  registerSessionGate(app, ctx);
  registerPipeline(app, ctx);
  registerCompliance(app, ctx);
  registerTransactions(app, ctx);
  registerDeadLetters(app, ctx);
  registerReconciliation(app, ctx);

  app.use((_req: Request, res: Response) => page(res, 404, 'Not found', html`<p>No such page.</p>`));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : 500;
    if (status === 400 || status === 413) return page(res, status, 'Bad request', html`<p>The request was not acceptable.</p>`);
    logger.error(
      { err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err), path: req.path },
      'console: unexpected error',
    );
    page(
      res,
      502,
      'Something failed',
      html`<p>${esc('The console could not complete this request; see its log. (A service it needs may be unavailable.)')}</p>`,
    );
  });
  return app;
}
