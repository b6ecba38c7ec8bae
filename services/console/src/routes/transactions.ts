/** The transaction page: the ledger's view of one transaction, its history, postings and findings. */
import type { Express } from 'express';
import type { TransactionView } from '@tidemark/ledger-projector/read';
import { may, type Session } from '../core/session.js';
import { Html, actionsForm, dataTable, decisionBadge, fact, html } from '../html.js';
import { historyTable, type ActionView } from './compliance.js';
import { DONE_MESSAGES, page, sessionOf, str, type ConsoleContext } from './shared.js';

/** The ledger API's transaction view (an error answer carries a message instead). */
type TxView = TransactionView & { message?: string };

export function registerTransactions(app: Express, ctx: ConsoleContext): void {
  app.get('/transactions', (req, res) => {
    const provider = str(req.query.provider);
    const transaction_id = str(req.query.transaction_id);
    if (provider && transaction_id)
      return res.redirect(303, `/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}`);
    page(
      res,
      200,
      'Transaction',
      html`<form method="get" action="/transactions" class="filters">
        <label for="t-provider">Provider</label><input id="t-provider" name="provider" value="generic" required />
        <label for="t-id">Transaction id</label><input id="t-id" name="transaction_id" required /><button type="submit">Show</button>
      </form>`,
      { current: '/transactions' },
    );
  });

  registerTransaction(app, ctx);
}

type Postings = Array<{
  event_id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
  asset: string;
  created_at: string;
}>;
type Balance = { asset: string; pending: string; available: string; held: string };
type Findings = Awaited<ReturnType<ConsoleContext['opts']['reconciliations']['findingsFor']>>;

function txFacts(t: TxView, balance: Balance | undefined, jaeger: string | null): Html {
  return html`<dl class="facts">
    ${fact('Provider', t.provider)} ${fact('Kind', t.kind)} ${fact('Status', t.status)}
    ${fact('Wallet', html`<a href="/compliance?state=all&amp;wallet_id=${encodeURIComponent(t.wallet_id)}">${t.wallet_id}</a>`)}
    ${fact('Amount', `${t.amount} ${t.asset}`)}
    ${fact('Screening', html`${decisionBadge(t.decision)}${t.released ? html` released by ${t.released.by} at ${t.released.at}` : ''}`)}
    ${fact("This transaction's effect", `pending ${t.effect.pending} · available ${t.effect.available} · held ${t.effect.held}`)}
    ${
      balance
        ? fact(
            `Wallet balance now (${t.asset})`,
            html`pending ${balance.pending} · available <span data-available>${balance.available}</span> · held ${balance.held}`,
            'wallet-balance',
          )
        : ''
    }
    ${jaeger ? fact('Trace', html`<a href="${jaeger}" rel="noreferrer">Open in Jaeger</a>`) : ''}
  </dl>`;
}

function txScreening(session: Session, t: TxView, txPath: string): Html {
  return html`${
    t.reasons.length
      ? html`<ul class="reasons">
          ${t.reasons.map((r) => html`<li>${decisionBadge(r.outcome)} <code>${r.rule_id}</code> ${r.code}: ${r.message}</li>`)}
        </ul>`
      : html`<p class="muted">None (ALLOW).</p>`
  }
  ${
    may(session.role, 'compliance') && t.decision !== 'ALLOW'
      ? html`<h2>Act</h2>
          <div class="actions">
            ${actionsForm(session, txPath, 'tx-reason', { release: t.decision === 'REVIEW' && !t.released && t.kind === 'deposit' && t.effect.held !== '0', escalate: t.decision === 'REVIEW', release_question: `Release ${t.effect.held} ${t.asset} to available?` }, html`<input type="hidden" name="back" value="transaction" />`)}
          </div>`
      : ''
  }`;
}

function txEventsTable(t: TxView, balanceMove: (event_id: string) => string): Html {
  return dataTable(
    [
      'Event',
      'Type',
      'Occurred',
      'Received',
      'Projected',
      'Source',
      'Decision',
      'Status after',
      `Wallet balance (${t.asset}) before → after`,
    ],
    t.history.map(
      (h) =>
        html`<tr data-event="${h.event_id}">
          <td><code>${h.event_id}</code></td>
          <td>${h.event_type}</td>
          <td>${h.occurred_at}</td>
          <td>${h.received_at}</td>
          <td>${h.projected_at}</td>
          <td>${h.source}</td>
          <td>${h.decision}</td>
          <td>${h.status_after ?? ''}</td>
          <td>${balanceMove(h.event_id)}</td>
        </tr>`,
    ),
  );
}

function txPostingsTable(postings: Postings): Html {
  return dataTable(
    ['Event', 'Debit', 'Credit', 'Amount'],
    postings.map(
      (p) =>
        html`<tr>
          <td><code>${p.event_id}</code></td>
          <td><code>${p.debit_account_id}</code></td>
          <td><code>${p.credit_account_id}</code></td>
          <td class="num">${p.amount} ${p.asset}</td>
        </tr>`,
    ),
  );
}

function txFindings(findings: Findings): Html {
  return html`${
    findings.length
      ? html`<ul>
          ${findings.map((f) => html`<li><a href="/reconciliation/reports/${encodeURIComponent(f.file)}">${f.run_id}</a>: ${f.kind} — ${f.detail}</li>`)}
        </ul>`
      : html`<p class="muted">None in the latest reports.</p>`
  }`;
}

function registerTransaction(app: Express, ctx: ConsoleContext): void {
  const { opts, ledger } = ctx;

  app.get('/transactions/:provider/:transaction_id', async (req, res) => {
    const session = sessionOf(res);
    const provider = str(req.params.provider) ?? '';
    const transaction_id = str(req.params.transaction_id) ?? '';
    const base = `/v1/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}`;
    const tx = await ledger<TxView>(session, base);
    if (tx.status === 404)
      return page(res, 404, 'Transaction', html`<p>${provider}/${transaction_id} is not in the ledger (yet).</p>`, {
        current: '/transactions',
      });
    if (tx.status !== 200)
      return page(res, 502, 'Transaction', html`<p>The ledger answered ${tx.status}.</p>`, { current: '/transactions' });
    const t = tx.body;
    const [actionsRes, postingsRes, balancesRes, findings, changesRes] = await Promise.all([
      ledger<{ actions?: ActionView[] }>(session, `${base}/actions`),
      ledger<{ postings?: Postings }>(session, `${base}/postings`),
      ledger<{ balances?: Balance[] }>(session, `/v1/wallets/${encodeURIComponent(t.wallet_id)}/balances`),
      opts.reconciliations.findingsFor(provider, transaction_id).catch(() => []),
      ledger<{
        changes?: Array<{ event_id: string; balance_before: Record<string, string> | null; balance_after: Record<string, string> | null }>;
      }>(session, `${base}/balance-changes`),
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
    const jaeger =
      opts.jaeger_ui_url && first
        ? `${opts.jaeger_ui_url.replace(/\/+$/, '')}/search?service=ledger-projector&tags=${encodeURIComponent(JSON.stringify({ 'tidemark.event_id': first.event_id }))}`
        : null;
    const balance = (balancesRes.body.balances ?? []).find((b) => b.asset === t.asset);
    const txPath = `/compliance/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}`;
    page(
      res,
      200,
      `Transaction ${transaction_id}`,
      html`${txFacts(t, balance, jaeger)} ${t.anomalies.length ? html`<p class="error">Anomalies: ${t.anomalies.join(', ')}</p>` : ''}
        <h2>Screening reasons</h2>
        ${txScreening(session, t, txPath)}
        <h2>Decision history</h2>
        ${historyTable(actionsRes.body.actions ?? [], false)}
        <h2>Events as received</h2>
        ${txEventsTable(t, balanceMove)}
        <h2>Postings</h2>
        ${txPostingsTable(postingsRes.body.postings ?? [])}
        <h2>Reconciliation findings</h2>
        ${txFindings(findings)}`,
      { current: '/transactions', flash: DONE_MESSAGES[str(req.query.done, 32) ?? ''] ?? null },
    );
  });
}
