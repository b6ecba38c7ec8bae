/** Sign in / out, and the session gate (session cookie + per-session CSRF token on every POST). */
import type { Express, NextFunction, Request, Response } from 'express';
import { authenticate } from '@tidemark/ledger-projector';
import { safeEqual } from '../core/session.js';
import { html } from '../html.js';
import { COOKIE, SIGN_IN_FAILURES_PER_MINUTE_MAX, cookieOf, page, str, type ConsoleContext, type Locals } from './shared.js';

const signInForm = () =>
  html`<form method="post" action="/login" class="signin">
    <p>Sign in with your Tidemark API token (roles: reader, compliance, operator).</p>
    <label for="token">API token</label
    ><input id="token" name="token" type="password" required autocomplete="current-password" autofocus maxlength="1024" />
    <button type="submit">Sign in</button>
  </form>`;

/** GET/POST /login: public, so registered before the session gate. */
export function registerSignIn(app: Express, ctx: ConsoleContext): void {
  const { opts, sessions, logger } = ctx;
  let signInFailures = { minute: 0, count: 0 };

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
}

/** The gate in front of everything else (session required, CSRF on POST), then /logout and /. */
export function registerSessionGate(app: Express, ctx: ConsoleContext): void {
  const { opts, sessions, logger } = ctx;

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

  app.post('/logout', (req, res) => {
    sessions.destroy(cookieOf(req, COOKIE));
    res.setHeader('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${opts.secure_cookie ? '; Secure' : ''}`);
    res.redirect(303, '/login');
  });

  app.get('/', (_req, res) => res.redirect(303, '/pipeline'));
}
