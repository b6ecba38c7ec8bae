/** Dead letters: list, show, replay and purge, through @tidemark/stream's DLQ operations. */
import type { Express, Response } from 'express';
import { listDeadLetters, parseDeadLetterId, purgeDeadLetters, replayDeadLetters, showDeadLetter, type DlqFilter } from '@tidemark/stream';
import { may } from '../core/session.js';
import { Html, csrfField, dataTable, fact, html } from '../html.js';
import { DLQ_IDS_PER_ACTION_MAX, page, sessionOf, str, type ConsoleContext } from './shared.js';

const dlqFilterOf = (q: Record<string, unknown>): DlqFilter => {
  const filter: DlqFilter = { limit: 200 };
  if (str(q.service, 64)) filter.service = str(q.service, 64);
  if (str(q.key)) filter.key = str(q.key);
  if (str(q.error)) filter.error_contains = str(q.error);
  if (q.include_resolved === 'on' || q.include_resolved === '1') filter.include_resolved = true;
  return filter;
};

export function registerDeadLetters(app: Express, ctx: ConsoleContext): void {
  registerDeadLetterList(app, ctx);
  registerDeadLetterShow(app, ctx);
  registerDeadLetterActions(app, ctx);
}

function registerDeadLetterList(app: Express, ctx: ConsoleContext): void {
  const { opts } = ctx;

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
          <label for="d-service">Service</label
          ><select id="d-service" name="service">
            <option value="">all</option>
            ${['dedupe', 'compliance-screening', 'ledger-projector'].map((s) => html`<option${filter.service === s ? new Html(' selected') : ''}>${s}</option>`)}
          </select>
          <label for="d-key">Key</label><input id="d-key" name="key" value="${filter.key ?? ''}" />
          <label for="d-error">Error contains</label><input id="d-error" name="error" value="${filter.error_contains ?? ''}" />
          <label
            ><input type="checkbox" name="include_resolved" ${filter.include_resolved ? new Html(' checked') : ''} /> include replayed and
            purged</label
          >
          <button type="submit">Filter</button>
        </form>
        <p class="muted">${entries.length} dead letter(s)${complete ? '' : ' (scan limit reached: narrow the filter)'}.</p>
        <form method="post" action="/dead-letters/act" id="dlq-form">
          ${csrfField(session)}
          ${dataTable(
            [canOperate ? html`<span class="sr-only">Select</span>` : null, 'Id', 'State', 'Key', 'Error', 'Attempts', 'Last failure'],
            entries.map(
              (e, i) =>
                html`<tr>
                  ${canOperate ? html`<td><input type="checkbox" name="id" value="${e.id}" id="dl-${i}" aria-label="Select ${e.id}" /></td>` : ''}
                  <td><a href="/dead-letters/show?id=${encodeURIComponent(e.id)}">${e.id}</a></td>
                  <td>${e.state}</td>
                  <td><code>${e.key ?? ''}</code></td>
                  <td>${e.error_class}: ${e.error_message.slice(0, 160)}</td>
                  <td class="num">${e.attempts}</td>
                  <td>${e.last_failure_at}</td>
                </tr>`,
            ),
            { caption: 'Dead letters' },
          )}
          ${
            canOperate
              ? html`<fieldset>
                  <legend>Act on the selected dead letters</legend>
                  <label><input type="checkbox" name="dry_run" value="1" checked /> dry run (show what would happen)</label>
                  <button type="submit" name="op" value="replay">Replay selected</button>
                  <label for="purge-confirm">Type PURGE to purge</label
                  ><input id="purge-confirm" name="confirm" autocomplete="off" size="8" />
                  <button type="submit" name="op" value="purge" class="danger">Purge selected</button>
                </fieldset>`
              : html`<p class="muted">Read-only: replay and purge need the operator role.</p>`
          }
        </form>`,
      { current: '/dead-letters' },
    );
  });
}

function registerDeadLetterShow(app: Express, ctx: ConsoleContext): void {
  const { opts } = ctx;

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
      html`<dl class="facts">
          ${fact('State', entry.state)} ${fact('Service', entry.service)}
          ${fact('Original', `${entry.original_topic} / ${entry.original_partition} / ${entry.original_offset}`)}
          ${fact('Key', html`<code>${entry.key ?? ''}</code>`)} ${fact('Error', `${entry.error_class}: ${entry.error_message}`)}
          ${fact('Attempts', `${entry.attempts} (${entry.first_failure_at} → ${entry.last_failure_at})`)}
        </dl>
        <h2>Payload (decoded)</h2>
        <pre>${JSON.stringify(entry.value, null, 2)}</pre>
        <h2>Headers</h2>
        <pre>${JSON.stringify(entry.headers, null, 2)}</pre>
        ${
          entry.error_stack
            ? html`<h2>Stack</h2>
                <pre>${entry.error_stack}</pre>`
            : ''
        }`,
      { current: '/dead-letters' },
    );
  });
}

/** The page after a replay or purge: what was (or would be) done, one item per dead letter, then what was skipped. */
function resultPage(res: Response, title: string, summary: string, done: Html[], skipped: Array<{ id: string; reason: string }>): void {
  page(
    res,
    200,
    title,
    html`<p>${summary}; skipped ${skipped.length}.</p>
      <ul class="result">
        ${done}${skipped.map((s) => html`<li>${s.id}: skipped (${s.reason})</li>`)}
      </ul>
      <p><a href="/dead-letters">Back to dead letters</a></p>`,
    { current: '/dead-letters' },
  );
}

function registerDeadLetterActions(app: Express, ctx: ConsoleContext): void {
  const { opts, logger, actions, requireAction } = ctx;

  app.post('/dead-letters/act', requireAction('operate'), async (req, res) => {
    const session = sessionOf(res);
    const raw = req.body?.id;
    const ids = (Array.isArray(raw) ? raw : raw ? [raw] : [])
      .filter((v): v is string => typeof v === 'string')
      .slice(0, DLQ_IDS_PER_ACTION_MAX);
    const op = req.body?.op;
    const dry_run = req.body?.dry_run === '1';
    if (ids.length === 0)
      return page(
        res,
        400,
        'Dead letters',
        html`<p>Select at least one dead letter.</p>
          <p><a href="/dead-letters">Back</a></p>`,
        { current: '/dead-letters' },
      );
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
      logger.info(
        { user: session.name, replayed: report.replayed.length, skipped: report.skipped.length, dry_run },
        'console: dead letters replayed',
      );
      return resultPage(
        res,
        dry_run ? 'Replay (dry run)' : 'Replayed',
        `${dry_run ? 'Would replay' : 'Replayed'} ${report.replayed.length}`,
        report.replayed.map((r) => html`<li>${r.id} → ${r.to_topic}</li>`),
        report.skipped,
      );
    }
    if (op === 'purge') {
      if (req.body?.confirm !== 'PURGE')
        return page(
          res,
          400,
          'Purge not confirmed',
          html`<p>Type PURGE in the confirmation field to purge.</p>
            <p><a href="/dead-letters">Back</a></p>`,
          { current: '/dead-letters' },
        );
      const report = await purgeDeadLetters(ctx, { refs, actor, dry_run });
      actions.inc({ action: dry_run ? 'dlq_purge_dry_run' : 'dlq_purge', outcome: 'ok' });
      logger.info({ user: session.name, purged: report.purged.length, dry_run }, 'console: dead letters purged');
      return resultPage(
        res,
        dry_run ? 'Purge (dry run)' : 'Purged',
        `${dry_run ? 'Would purge' : 'Purged'} ${report.purged.length}`,
        report.purged.map((id) => html`<li>${id}</li>`),
        report.skipped,
      );
    }
    page(res, 400, 'Dead letters', html`<p>Unknown operation.</p>`, { current: '/dead-letters' });
  });
}
