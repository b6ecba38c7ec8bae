/**
 * Server-side HTML: every interpolated value goes through `esc` (the `html` tag escapes
 * substitutions unless they are already `Html`). No inline scripts or styles, so the
 * Content-Security-Policy can stay `'self'` only.
 */
import type { Session } from './core/session.js';
import { may } from './core/session.js';

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

type Part = Html | string | number | boolean | null | undefined | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (Array.isArray(part)) return part.map(render).join('');
  if (part instanceof Html) return part.value;
  return esc(part);
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

export const NAV = [
  { href: '/pipeline', label: 'Pipeline' },
  { href: '/compliance', label: 'Compliance queue' },
  { href: '/transactions', label: 'Transaction' },
  { href: '/dead-letters', label: 'Dead letters' },
  { href: '/reconciliation', label: 'Reconciliation' },
] as const;

export function csrfField(session: Session): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}" />`;
}

export function layout(
  opts: { title: string; session: Session | null; current?: string; flash?: string | null; error?: string | null },
  body: Html,
): string {
  const { session } = opts;
  const nav = session
    ? html`<nav aria-label="Main">
        <ul>
          ${NAV.map(
            (n) => html`<li><a href="${n.href}" ${opts.current === n.href ? new Html(' aria-current="page"') : ''}>${n.label}</a></li>`,
          )}
        </ul>
        <form method="post" action="/logout" class="signout">
          ${csrfField(session)}<span class="who">${session.name} (${session.role})</span> <button type="submit">Sign out</button>
        </form>
      </nav>`
    : '';
  return `<!doctype html>${
    html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · Tidemark console</title><link rel="stylesheet" href="/assets/console.css"><link rel="icon" href="data:,"><script src="/assets/console.js" defer></script></head>
<body${session ? html` data-role="${session.role}"` : ''}><a class="skip" href="#main">Skip to content</a>
<header><span class="brand">Tidemark</span>${nav}</header>
<main id="main" tabindex="-1"><h1>${opts.title}</h1>
${opts.flash ? html`<p class="flash" role="status">${opts.flash}</p>` : ''}${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
${body}</main></body></html>`.value
  }`;
}

/**
 * One form per transaction: a required reason and a button per allowed action (each
 * posts to its own path); only rendered for roles that may act. Release asks first; Note
 * comes first in the form, so Enter in the reason field (implicit submission) only adds a note.
 */
export function actionsForm(
  session: Session,
  base: string,
  id: string,
  allowed: { release: boolean; escalate: boolean; release_question?: string },
  extra: Html = new Html(''),
): Html {
  if (!may(session.role, 'compliance')) return html``;
  return html`<form method="post" action="${base}/note" class="action">
    ${csrfField(session)}${extra} <label for="${id}">Reason</label
    ><input id="${id}" name="reason" required maxlength="500" autocomplete="off" placeholder="why (audited)" />
    <button type="submit" formaction="${base}/note" class="secondary">Note</button>
    ${allowed.release ? html`<button type="submit" formaction="${base}/release" data-confirm="${allowed.release_question ?? 'Release the held funds?'}">Release</button>` : ''}
    ${allowed.escalate ? html`<button type="submit" formaction="${base}/escalate" class="danger">Escalate</button>` : ''}
  </form>`;
}

/** "3 min", "2 h", "4 d" since `iso`. */
export function age(iso: string, now_ms: number = Date.now()): string {
  const s = Math.max(0, Math.round((now_ms - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

export function txLink(provider: string, transaction_id: string): Html {
  return html`<a href="/transactions/${encodeURIComponent(provider)}/${encodeURIComponent(transaction_id)}">${transaction_id}</a>`;
}

export function decisionBadge(decision: string): Html {
  return html`<span class="badge badge-${decision.toLowerCase()}">${decision}</span>`;
}

/** A data table: a column header per entry of `columns` (null: a column left out), then `rows`. */
export function dataTable(
  columns: Array<Html | string | null>,
  rows: Html[],
  attrs: { id?: string; class?: string; caption?: string } = {},
): Html {
  return html`<table${attrs.id ? html` id="${attrs.id}"` : ''}${attrs.class ? html` class="${attrs.class}"` : ''}>
    ${
      attrs.caption
        ? html`<caption class="sr-only">
            ${attrs.caption}
          </caption>`
        : ''
    }
    <thead>
      <tr>
        ${columns.filter((c) => c !== null).map((c) => html`<th scope="col">${c}</th>`)}
      </tr>
    </thead>
    <tbody>${rows}</tbody>
  </table>`;
}

/** One labelled value of a `<dl class="facts">` (`dd_id`: an id on the value, for tests and scripts). */
export function fact(label: Part, value: Part, dd_id?: string): Html {
  return html`<div>
    <dt>${label}</dt>
    <dd${dd_id ? html` id="${dd_id}"` : ''}>${value}</dd>
  </div>`;
}
