/** The compliance queue and its actions (release / escalate / note), sent to the ledger as the user. */
import type { Express } from 'express';
import type { ComplianceActionView, QueueItem } from '@tidemark/ledger-projector';
import { may } from '../core/session.js';
import { Html, actionsForm, age, dataTable, decisionBadge, html, txLink } from '../html.js';
import { DONE_MESSAGES, REASON_LENGTH_MAX, page, sessionOf, str, type ConsoleContext } from './shared.js';

/** A decision as the ledger API lists it. */
export type ActionView = ComplianceActionView;

export function historyTable(list: ActionView[], withTx: boolean): Html {
  if (list.length === 0) return html`<p class="muted">No decisions yet.</p>`;
  return dataTable(
    ['When', withTx ? 'Transaction' : null, 'Action', 'Who', 'Why'],
    list.map(
      (a) =>
        html`<tr>
          <td><time datetime="${a.at}">${a.at.slice(0, 19).replace('T', ' ')}</time></td>
          ${withTx ? html`<td>${txLink(a.provider, a.transaction_id)}</td>` : ''}
          <td>${a.action}</td>
          <td>${a.actor}</td>
          <td>${a.reason ?? ''}</td>
        </tr>`,
    ),
    { class: 'history' },
  );
}

export function registerCompliance(app: Express, ctx: ConsoleContext): void {
  registerQueue(app, ctx);
  registerActions(app, ctx);
}

function registerQueue(app: Express, ctx: ConsoleContext): void {
  const { ledger } = ctx;

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
    if (queue.status !== 200)
      return page(res, 502, 'Compliance queue', html`<p>The ledger answered ${queue.status}: ${queue.body.message ?? ''}</p>`, {
        current: '/compliance',
      });
    const items = queue.body.items ?? [];
    const canAct = may(session.role, 'compliance');
    page(
      res,
      200,
      'Compliance queue',
      html`<form method="get" action="/compliance" class="filters" aria-label="Filter the queue">
          <label for="f-wallet">Wallet</label><input id="f-wallet" name="wallet_id" value="${f.wallet_id ?? ''}" />
          <label for="f-asset">Asset</label><input id="f-asset" name="asset" value="${f.asset ?? ''}" size="6" />
          <label for="f-rule">Rule or code</label><input id="f-rule" name="rule" value="${f.rule ?? ''}" placeholder="velocity.1h" />
          <label for="f-decision">Decision</label
          ><select id="f-decision" name="decision">
            <option value="">any</option>
            ${['REVIEW', 'BLOCK'].map((d) => html`<option${f.decision === d ? new Html(' selected') : ''}>${d}</option>`)}
          </select>
          <label for="f-age">Older than (min)</label
          ><input id="f-age" name="min_age_m" type="number" min="0" value="${f.min_age_m ?? ''}" size="4" />
          <label for="f-state">Show</label
          ><select id="f-state" name="state">
            <option value="open">open</option>
            <option value="all" ${f.state === 'all' ? new Html(' selected') : ''}>all, incl. released</option>
          </select>
          <button type="submit">Filter</button>
        </form>
        <p class="muted">
          ${items.length} item(s)${items.length >= 200 ? ' (the newest 200)' : ''}.
          ${canAct ? "Release moves a REVIEW deposit's held funds to available; escalate makes it a BLOCK (funds stay held); every action needs a reason and is audited." : 'Read-only: your role cannot act on the queue.'}
        </p>
        ${dataTable(
          ['Transaction and wallet', 'Amount (held)', 'Decision', 'Reasons', 'Age', canAct ? 'Actions' : null],
          items.map((it, i) => {
            const base = `/compliance/${encodeURIComponent(it.provider)}/${encodeURIComponent(it.transaction_id)}`;
            const releasable = it.decision === 'REVIEW' && !it.released && it.kind === 'deposit' && it.held !== '0';
            return html`<tr data-tx="${it.transaction_id}">
              <td>
                ${txLink(it.provider, it.transaction_id)}<br /><span class="muted">${it.kind} · ${it.status} · </span
                ><a class="muted" href="/compliance?wallet_id=${encodeURIComponent(it.wallet_id)}">${it.wallet_id}</a>
              </td>
              <td class="num">${it.amount} ${it.asset}<br /><span class="muted">held ${it.held}</span></td>
              <td>
                ${decisionBadge(it.decision)}${it.released ? html`<br /><span class="muted">released by ${it.released.by}</span>` : ''}
              </td>
              <td>
                <ul class="reasons">
                  ${it.reasons.map((r) => html`<li><code>${r.rule_id}</code> ${r.code}: ${r.message}</li>`)}
                </ul>
              </td>
              <td><time datetime="${it.created_at}" title="${it.created_at}">${age(it.created_at)}</time></td>
              ${canAct ? html`<td class="actions">${actionsForm(session, base, `reason-${i}`, { release: releasable, escalate: it.decision === 'REVIEW', release_question: `Release ${it.held} ${it.asset} to available?` })}</td>` : ''}
            </tr>`;
          }),
          { class: 'queue', caption: 'Open compliance decisions' },
        )}
        <section aria-labelledby="hist-h">
          <h2 id="hist-h">Latest decisions</h2>
          ${historyTable(history.body.actions ?? [], true)}
        </section>`,
      { current: '/compliance', flash: DONE_MESSAGES[str(req.query.done, 32) ?? ''] ?? null },
    );
  });
}

function registerActions(app: Express, ctx: ConsoleContext): void {
  const { logger, actions, ledger, requireAction } = ctx;

  app.post('/compliance/:provider/:transaction_id/:verb', requireAction('compliance'), async (req, res) => {
    const session = sessionOf(res);
    const provider = str(req.params.provider);
    const transaction_id = str(req.params.transaction_id);
    const verb = req.params.verb;
    const reason = str(req.body?.reason, REASON_LENGTH_MAX);
    if (!provider || !transaction_id || !['release', 'escalate', 'note'].includes(String(verb)))
      return page(res, 404, 'Not found', html`<p>No such action.</p>`);
    if (!reason)
      return page(
        res,
        400,
        'Reason required',
        html`<p>Every compliance action needs a reason (1-${REASON_LENGTH_MAX} characters).</p>
          <p><a href="/compliance">Back to the queue</a></p>`,
      );
    const path = `/v1/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}/${verb === 'note' ? 'notes' : verb}`;
    const result = await ledger<{ outcome?: string; error?: string; message?: string }>(session, path, {
      method: 'POST',
      body: { reason },
    });
    actions.inc({ action: String(verb), outcome: String(result.status) });
    logger.info({ user: session.name, provider, transaction_id, action: verb, status: result.status }, 'console: compliance action');
    if (result.status >= 200 && result.status < 300) {
      const back =
        str(req.body?.back, 20) === 'transaction'
          ? `/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}`
          : '/compliance';
      return res.redirect(303, `${back}?done=${encodeURIComponent(result.body.outcome ?? 'noted')}`);
    }
    page(
      res,
      result.status === 403 ? 403 : result.status === 404 ? 404 : result.status === 409 || result.status === 400 ? 409 : 502,
      'Not done',
      html`<p>The ledger refused: ${result.body.message ?? `HTTP ${result.status}`}</p>
        <p><a href="/compliance">Back to the queue</a></p>`,
    );
  });
}
