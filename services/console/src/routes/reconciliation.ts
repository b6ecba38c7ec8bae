/** Reconciliation: past reports, runs started here (the operator CLI's own run), and starting one. */
import type { Express } from 'express';
import { may } from '../core/session.js';
import { Html, csrfField, dataTable, fact, html, txLink } from '../html.js';
import type { Reconciliations } from '../reconciliation.js';
import { page, sessionOf, str, type ConsoleContext } from './shared.js';

function reportBody(report: Awaited<ReturnType<Reconciliations['readReport']>> & object): Html {
  const counts = Object.entries(report.discrepancy_counts ?? {}).filter(([, n]) => n > 0);
  return html`<dl class="facts">
      ${fact('Run', report.run_id)} ${fact('Verdict', report.verdict, 'verdict')}
      ${fact('Window', `${report.window.since} → ${report.window.until}`)}
      ${fact('Matched', `${report.matching.matched} of ${report.matching.compared}`)}
      ${fact('Discrepancies', `${report.discrepancies_total}${counts.length ? ` (${counts.map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`)}
    </dl>
    <h2>Findings</h2>
    ${
      report.discrepancies.length
        ? dataTable(
            ['Kind', 'Transaction', 'Wallet', 'Ledger', 'Provider', 'Detail'],
            report.discrepancies.slice(0, 500).map(
              (f) =>
                html`<tr>
                  <td>${f.kind}</td>
                  <td>${f.transaction_id ? txLink(report.provider, f.transaction_id) : ''}</td>
                  <td>${f.wallet_id ?? ''}</td>
                  <td>${f.ledger_value ?? ''}</td>
                  <td>${f.provider_value ?? ''}</td>
                  <td>${f.detail}</td>
                </tr>`,
            ),
            { id: 'findings' },
          )
        : html`<p>No discrepancies.</p>`
    }`;
}

export function registerReconciliation(app: Express, ctx: ConsoleContext): void {
  const { opts, logger, actions, requireAction } = ctx;

  app.get('/reconciliation', async (req, res) => {
    const session = sessionOf(res);
    const reports = await opts.reconciliations.listReports();
    const jobs = opts.reconciliations.listJobs();
    const since = new Date(Date.now() - 3600_000).toISOString();
    page(
      res,
      200,
      'Reconciliation',
      html`${
          may(session.role, 'operate')
            ? html`<form method="post" action="/reconciliation/runs" class="run-form" aria-label="Start a reconciliation run">
                ${csrfField(session)}
                <fieldset>
                  <legend>Start a run</legend>
                  <label for="r-provider">Provider</label
                  ><select id="r-provider" name="provider">
                    ${opts.reconcile_providers.map((p) => html`<option>${p}</option>`)}
                  </select>
                  <label for="r-since">Since (ISO 8601)</label><input id="r-since" name="since" value="${since}" required size="26" />
                  <label for="r-until">Until (optional)</label><input id="r-until" name="until" size="26" />
                  <label><input type="checkbox" name="heal" value="1" /> heal (post the provider's records as adjustments)</label>
                  <label for="r-confirm">Type HEAL to confirm healing</label
                  ><input id="r-confirm" name="confirm" autocomplete="off" size="6" /> <button type="submit">Start reconciliation</button>
                </fieldset>
              </form>`
            : html`<p class="muted">Read-only: starting runs needs the operator role.</p>`
        }
        <h2>Runs started here</h2>
        ${
          jobs.length
            ? html`<ul>
                ${jobs.map((j) => html`<li><a href="/reconciliation/jobs/${j.job_id}">${j.job_id}</a> ${j.provider} since ${j.since}${j.heal ? ' (heal)' : ''} by ${j.actor}: ${j.state}${j.exit_code !== null ? ` (exit ${j.exit_code})` : ''}</li>`)}
              </ul>`
            : html`<p class="muted">
                None since the console started. Scheduled runs (<code>tidemark reconcile --schedule</code>) write their reports to the same
                folder.
              </p>`
        }
        <h2>Past runs (reports)</h2>
        ${dataTable(
          ['Run', 'Provider', 'Window', 'Verdict', 'Discrepancies', 'Matched'],
          reports.map(
            (r) =>
              html`<tr>
                <td><a href="/reconciliation/reports/${encodeURIComponent(r.file)}">${r.run_id}</a></td>
                <td>${r.provider}</td>
                <td>${r.window.since} → ${r.window.until}</td>
                <td>${r.verdict}</td>
                <td class="num">${r.discrepancies_total}</td>
                <td class="num">${r.matching.matched}/${r.matching.compared}</td>
              </tr>`,
          ),
        )}`,
      { current: '/reconciliation' },
    );
  });

  app.post('/reconciliation/runs', requireAction('operate'), (req, res) => {
    const session = sessionOf(res);
    const provider = str(req.body?.provider, 64);
    const since = str(req.body?.since, 64);
    const until = str(req.body?.until, 64);
    const heal = req.body?.heal === '1';
    if (!provider || !opts.reconcile_providers.includes(provider))
      return page(res, 400, 'Reconciliation', html`<p>Unknown provider.</p>`, { current: '/reconciliation' });
    if (!since || Number.isNaN(Date.parse(since)) || (until && Number.isNaN(Date.parse(until))))
      return page(res, 400, 'Reconciliation', html`<p>since/until must be ISO 8601 times.</p>`, { current: '/reconciliation' });
    if (heal && req.body?.confirm !== 'HEAL')
      return page(
        res,
        400,
        'Heal not confirmed',
        html`<p>Healing posts adjustments to the ledger: type HEAL in the confirmation field to heal.</p>
          <p><a href="/reconciliation">Back</a></p>`,
        { current: '/reconciliation' },
      );
    const job = opts.reconciliations.start({ provider, since, until, heal, actor: session.name });
    actions.inc({ action: heal ? 'reconcile_heal' : 'reconcile', outcome: 'started' });
    logger.info({ user: session.name, provider, since, until: until ?? null, heal, job_id: job.job_id }, 'console: reconciliation started');
    res.redirect(303, `/reconciliation/jobs/${job.job_id}`);
  });

  registerReconciliationResults(app, ctx);
}

function registerReconciliationResults(app: Express, ctx: ConsoleContext): void {
  const { opts } = ctx;

  app.get('/reconciliation/jobs/:job_id', async (req, res) => {
    const job = opts.reconciliations.job(String(req.params.job_id));
    if (!job) return page(res, 404, 'Reconciliation', html`<p>No such run.</p>`, { current: '/reconciliation' });
    const report = job.report_file ? await opts.reconciliations.readReport(job.report_file) : null;
    page(
      res,
      200,
      `Reconciliation ${job.job_id}`,
      html`<p id="job-state" data-state="${job.state}" ${job.state === 'running' ? new Html(' data-refresh="2"') : ''}>
          State: <strong>${job.state}</strong>${job.exit_code !== null ? ` (exit ${job.exit_code})` : ''} — ${job.provider} since
          ${job.since}${job.heal ? ', healing' : ''}, started by ${job.actor} at ${job.started_at}.
        </p>
        ${job.error ? html`<p class="error">${job.error}</p>` : ''}${report ? reportBody(report) : ''}`,
      { current: '/reconciliation' },
    );
  });

  app.get('/reconciliation/reports/:file', async (req, res) => {
    const report = await opts.reconciliations.readReport(String(req.params.file));
    if (!report) return page(res, 404, 'Reconciliation', html`<p>No such report.</p>`, { current: '/reconciliation' });
    page(res, 200, `Report ${report.run_id}`, reportBody(report), { current: '/reconciliation' });
  });
}
