/**
 * The ops console's HTTP layer: server-rendered pages, one small script and stylesheet,
 * sessions from the platform's bearer tokens, and every action checked on the server:
 *   - the session's role (reader / compliance / operator) for the action,
 *   - the per-session CSRF token on every POST (plus SameSite=Strict cookies),
 *   - compliance decisions go to the ledger API *with the user's own token*, so the
 *     ledger enforces the role again and audits who, when and why;
 *   - dead letters use @tidemark/stream's DLQ operations, reconciliation the operator
 *     CLI's own run (audited there) — nothing is reimplemented here.
 */
import { fileURLToPath } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { type Logger, type Metrics, type ReadinessCheck, mountOpsRoutes } from '@tidemark/common';
import { authenticate, type ApiToken } from '@tidemark/ledger-projector';
import {
  listDeadLetters,
  parseDeadLetterId,
  purgeDeadLetters,
  replayDeadLetters,
  showDeadLetter,
  type DlqContext,
  type DlqFilter,
} from '@tidemark/stream';
import { may, safeEqual, type ConsoleAction, type Session, SessionStore } from './core/session.js';
import { Html, actionsForm, age, csrfField, decisionBadge, esc, html, layout, txLink } from './html.js';
import type { PipelineMonitor } from './pipeline-monitor.js';
import type { Reconciliations } from './reconciliation.js';

export const COOKIE = 'tidemark_console';
export const FORM_BODY_LIMIT = '16kb';
export const REASON_LENGTH_MAX = 500;
export const SIGN_IN_FAILURES_PER_MINUTE_MAX = 20;
export const DLQ_IDS_PER_ACTION_MAX = 500;
const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

export interface ConsoleOptions {
  tokens: readonly ApiToken[];
  sessions: SessionStore;
  ledger_url: string;
  monitor: PipelineMonitor;
  dlq: () => Promise<DlqContext>;
  reconciliations: Reconciliations;
  reconcile_providers: string[];
  jaeger_ui_url?: string;
  secure_cookie: boolean;
  logger: Logger;
  metrics: Metrics;
  readiness: Record<string, ReadinessCheck>;
}

interface Locals {
  session: Session;
}

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.header('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function str(value: unknown, max = 256): string | undefined {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= max ? value.trim() : undefined;
}

const DONE_MESSAGES: Record<string, string> = {
  released: 'Released: the held funds are available.',
  already_released: 'Already released.',
  awaiting_second_approval: 'Release requested: above the four-eyes amount, a second compliance officer must release it too.',
  escalated: 'Escalated to BLOCK: the funds stay held.',
  already_blocked: 'Already BLOCKed.',
  noted: 'Note recorded.',
};

export function createConsole(opts: ConsoleOptions): Express {
  const { sessions, logger, metrics } = opts;
  const requests = metrics.counter('console_requests_total', 'Console HTTP requests', ['route', 'status']);
  const actions = metrics.counter('console_actions_total', 'Console actions', ['action', 'outcome']);
  let signInFailures = { minute: 0, count: 0 };

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

  const page = (res: Response, status: number, title: string, body: Html, extra: { session?: Session | null; current?: string; flash?: string | null; error?: string | null } = {}) => {
    res.status(status).type('html').setHeader('cache-control', 'no-store');
    res.send(layout({ title, session: extra.session ?? (res.locals as Partial<Locals>).session ?? null, current: extra.current, flash: extra.flash, error: extra.error }, body));
  };

  // ---- sign in / out ----------------------------------------------------------------

  const signInForm = () =>
    html`<form method="post" action="/login" class="signin"><p>Sign in with your Tidemark API token (roles: reader, compliance, operator).</p>
<label for="token">API token</label><input id="token" name="token" type="password" required autocomplete="current-password" autofocus maxlength="1024">
<button type="submit">Sign in</button></form>`;

  app.get('/login', (req, res) => {
    if (sessions.get(cookieOf(req, COOKIE))) return res.redirect(303, '/pipeline');
    page(res, 200, 'Sign in', signInForm(), { session: null });
  });

  app.post('/login', (req, res) => {
    const minute = Math.floor(Date.now() / 60_000);
    if (signInFailures.minute !== minute) signInFailures = { minute, count: 0 };
    if (signInFailures.count >= SIGN_IN_FAILURES_PER_MINUTE_MAX) {
      res.setHeader('retry-after', '60');
      return page(res, 429, 'Sign in', signInForm(), { session: null, error: 'Too many failed sign-ins; wait a minute.' });
    }
    const presented = str(req.body?.token, 1024);
    const token = presented ? authenticate(opts.tokens, presented) : null;
    if (!presented || !token) {
      signInFailures.count += 1;
      logger.warn({ ip: req.ip }, 'console: sign-in failed');
      return page(res, 401, 'Sign in', signInForm(), { session: null, error: 'That token is not valid.' });
    }
    const session = sessions.create({ name: token.name, role: token.role, token: presented });
    logger.info({ user: token.name, role: token.role }, 'console: signed in');
    res.setHeader('set-cookie', `${COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict${opts.secure_cookie ? '; Secure' : ''}`);
    res.redirect(303, '/pipeline');
  });

  // ---- everything below needs a session -----------------------------------------------

  app.use((req: Request, res: Response, next: NextFunction) => {
    const session = sessions.get(cookieOf(req, COOKIE));
    if (!session) {
      if (req.path.startsWith('/api/')) return res.status(401).json({ error: 'unauthorized', message: 'sign in first' });
      if (req.method === 'GET') return res.redirect(303, '/login');
      return page(res, 401, 'Sign in', signInForm(), { session: null, error: 'Your session has ended; sign in again.' });
    }
    (res.locals as Locals).session = session;
    if (req.method === 'POST') {
      const csrf = str(req.body?._csrf, 128);
      if (!csrf || !safeEqual(csrf, session.csrf)) {
        logger.warn({ user: session.name, path: req.path }, 'console: CSRF token missing or wrong');
        return page(res, 403, 'Forbidden', html`<p>The form was not sent by this console session. Reload the page and try again.</p>`);
      }
    }
    next();
  });

  const sessionOf = (res: Response) => (res.locals as Locals).session;
  const requireAction = (action: ConsoleAction) => (req: Request, res: Response, next: NextFunction) => {
    const session = sessionOf(res);
    if (!may(session.role, action)) {
      actions.inc({ action: `${req.method} ${req.path.split('/')[1] ?? ''}`, outcome: 'forbidden' });
      logger.warn({ user: session.name, role: session.role, path: req.path }, 'console: action refused for the role');
      return page(res, 403, 'Forbidden', html`<p>Your role (${session.role}) may not do this.</p>`);
    }
    next();
  };

  app.post('/logout', (req, res) => {
    sessions.destroy(cookieOf(req, COOKIE));
    res.setHeader('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${opts.secure_cookie ? '; Secure' : ''}`);
    res.redirect(303, '/login');
  });

  app.get('/', (_req, res) => res.redirect(303, '/pipeline'));

  // ---- ledger API, as the signed-in user ----------------------------------------------

  async function ledger<T>(session: Session, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`${opts.ledger_url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${session.token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
  }

  // ---- Pipeline -----------------------------------------------------------------------

  app.get('/pipeline', (_req, res) => {
    page(
      res,
      200,
      'Pipeline',
      html`<p class="muted">Live: every service's /metrics and /readyz, scraped by the console; this page refreshes every two seconds.</p>
<section aria-labelledby="rates-h"><h2 id="rates-h">Throughput</h2>
<dl class="stats" id="rates" aria-live="polite">
<div><dt>Accepted (ingress)</dt><dd data-stat="accepted">–</dd></div>
<div><dt>Screened</dt><dd data-stat="screened">–</dd></div>
<div><dt>Projected (ledger)</dt><dd data-stat="projected">–</dd></div>
</dl></section>
<section aria-labelledby="svc-h"><h2 id="svc-h">Services</h2>
<table id="services"><caption class="sr-only">Readiness, consumer lag, retry ladder and dead-letter depth per service</caption>
<thead><tr><th scope="col">Service</th><th scope="col">Ready</th><th scope="col">Checks</th><th scope="col">Consumer lag</th><th scope="col">Ladder depth</th><th scope="col">DLQ depth</th></tr></thead>
<tbody></tbody></table></section>
<section aria-labelledby="lat-h"><h2 id="lat-h">Received → projected latency</h2>
<p class="muted">p50 / p90 / p99 per event type, each point over the minute before it, for the last ten minutes.</p>
<label for="event-type">Event type</label> <select id="event-type"></select>
<div id="latency-chart" role="img" aria-label="Latency chart"></div>
<table id="latency-table"><caption class="sr-only">Latest latency percentiles per event type</caption>
<thead><tr><th scope="col">Event type</th><th scope="col">events/min</th><th scope="col">p50 ms</th><th scope="col">p90 ms</th><th scope="col">p99 ms</th></tr></thead><tbody></tbody></table>
</section>`,
      { current: '/pipeline' },
    );
  });

  app.get('/api/pipeline', (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.json(opts.monitor.view());
  });

  // ---- Compliance queue ---------------------------------------------------------------

  interface QueueItem {
    provider: string;
    transaction_id: string;
    kind: string;
    wallet_id: string;
    asset: string;
    amount: string;
    status: string;
    decision: string;
    reasons: Array<{ code: string; rule_id: string; outcome: string; message: string }>;
    released: { by: string; at: string } | null;
    held: string;
    created_at: string;
  }
  interface ActionView {
    provider: string;
    transaction_id: string;
    action: string;
    actor: string;
    reason: string | null;
    at: string;
  }

  app.get('/compliance', async (req, res) => {
    const session = sessionOf(res);
    const f = {
      wallet_id: str(req.query.wallet_id),
      asset: str(req.query.asset, 32),
      rule: str(req.query.rule),
      decision: str(req.query.decision, 10),
      min_age_m: str(req.query.min_age_m, 10),
      state: str(req.query.state, 10) === 'all' ? 'all' : 'open',
    };
    const qs = new URLSearchParams({ state: f.state, limit: '200' });
    if (f.wallet_id) qs.set('wallet_id', f.wallet_id);
    if (f.asset) qs.set('asset', f.asset);
    if (f.rule) qs.set('rule', f.rule);
    if (f.decision === 'REVIEW' || f.decision === 'BLOCK') qs.set('decision', f.decision);
    if (f.min_age_m && Number(f.min_age_m) >= 0) qs.set('min_age_s', String(Number(f.min_age_m) * 60));
    const [queue, history] = await Promise.all([
      ledger<{ items?: QueueItem[]; message?: string }>(session, `/v1/compliance/queue?${qs}`),
      ledger<{ actions?: ActionView[] }>(session, `/v1/compliance/actions?limit=20`),
    ]);
    if (queue.status !== 200) return page(res, 502, 'Compliance queue', html`<p>The ledger answered ${queue.status}: ${queue.body.message ?? ''}</p>`, { current: '/compliance' });
    const items = queue.body.items ?? [];
    const canAct = may(session.role, 'compliance');
    page(
      res,
      200,
      'Compliance queue',
      html`<form method="get" action="/compliance" class="filters" aria-label="Filter the queue">
<label for="f-wallet">Wallet</label><input id="f-wallet" name="wallet_id" value="${f.wallet_id ?? ''}">
<label for="f-asset">Asset</label><input id="f-asset" name="asset" value="${f.asset ?? ''}" size="6">
<label for="f-rule">Rule or code</label><input id="f-rule" name="rule" value="${f.rule ?? ''}" placeholder="velocity.1h">
<label for="f-decision">Decision</label><select id="f-decision" name="decision"><option value="">any</option>${['REVIEW', 'BLOCK'].map((d) => html`<option${f.decision === d ? new Html(' selected') : ''}>${d}</option>`)}</select>
<label for="f-age">Older than (min)</label><input id="f-age" name="min_age_m" type="number" min="0" value="${f.min_age_m ?? ''}" size="4">
<label for="f-state">Show</label><select id="f-state" name="state"><option value="open">open</option><option value="all"${f.state === 'all' ? new Html(' selected') : ''}>all, incl. released</option></select>
<button type="submit">Filter</button></form>
<p class="muted">${items.length} item(s)${items.length >= 200 ? ' (the newest 200)' : ''}. ${canAct ? 'Release moves a REVIEW deposit\'s held funds to available; escalate makes it a BLOCK (funds stay held); every action needs a reason and is audited.' : 'Read-only: your role cannot act on the queue.'}</p>
<table class="queue"><caption class="sr-only">Open compliance decisions</caption><thead><tr><th scope="col">Transaction and wallet</th><th scope="col">Amount (held)</th><th scope="col">Decision</th><th scope="col">Reasons</th><th scope="col">Age</th>${canAct ? html`<th scope="col">Actions</th>` : ''}</tr></thead><tbody>
${items.map((it, i) => {
  const base = `/compliance/${encodeURIComponent(it.provider)}/${encodeURIComponent(it.transaction_id)}`;
  const releasable = it.decision === 'REVIEW' && !it.released && it.kind === 'deposit' && it.held !== '0';
  return html`<tr data-tx="${it.transaction_id}"><td>${txLink(it.provider, it.transaction_id)}<br><span class="muted">${it.kind} · ${it.status} · </span><a class="muted" href="/compliance?wallet_id=${encodeURIComponent(it.wallet_id)}">${it.wallet_id}</a></td><td class="num">${it.amount} ${it.asset}<br><span class="muted">held ${it.held}</span></td><td>${decisionBadge(it.decision)}${it.released ? html`<br><span class="muted">released by ${it.released.by}</span>` : ''}</td>
<td><ul class="reasons">${it.reasons.map((r) => html`<li><code>${r.rule_id}</code> ${r.code}: ${r.message}</li>`)}</ul></td><td><time datetime="${it.created_at}" title="${it.created_at}">${age(it.created_at)}</time></td>
${canAct ? html`<td class="actions">${actionsForm(session, base, `reason-${i}`, { release: releasable, escalate: it.decision === 'REVIEW', release_question: `Release ${it.held} ${it.asset} to available?` })}</td>` : ''}</tr>`;
})}</tbody></table>
<section aria-labelledby="hist-h"><h2 id="hist-h">Latest decisions</h2>${historyTable(history.body.actions ?? [], true)}</section>`,
      { current: '/compliance', flash: DONE_MESSAGES[str(req.query.done, 32) ?? ''] ?? null },
    );
  });

  function historyTable(list: ActionView[], withTx: boolean): Html {
    if (list.length === 0) return html`<p class="muted">No decisions yet.</p>`;
    return html`<table class="history"><thead><tr><th scope="col">When</th>${withTx ? html`<th scope="col">Transaction</th>` : ''}<th scope="col">Action</th><th scope="col">Who</th><th scope="col">Why</th></tr></thead><tbody>
${list.map((a) => html`<tr><td><time datetime="${a.at}">${a.at.slice(0, 19).replace('T', ' ')}</time></td>${withTx ? html`<td>${txLink(a.provider, a.transaction_id)}</td>` : ''}<td>${a.action}</td><td>${a.actor}</td><td>${a.reason ?? ''}</td></tr>`)}</tbody></table>`;
  }

  app.post('/compliance/:provider/:transaction_id/:verb', requireAction('compliance'), async (req, res) => {
    const session = sessionOf(res);
    const provider = str(req.params.provider);
    const transaction_id = str(req.params.transaction_id);
    const verb = req.params.verb;
    const reason = str(req.body?.reason, REASON_LENGTH_MAX);
    if (!provider || !transaction_id || !['release', 'escalate', 'note'].includes(String(verb))) return page(res, 404, 'Not found', html`<p>No such action.</p>`);
    if (!reason) return page(res, 400, 'Reason required', html`<p>Every compliance action needs a reason (1-${REASON_LENGTH_MAX} characters).</p><p><a href="/compliance">Back to the queue</a></p>`);
    const path = `/v1/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}/${verb === 'note' ? 'notes' : verb}`;
    const result = await ledger<{ outcome?: string; error?: string; message?: string }>(session, path, { method: 'POST', body: { reason } });
    actions.inc({ action: String(verb), outcome: String(result.status) });
    logger.info({ user: session.name, provider, transaction_id, action: verb, status: result.status }, 'console: compliance action');
    if (result.status >= 200 && result.status < 300) {
      const back = str(req.body?.back, 20) === 'transaction' ? `/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}` : '/compliance';
      return res.redirect(303, `${back}?done=${encodeURIComponent(result.body.outcome ?? 'noted')}`);
    }
    page(res, result.status === 403 ? 403 : result.status === 404 ? 404 : result.status === 409 || result.status === 400 ? 409 : 502, 'Not done', html`<p>The ledger refused: ${result.body.message ?? `HTTP ${result.status}`}</p><p><a href="/compliance">Back to the queue</a></p>`);
  });

  // ---- Transaction --------------------------------------------------------------------

  app.get('/transactions', (req, res) => {
    const provider = str(req.query.provider);
    const transaction_id = str(req.query.transaction_id);
    if (provider && transaction_id) return res.redirect(303, `/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}`);
    page(
      res,
      200,
      'Transaction',
      html`<form method="get" action="/transactions" class="filters"><label for="t-provider">Provider</label><input id="t-provider" name="provider" value="generic" required>
<label for="t-id">Transaction id</label><input id="t-id" name="transaction_id" required><button type="submit">Show</button></form>`,
      { current: '/transactions' },
    );
  });

  interface TxView {
    provider: string;
    transaction_id: string;
    kind: string;
    status: string;
    wallet_id: string;
    asset: string;
    amount: string;
    decision: string;
    reasons: Array<{ code: string; rule_id: string; outcome: string; message: string }>;
    released: { by: string; at: string } | null;
    effect: { pending: string; available: string; held: string };
    anomalies: string[];
    history: Array<{ event_id: string; event_type: string; occurred_at: string; received_at: string; projected_at: string; source: string; decision: string; outcome: string; status_after: string | null }>;
    message?: string;
  }

  app.get('/transactions/:provider/:transaction_id', async (req, res) => {
    const session = sessionOf(res);
    const provider = str(req.params.provider) ?? '';
    const transaction_id = str(req.params.transaction_id) ?? '';
    const base = `/v1/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}`;
    const tx = await ledger<TxView>(session, base);
    if (tx.status === 404) return page(res, 404, 'Transaction', html`<p>${provider}/${transaction_id} is not in the ledger (yet).</p>`, { current: '/transactions' });
    if (tx.status !== 200) return page(res, 502, 'Transaction', html`<p>The ledger answered ${tx.status}.</p>`, { current: '/transactions' });
    const t = tx.body;
    const [actionsRes, postingsRes, balancesRes, findings, changesRes] = await Promise.all([
      ledger<{ actions?: ActionView[] }>(session, `${base}/actions`),
      ledger<{ postings?: Array<{ event_id: string; debit_account_id: string; credit_account_id: string; amount: string; asset: string; created_at: string }> }>(session, `${base}/postings`),
      ledger<{ balances?: Array<{ asset: string; pending: string; available: string; held: string }> }>(session, `/v1/wallets/${encodeURIComponent(t.wallet_id)}/balances`),
      opts.reconciliations.findingsFor(provider, transaction_id).catch(() => []),
      ledger<{ changes?: Array<{ event_id: string; balance_before: Record<string, string> | null; balance_after: Record<string, string> | null }> }>(session, `${base}/balance-changes`),
    ]);
    const changes = new Map((changesRes.body.changes ?? []).map((c) => [c.event_id, c]));
    /** "available 0 → 100, held 100 → 0": the wallet's buckets this entry changed. */
    const balanceMove = (event_id: string): string => {
      const c = changes.get(event_id);
      if (!c?.balance_before || !c.balance_after) return '';
      const moved = (['pending', 'available', 'held'] as const).filter((b) => c.balance_before![b] !== c.balance_after![b]);
      return moved.map((b) => `${b} ${c.balance_before![b]} → ${c.balance_after![b]}`).join(', ');
    };
    const first = t.history.find((h) => h.source !== 'OPERATOR');
    const jaeger = opts.jaeger_ui_url && first ? `${opts.jaeger_ui_url.replace(/\/+$/, '')}/search?service=ledger-projector&tags=${encodeURIComponent(JSON.stringify({ 'tidemark.event_id': first.event_id }))}` : null;
    const balance = (balancesRes.body.balances ?? []).find((b) => b.asset === t.asset);
    const txPath = `/compliance/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}`;
    page(
      res,
      200,
      `Transaction ${transaction_id}`,
      html`<dl class="facts">
<div><dt>Provider</dt><dd>${t.provider}</dd></div><div><dt>Kind</dt><dd>${t.kind}</dd></div><div><dt>Status</dt><dd>${t.status}</dd></div>
<div><dt>Wallet</dt><dd><a href="/compliance?state=all&amp;wallet_id=${encodeURIComponent(t.wallet_id)}">${t.wallet_id}</a></dd></div><div><dt>Amount</dt><dd>${t.amount} ${t.asset}</dd></div>
<div><dt>Screening</dt><dd>${decisionBadge(t.decision)}${t.released ? html` released by ${t.released.by} at ${t.released.at}` : ''}</dd></div>
<div><dt>This transaction's effect</dt><dd>pending ${t.effect.pending} · available ${t.effect.available} · held ${t.effect.held}</dd></div>
${balance ? html`<div><dt>Wallet balance now (${t.asset})</dt><dd id="wallet-balance">pending ${balance.pending} · available <span data-available>${balance.available}</span> · held ${balance.held}</dd></div>` : ''}
${jaeger ? html`<div><dt>Trace</dt><dd><a href="${jaeger}" rel="noreferrer">Open in Jaeger</a></dd></div>` : ''}
</dl>
${t.anomalies.length ? html`<p class="error">Anomalies: ${t.anomalies.join(', ')}</p>` : ''}
<h2>Screening reasons</h2>${t.reasons.length ? html`<ul class="reasons">${t.reasons.map((r) => html`<li>${decisionBadge(r.outcome)} <code>${r.rule_id}</code> ${r.code}: ${r.message}</li>`)}</ul>` : html`<p class="muted">None (ALLOW).</p>`}
${may(session.role, 'compliance') && t.decision !== 'ALLOW' ? html`<h2>Act</h2><div class="actions">${actionsForm(session, txPath, 'tx-reason', { release: t.decision === 'REVIEW' && !t.released && t.kind === 'deposit' && t.effect.held !== '0', escalate: t.decision === 'REVIEW', release_question: `Release ${t.effect.held} ${t.asset} to available?` }, html`<input type="hidden" name="back" value="transaction">`)}</div>` : ''}
<h2>Decision history</h2>${historyTable(actionsRes.body.actions ?? [], false)}
<h2>Events as received</h2><table><thead><tr><th scope="col">Event</th><th scope="col">Type</th><th scope="col">Occurred</th><th scope="col">Received</th><th scope="col">Projected</th><th scope="col">Source</th><th scope="col">Decision</th><th scope="col">Status after</th><th scope="col">Wallet balance (${t.asset}) before → after</th></tr></thead><tbody>
${t.history.map((h) => html`<tr data-event="${h.event_id}"><td><code>${h.event_id}</code></td><td>${h.event_type}</td><td>${h.occurred_at}</td><td>${h.received_at}</td><td>${h.projected_at}</td><td>${h.source}</td><td>${h.decision}</td><td>${h.status_after ?? ''}</td><td>${balanceMove(h.event_id)}</td></tr>`)}</tbody></table>
<h2>Postings</h2><table><thead><tr><th scope="col">Event</th><th scope="col">Debit</th><th scope="col">Credit</th><th scope="col">Amount</th></tr></thead><tbody>
${(postingsRes.body.postings ?? []).map((p) => html`<tr><td><code>${p.event_id}</code></td><td><code>${p.debit_account_id}</code></td><td><code>${p.credit_account_id}</code></td><td class="num">${p.amount} ${p.asset}</td></tr>`)}</tbody></table>
<h2>Reconciliation findings</h2>${findings.length ? html`<ul>${findings.map((f) => html`<li><a href="/reconciliation/reports/${encodeURIComponent(f.file)}">${f.run_id}</a>: ${f.kind} — ${f.detail}</li>`)}</ul>` : html`<p class="muted">None in the latest reports.</p>`}`,
      { current: '/transactions', flash: DONE_MESSAGES[str(req.query.done, 32) ?? ''] ?? null },
    );
  });

  // ---- Dead letters -------------------------------------------------------------------

  const dlqFilterOf = (q: Record<string, unknown>): DlqFilter => {
    const filter: DlqFilter = { limit: 200 };
    if (str(q.service, 64)) filter.service = str(q.service, 64);
    if (str(q.key)) filter.key = str(q.key);
    if (str(q.error)) filter.error_contains = str(q.error);
    if (q.include_resolved === 'on' || q.include_resolved === '1') filter.include_resolved = true;
    return filter;
  };

  app.get('/dead-letters', async (req, res) => {
    const session = sessionOf(res);
    const filter = dlqFilterOf(req.query as Record<string, unknown>);
    const { entries, complete } = await listDeadLetters(await opts.dlq(), filter);
    const canOperate = may(session.role, 'operate');
    page(
      res,
      200,
      'Dead letters',
      html`<form method="get" action="/dead-letters" class="filters" aria-label="Filter dead letters">
<label for="d-service">Service</label><select id="d-service" name="service"><option value="">all</option>${['dedupe', 'compliance-screening', 'ledger-projector'].map((s) => html`<option${filter.service === s ? new Html(' selected') : ''}>${s}</option>`)}</select>
<label for="d-key">Key</label><input id="d-key" name="key" value="${filter.key ?? ''}">
<label for="d-error">Error contains</label><input id="d-error" name="error" value="${filter.error_contains ?? ''}">
<label><input type="checkbox" name="include_resolved"${filter.include_resolved ? new Html(' checked') : ''}> include replayed and purged</label>
<button type="submit">Filter</button></form>
<p class="muted">${entries.length} dead letter(s)${complete ? '' : ' (scan limit reached: narrow the filter)'}.</p>
<form method="post" action="/dead-letters/act" id="dlq-form">${csrfField(session)}
<table><caption class="sr-only">Dead letters</caption><thead><tr>${canOperate ? html`<th scope="col"><span class="sr-only">Select</span></th>` : ''}<th scope="col">Id</th><th scope="col">State</th><th scope="col">Key</th><th scope="col">Error</th><th scope="col">Attempts</th><th scope="col">Last failure</th></tr></thead><tbody>
${entries.map((e, i) => html`<tr>${canOperate ? html`<td><input type="checkbox" name="id" value="${e.id}" id="dl-${i}" aria-label="Select ${e.id}"></td>` : ''}<td><a href="/dead-letters/show?id=${encodeURIComponent(e.id)}">${e.id}</a></td><td>${e.state}</td><td><code>${e.key ?? ''}</code></td><td>${e.error_class}: ${e.error_message.slice(0, 160)}</td><td class="num">${e.attempts}</td><td>${e.last_failure_at}</td></tr>`)}
</tbody></table>
${canOperate ? html`<fieldset><legend>Act on the selected dead letters</legend>
<label><input type="checkbox" name="dry_run" value="1" checked> dry run (show what would happen)</label>
<button type="submit" name="op" value="replay">Replay selected</button>
<label for="purge-confirm">Type PURGE to purge</label><input id="purge-confirm" name="confirm" autocomplete="off" size="8">
<button type="submit" name="op" value="purge" class="danger">Purge selected</button></fieldset>` : html`<p class="muted">Read-only: replay and purge need the operator role.</p>`}
</form>`,
      { current: '/dead-letters' },
    );
  });

  app.get('/dead-letters/show', async (req, res) => {
    const id = str(req.query.id);
    let entry = null;
    try {
      entry = id ? await showDeadLetter(await opts.dlq(), parseDeadLetterId(id)) : null;
    } catch {
      entry = null;
    }
    if (!entry) return page(res, 404, 'Dead letter', html`<p>No dead letter ${id ?? ''}.</p>`, { current: '/dead-letters' });
    page(
      res,
      200,
      `Dead letter ${entry.id}`,
      html`<dl class="facts"><div><dt>State</dt><dd>${entry.state}</dd></div><div><dt>Service</dt><dd>${entry.service}</dd></div>
<div><dt>Original</dt><dd>${entry.original_topic} / ${entry.original_partition} / ${entry.original_offset}</dd></div><div><dt>Key</dt><dd><code>${entry.key ?? ''}</code></dd></div>
<div><dt>Error</dt><dd>${entry.error_class}: ${entry.error_message}</dd></div><div><dt>Attempts</dt><dd>${entry.attempts} (${entry.first_failure_at} → ${entry.last_failure_at})</dd></div></dl>
<h2>Payload (decoded)</h2><pre>${JSON.stringify(entry.value, null, 2)}</pre>
<h2>Headers</h2><pre>${JSON.stringify(entry.headers, null, 2)}</pre>
${entry.error_stack ? html`<h2>Stack</h2><pre>${entry.error_stack}</pre>` : ''}`,
      { current: '/dead-letters' },
    );
  });

  app.post('/dead-letters/act', requireAction('operate'), async (req, res) => {
    const session = sessionOf(res);
    const raw = req.body?.id;
    const ids = (Array.isArray(raw) ? raw : raw ? [raw] : []).filter((v): v is string => typeof v === 'string').slice(0, DLQ_IDS_PER_ACTION_MAX);
    const op = req.body?.op;
    const dry_run = req.body?.dry_run === '1';
    if (ids.length === 0) return page(res, 400, 'Dead letters', html`<p>Select at least one dead letter.</p><p><a href="/dead-letters">Back</a></p>`, { current: '/dead-letters' });
    let refs;
    try {
      refs = ids.map(parseDeadLetterId);
    } catch (err) {
      return page(res, 400, 'Dead letters', html`<p>${(err as Error).message}</p>`, { current: '/dead-letters' });
    }
    const actor = `console:${session.name}`;
    const ctx = await opts.dlq();
    if (op === 'replay') {
      const report = await replayDeadLetters(ctx, { refs, actor, dry_run });
      actions.inc({ action: dry_run ? 'dlq_replay_dry_run' : 'dlq_replay', outcome: 'ok' });
      logger.info({ user: session.name, replayed: report.replayed.length, skipped: report.skipped.length, dry_run }, 'console: dead letters replayed');
      return page(
        res,
        200,
        dry_run ? 'Replay (dry run)' : 'Replayed',
        html`<p>${dry_run ? 'Would replay' : 'Replayed'} ${report.replayed.length}; skipped ${report.skipped.length}.</p>
<ul class="result">${report.replayed.map((r) => html`<li>${r.id} → ${r.to_topic}</li>`)}${report.skipped.map((s) => html`<li>${s.id}: skipped (${s.reason})</li>`)}</ul><p><a href="/dead-letters">Back to dead letters</a></p>`,
        { current: '/dead-letters' },
      );
    }
    if (op === 'purge') {
      if (req.body?.confirm !== 'PURGE') return page(res, 400, 'Purge not confirmed', html`<p>Type PURGE in the confirmation field to purge.</p><p><a href="/dead-letters">Back</a></p>`, { current: '/dead-letters' });
      const report = await purgeDeadLetters(ctx, { refs, actor, dry_run });
      actions.inc({ action: dry_run ? 'dlq_purge_dry_run' : 'dlq_purge', outcome: 'ok' });
      logger.info({ user: session.name, purged: report.purged.length, dry_run }, 'console: dead letters purged');
      return page(res, 200, dry_run ? 'Purge (dry run)' : 'Purged', html`<p>${dry_run ? 'Would purge' : 'Purged'} ${report.purged.length}; skipped ${report.skipped.length}.</p><ul class="result">${report.purged.map((id) => html`<li>${id}</li>`)}${report.skipped.map((s) => html`<li>${s.id}: skipped (${s.reason})</li>`)}</ul><p><a href="/dead-letters">Back to dead letters</a></p>`, { current: '/dead-letters' });
    }
    page(res, 400, 'Dead letters', html`<p>Unknown operation.</p>`, { current: '/dead-letters' });
  });

  // ---- Reconciliation -----------------------------------------------------------------

  app.get('/reconciliation', async (req, res) => {
    const session = sessionOf(res);
    const reports = await opts.reconciliations.listReports();
    const jobs = opts.reconciliations.listJobs();
    const since = new Date(Date.now() - 3600_000).toISOString();
    page(
      res,
      200,
      'Reconciliation',
      html`${may(session.role, 'operate') ? html`<form method="post" action="/reconciliation/runs" class="run-form" aria-label="Start a reconciliation run">${csrfField(session)}
<fieldset><legend>Start a run</legend>
<label for="r-provider">Provider</label><select id="r-provider" name="provider">${opts.reconcile_providers.map((p) => html`<option>${p}</option>`)}</select>
<label for="r-since">Since (ISO 8601)</label><input id="r-since" name="since" value="${since}" required size="26">
<label for="r-until">Until (optional)</label><input id="r-until" name="until" size="26">
<label><input type="checkbox" name="heal" value="1"> heal (post the provider's records as adjustments)</label>
<label for="r-confirm">Type HEAL to confirm healing</label><input id="r-confirm" name="confirm" autocomplete="off" size="6">
<button type="submit">Start reconciliation</button></fieldset></form>` : html`<p class="muted">Read-only: starting runs needs the operator role.</p>`}
<h2>Runs started here</h2>${jobs.length ? html`<ul>${jobs.map((j) => html`<li><a href="/reconciliation/jobs/${j.job_id}">${j.job_id}</a> ${j.provider} since ${j.since}${j.heal ? ' (heal)' : ''} by ${j.actor}: ${j.state}${j.exit_code !== null ? ` (exit ${j.exit_code})` : ''}</li>`)}</ul>` : html`<p class="muted">None since the console started. Scheduled runs (<code>tidemark reconcile --schedule</code>) write their reports to the same folder.</p>`}
<h2>Past runs (reports)</h2>
<table><thead><tr><th scope="col">Run</th><th scope="col">Provider</th><th scope="col">Window</th><th scope="col">Verdict</th><th scope="col">Discrepancies</th><th scope="col">Matched</th></tr></thead><tbody>
${reports.map((r) => html`<tr><td><a href="/reconciliation/reports/${encodeURIComponent(r.file)}">${r.run_id}</a></td><td>${r.provider}</td><td>${r.window.since} → ${r.window.until}</td><td>${r.verdict}</td><td class="num">${r.discrepancies_total}</td><td class="num">${r.matching.matched}/${r.matching.compared}</td></tr>`)}</tbody></table>`,
      { current: '/reconciliation' },
    );
  });

  app.post('/reconciliation/runs', requireAction('operate'), (req, res) => {
    const session = sessionOf(res);
    const provider = str(req.body?.provider, 64);
    const since = str(req.body?.since, 64);
    const until = str(req.body?.until, 64);
    const heal = req.body?.heal === '1';
    if (!provider || !opts.reconcile_providers.includes(provider)) return page(res, 400, 'Reconciliation', html`<p>Unknown provider.</p>`, { current: '/reconciliation' });
    if (!since || Number.isNaN(Date.parse(since)) || (until && Number.isNaN(Date.parse(until)))) return page(res, 400, 'Reconciliation', html`<p>since/until must be ISO 8601 times.</p>`, { current: '/reconciliation' });
    if (heal && req.body?.confirm !== 'HEAL') return page(res, 400, 'Heal not confirmed', html`<p>Healing posts adjustments to the ledger: type HEAL in the confirmation field to heal.</p><p><a href="/reconciliation">Back</a></p>`, { current: '/reconciliation' });
    const job = opts.reconciliations.start({ provider, since, until, heal, actor: session.name });
    actions.inc({ action: heal ? 'reconcile_heal' : 'reconcile', outcome: 'started' });
    logger.info({ user: session.name, provider, since, until: until ?? null, heal, job_id: job.job_id }, 'console: reconciliation started');
    res.redirect(303, `/reconciliation/jobs/${job.job_id}`);
  });

  app.get('/reconciliation/jobs/:job_id', async (req, res) => {
    const job = opts.reconciliations.job(String(req.params.job_id));
    if (!job) return page(res, 404, 'Reconciliation', html`<p>No such run.</p>`, { current: '/reconciliation' });
    const report = job.report_file ? await opts.reconciliations.readReport(job.report_file) : null;
    page(
      res,
      200,
      `Reconciliation ${job.job_id}`,
      html`<p id="job-state" data-state="${job.state}"${job.state === 'running' ? new Html(' data-refresh="2"') : ''}>State: <strong>${job.state}</strong>${job.exit_code !== null ? ` (exit ${job.exit_code})` : ''} — ${job.provider} since ${job.since}${job.heal ? ', healing' : ''}, started by ${job.actor} at ${job.started_at}.</p>
${job.error ? html`<p class="error">${job.error}</p>` : ''}${report ? reportBody(report) : ''}`,
      { current: '/reconciliation' },
    );
  });

  app.get('/reconciliation/reports/:file', async (req, res) => {
    const report = await opts.reconciliations.readReport(String(req.params.file));
    if (!report) return page(res, 404, 'Reconciliation', html`<p>No such report.</p>`, { current: '/reconciliation' });
    page(res, 200, `Report ${report.run_id}`, reportBody(report), { current: '/reconciliation' });
  });

  function reportBody(report: Awaited<ReturnType<Reconciliations['readReport']>> & object): Html {
    const counts = Object.entries(report.discrepancy_counts ?? {}).filter(([, n]) => n > 0);
    return html`<dl class="facts"><div><dt>Run</dt><dd>${report.run_id}</dd></div><div><dt>Verdict</dt><dd id="verdict">${report.verdict}</dd></div>
<div><dt>Window</dt><dd>${report.window.since} → ${report.window.until}</dd></div><div><dt>Matched</dt><dd>${report.matching.matched} of ${report.matching.compared}</dd></div>
<div><dt>Discrepancies</dt><dd>${report.discrepancies_total}${counts.length ? ` (${counts.map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}</dd></div></dl>
<h2>Findings</h2>${report.discrepancies.length ? html`<table id="findings"><thead><tr><th scope="col">Kind</th><th scope="col">Transaction</th><th scope="col">Wallet</th><th scope="col">Ledger</th><th scope="col">Provider</th><th scope="col">Detail</th></tr></thead><tbody>
${report.discrepancies.slice(0, 500).map((f) => html`<tr><td>${f.kind}</td><td>${f.transaction_id ? txLink(report.provider, f.transaction_id) : ''}</td><td>${f.wallet_id ?? ''}</td><td>${f.ledger_value ?? ''}</td><td>${f.provider_value ?? ''}</td><td>${f.detail}</td></tr>`)}</tbody></table>` : html`<p>No discrepancies.</p>`}`;
  }

  app.use((_req: Request, res: Response) => page(res, 404, 'Not found', html`<p>No such page.</p>`));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : 500;
    if (status === 400 || status === 413) return page(res, status, 'Bad request', html`<p>The request was not acceptable.</p>`);
    logger.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err), path: req.path }, 'console: unexpected error');
    page(res, 502, 'Something failed', html`<p>${esc('The console could not complete this request; see its log. (A service it needs may be unavailable.)')}</p>`);
  });
  return app;
}
