/**
 * What every route group of the console shares: the options, the constants, the small
 * request helpers, the page renderer, the ledger client (as the signed-in user) and the
 * role check. createConsole (app.ts) builds one ConsoleContext per app and hands it to
 * each route group's register function.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger, Metrics, ReadinessCheck } from '@tidemark/common';
import type { ApiToken } from '@tidemark/ledger-projector';
import type { DlqContext } from '@tidemark/stream';
import { may, type ConsoleAction, type Session, SessionStore } from '../core/session.js';
import { Html, html, layout } from '../html.js';
import type { PipelineMonitor } from '../pipeline-monitor.js';
import type { Reconciliations } from '../reconciliation.js';

export const COOKIE = 'tidemark_console';
export const FORM_BODY_LIMIT = '16kb';
export const REASON_LENGTH_MAX = 500;
export const SIGN_IN_FAILURES_PER_MINUTE_MAX = 20;
export const DLQ_IDS_PER_ACTION_MAX = 500;

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

export interface Locals {
  session: Session;
}

export function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.header('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

export function str(value: unknown, max = 256): string | undefined {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= max ? value.trim() : undefined;
}

export const DONE_MESSAGES: Record<string, string> = {
  released: 'Released: the held funds are available.',
  already_released: 'Already released.',
  awaiting_second_approval: 'Release requested: above the four-eyes amount, a second compliance officer must release it too.',
  escalated: 'Escalated to BLOCK: the funds stay held.',
  already_blocked: 'Already BLOCKed.',
  noted: 'Note recorded.',
};

export function page(
  res: Response,
  status: number,
  title: string,
  body: Html,
  extra: { session?: Session | null; current?: string; flash?: string | null; error?: string | null } = {},
): void {
  res.status(status).type('html').setHeader('cache-control', 'no-store');
  res.send(
    layout(
      {
        title,
        session: extra.session ?? (res.locals as Partial<Locals>).session ?? null,
        current: extra.current,
        flash: extra.flash,
        error: extra.error,
      },
      body,
    ),
  );
}

/** The signed-in session (set by the session gate in routes/session.ts). */
export const sessionOf = (res: Response) => (res.locals as Locals).session;

/** A call to the ledger API with the signed-in user's own token. */
export type LedgerClient = <T>(
  session: Session,
  path: string,
  init?: { method?: string; body?: unknown },
) => Promise<{ status: number; body: T }>;

export interface ConsoleContext {
  opts: ConsoleOptions;
  sessions: SessionStore;
  logger: Logger;
  /** console_actions_total */
  actions: { inc(labels: { action: string; outcome: string }): void };
  ledger: LedgerClient;
  /** Middleware: refuses (403) unless the session's role may do `action`. */
  requireAction: (action: ConsoleAction) => (req: Request, res: Response, next: NextFunction) => void;
}

export function createContext(opts: ConsoleOptions): ConsoleContext {
  const { sessions, logger, metrics } = opts;
  const actions = metrics.counter('console_actions_total', 'Console actions', ['action', 'outcome']);

  // ---- ledger API, as the signed-in user ----------------------------------------------

  async function ledger<T>(
    session: Session,
    path: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${opts.ledger_url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${session.token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
  }

  const requireAction = (action: ConsoleAction) => (req: Request, res: Response, next: NextFunction) => {
    const session = sessionOf(res);
    if (!may(session.role, action)) {
      actions.inc({ action: `${req.method} ${req.path.split('/')[1] ?? ''}`, outcome: 'forbidden' });
      logger.warn({ user: session.name, role: session.role, path: req.path }, 'console: action refused for the role');
      return page(res, 403, 'Forbidden', html`<p>Your role (${session.role}) may not do this.</p>`);
    }
    next();
  };

  return { opts, sessions, logger, actions, ledger, requireAction };
}
