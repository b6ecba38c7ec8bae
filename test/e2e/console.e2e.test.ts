/**
 * The ops console in a real headless browser (Debian's chromium through playwright-core,
 * never a downloaded browser) against every service as a real process:
 *  - sign in with a token (keyboard only) and watch the Pipeline page's counters move;
 *  - release a REVIEW deposit and see the wallet's available balance change in the read API;
 *  - escalate another REVIEW deposit to BLOCK (funds stay held), with the decision history;
 *  - a dead letter (screening while the risk API was down) is replayed and then projected;
 *  - a reconciliation run started from the page shows its findings;
 *  - a reader sees no action buttons, and the server answers 403 when a reader posts anyway;
 *  - every visible form field has a label, and the browser logs no console errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { signWebhook } from '@tidemark/ingress';
import { ensureChromium, launchChromium } from '@tidemark/console/testing';
import { generateSecrets, parseScenario, startSimulator, type RunningSimulator } from '@tidemark/simulator';
import { eventually } from '../harness/eventually.js';
import { Stack } from '../harness/stack.js';

const SKIP_INFRA = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const CHROMIUM_MISSING = SKIP_INFRA ? null : ensureChromium((line) => process.stderr.write(`${line}\n`));
if (CHROMIUM_MISSING) process.stderr.write(`console browser tests skipped: ${CHROMIUM_MISSING}\n`);
const PORT_BASE = 18_380;
const WAIT_MS = 60_000;

interface TxView {
  decision: string;
  status: string;
  effect: { held: string; available: string };
  history: Array<{ event_type: string }>;
}
interface BalancesView {
  balances: Array<{ asset: string; available: string; held: string; pending: string }>;
}

/** The element's text once it exists (Playwright's own expect lives in @playwright/test, not used here). */
async function textOf(locator: Locator): Promise<string> {
  await locator.first().waitFor({ timeout: 15_000 });
  return (await locator.first().innerText()).trim();
}

function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeout_ms = WAIT_MS): Promise<T> {
  return eventually(what, fn, { timeout_ms, interval_ms: 250 });
}

describe.skipIf(SKIP_INFRA || CHROMIUM_MISSING !== null)('ops console in a browser', () => {
  const secrets = generateSecrets(['generic']);
  const run = Date.now().toString(36);
  const wallet = (name: string) => `wal_console_${run}_${name}`;
  let stack: Stack;
  let statements: RunningSimulator;
  let browser: Browser;
  const consoleErrors: string[] = [];
  /** Pages the tests make the server refuse on purpose (their 4xx is logged by the browser as a failed load). */
  const provokedRefusals: Array<{ path: string; status: number }> = [];
  let n = 0;

  async function send(type: string, tx: string, walletId: string, amount: string, extra: Record<string, unknown> = {}): Promise<void> {
    const id = `evt_console_${run}_${n++}`;
    const body = JSON.stringify({
      id,
      type,
      occurred_at: new Date().toISOString(),
      data: { transaction_id: tx, wallet_id: walletId, asset: 'USDC', network: 'ethereum', amount, ...extra },
    });
    const headers = signWebhook({ type: 'standard-webhooks' }, secrets.TIDEMARK_GENERIC_SECRETS!.split(',')[0]!, body, { delivery_id: id });
    const res = await fetch(`${stack.ingress_url}/webhooks/generic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    expect(res.status, await res.text()).toBeLessThan(300);
  }

  /** A confirmed deposit from a high-risk jurisdiction: screening says REVIEW, the funds are held. */
  async function reviewDeposit(tx: string, walletId: string, amount: string): Promise<void> {
    const counterparty = { counterparty: { name: 'Acme Trading', country: 'KP' } };
    await send('deposit.detected', tx, walletId, amount, counterparty);
    await send('deposit.confirmed', tx, walletId, amount, counterparty);
    await until(`${tx} held under REVIEW`, async () => {
      const { status, body } = await stack.getJson<TxView>(`/v1/transactions/generic/${tx}`);
      return status === 200 && body.status === 'confirmed' && body.decision === 'REVIEW' && body.effect.held === amount;
    });
  }

  async function signIn(token: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${stack.console_url}/pipeline`);
    expect(page.url()).toContain('/login');
    // Keyboard only: the token field has focus on load (autofocus), Enter submits. Typing
    // before autofocus has taken effect loses keystrokes on a busy machine: wait for it.
    await page.locator('#token:focus').waitFor();
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/pipeline');
    return { context, page };
  }

  /** Every visible input/select on the page has an accessible label. */
  async function expectLabelled(page: Page): Promise<void> {
    const unlabelled = (await page.evaluate(`[...document.querySelectorAll('input:not([type=hidden]), select')]
      .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML)`)) as string[];
    expect(unlabelled, page.url()).toEqual([]);
  }

  beforeAll(async () => {
    stack = new Stack(
      {
        port_base: PORT_BASE,
        otlp_endpoint: null,
        env: {
          TIDEMARK_SCREENING_RETRY_DELAYS_MS: '200,500',
          TIDEMARK_RISK_API_BREAKER_RESET_MS: '500',
          TIDEMARK_RISK_API_CACHE_TTL_MS: '0',
          TIDEMARK_CONSOLE_SCRAPE_INTERVAL_MS: '500',
        },
      },
      secrets,
    );
    await stack.setUp();
    await stack.startAll();
    // The provider's statements for the reconciliation: a generated world the ledger has never seen.
    statements = await startSimulator({
      scenario: parseScenario({
        name: 'console-statements',
        seed: 7,
        world: { customers: 3 },
        traffic: { transactions: 12, transactions_per_s: 100 },
      }),
      ingress_url: null,
      start_ms: Date.now() - 120_000,
      listen: { host: '127.0.0.1', port: 0 },
    });
    stack.startService('console', 1, {
      TIDEMARK_GENERIC_STATEMENTS_URL: statements.url!,
      TIDEMARK_RECONCILE_REPORTS_DIR: `reports/console-e2e-${stack.id}`,
    });
    await until('console ready', async () => (await fetch(`${stack.console_url}/readyz`)).ok);
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await statements?.stop().catch(() => undefined);
    await stack?.tearDown();
  }, 120_000);

  it('replays a dead letter from the page, and the event is then projected', async () => {
    // Screening cannot reach the risk API: the event climbs the (short) ladder into the DLQ.
    await stack.platform.stop('risk-api#1');
    const tx = `tx_console_${run}_dlq`;
    await send('deposit.confirmed', tx, wallet('dlq'), '5', {
      from_address: `0x${Buffer.from(run).toString('hex').padStart(40, '7').slice(-40)}`,
    });
    const { context, page } = await signIn(stack.operator_token);
    await until('a dead letter listed', async () => {
      await page.goto(`${stack.console_url}/dead-letters?service=compliance-screening`);
      return (await page.getByRole('checkbox', { name: /^Select compliance-screening:/ }).count()) > 0;
    });
    stack.startService('risk-api');
    await until('risk API back', async () => (await fetch(`${stack.risk_url}/healthz`)).ok);
    await expectLabelled(page);
    await page
      .getByRole('link', { name: /^compliance-screening:/ })
      .first()
      .click();
    expect(await textOf(page.locator('pre').first())).toContain(tx);
    await page.goBack();

    await page
      .getByRole('checkbox', { name: /^Select compliance-screening:/ })
      .first()
      .check();
    await page.getByRole('button', { name: 'Replay selected' }).click(); // dry run is checked by default
    expect(await textOf(page.locator('main'))).toContain('Would replay 1');
    await page.goto(`${stack.console_url}/dead-letters?service=compliance-screening`);
    await page
      .getByRole('checkbox', { name: /^Select compliance-screening:/ })
      .first()
      .check();
    await page.getByRole('checkbox', { name: /dry run/ }).uncheck();
    await page.getByRole('button', { name: 'Replay selected' }).click();
    expect(await textOf(page.locator('main'))).toContain('Replayed 1');
    const projected = await until(`${tx} projected after the replay`, async () => {
      const { status, body } = await stack.getJson<TxView>(`/v1/transactions/generic/${tx}`);
      return status === 200 ? body : null;
    });
    expect(projected.status).toBe('confirmed');
    // Purge needs the typed confirmation (server-side).
    await page.goto(`${stack.console_url}/dead-letters?service=compliance-screening&include_resolved=on`);
    await page
      .getByRole('checkbox', { name: /^Select compliance-screening:/ })
      .first()
      .check();
    provokedRefusals.push({ path: '/dead-letters/act', status: 400 });
    await page.getByRole('button', { name: 'Purge selected' }).click();
    expect(await textOf(page.locator('main'))).toContain('Type PURGE');
    await context.close();
  }, 180_000);

  it('signs in and shows the pipeline moving', async () => {
    const { context, page } = await signIn(stack.compliance_token);
    const accepted = page.locator('[data-stat="accepted"]');
    await until('pipeline numbers', async () => /total \d+/.test((await accepted.textContent()) ?? ''));
    const before = Number(/total (\d+)/.exec((await accepted.textContent())!)![1]);
    for (let i = 0; i < 3; i++) await send('deposit.detected', `tx_console_${run}_move${i}`, wallet('move'), '1');
    await until(
      'accepted counter to rise',
      async () => Number(/total (\d+)/.exec((await accepted.textContent()) ?? '')?.[1] ?? 0) >= before + 3,
      30_000,
    );
    expect(await textOf(page.locator('#services tbody tr[data-service="ledger-projector"]'))).toContain('ready');
    await until('a latency chart', async () => (await page.locator('#latency-chart polyline').count()) > 0, 30_000);
    await expectLabelled(page);
    await context.close();
  }, 120_000);

  it('releases a REVIEW deposit: the available balance changes in the read API; the decision is in the history', async () => {
    const tx = `tx_console_${run}_release`;
    const w = wallet('release');
    await reviewDeposit(tx, w, '100');
    const before = await stack.getJson<BalancesView>(`/v1/wallets/${w}/balances`);
    expect(before.body.balances).toEqual([{ asset: 'USDC', pending: '0', available: '0', held: '100' }]);

    const { context, page } = await signIn(stack.compliance_token);
    await page.goto(`${stack.console_url}/compliance?wallet_id=${w}`);
    await expectLabelled(page);
    const row = page.locator(`tr[data-tx="${tx}"]`);
    expect(await textOf(row)).toContain('REVIEW');
    expect(await textOf(row)).toContain('HIGH_RISK_JURISDICTION');
    // The reason is required: the browser refuses to submit without one.
    await row.getByRole('button', { name: 'Release' }).click();
    expect(page.url()).toContain('/compliance?wallet_id=');
    await row.getByLabel('Reason').fill('counterparty documents verified');
    await row.getByRole('button', { name: 'Release' }).click();
    await page.waitForURL('**/compliance?done=released');
    expect(await textOf(page.locator('.flash'))).toContain('Released');

    const after = await stack.getJson<BalancesView>(`/v1/wallets/${w}/balances`);
    expect(after.body.balances).toEqual([{ asset: 'USDC', pending: '0', available: '100', held: '0' }]);
    await page.goto(`${stack.console_url}/transactions/generic/${tx}`);
    expect(await textOf(page.locator('table.history'))).toContain('released');
    expect(await textOf(page.locator('table.history'))).toContain('e2e-compliance');
    expect(await textOf(page.locator('table.history'))).toContain('counterparty documents verified');
    expect(await textOf(page.locator('[data-available]'))).toBe('100');
    // Balances before/after each entry: the release moved 100 from held to available.
    expect(await textOf(page.locator(`tr[data-event="tidemark-release:${tx}"]`))).toContain('available 0 → 100, held 100 → 0');
    await context.close();
  }, 120_000);

  it('escalates a REVIEW deposit to BLOCK from the transaction page; the funds stay held', async () => {
    const tx = `tx_console_${run}_escalate`;
    const w = wallet('escalate');
    await reviewDeposit(tx, w, '40');
    const { context, page } = await signIn(stack.compliance_token);
    await page.goto(`${stack.console_url}/transactions/generic/${tx}`);
    await page.getByLabel('Reason').fill('matches an open investigation');
    await page.getByRole('button', { name: 'Escalate' }).click();
    await page.waitForURL(`**/transactions/generic/${tx}?done=escalated`);
    expect(await textOf(page.locator('.flash'))).toContain('Escalated');
    expect(await page.getByRole('button', { name: 'Release' }).count()).toBe(0);
    const { body } = await stack.getJson<TxView>(`/v1/transactions/generic/${tx}`);
    expect(body.decision).toBe('BLOCK');
    expect(body.effect).toMatchObject({ held: '40', available: '0' });
    expect(await textOf(page.locator('table.history'))).toContain('matches an open investigation');
    await context.close();
  }, 120_000);

  it('a reader sees no action buttons, and the server refuses a release from a reader (403)', async () => {
    const tx = `tx_console_${run}_reader`;
    const w = wallet('reader');
    await reviewDeposit(tx, w, '7');
    const { context, page } = await signIn(stack.reader_token);
    await page.goto(`${stack.console_url}/compliance?wallet_id=${w}`);
    expect(await textOf(page.locator(`tr[data-tx="${tx}"]`))).toContain('REVIEW');
    for (const name of ['Release', 'Escalate', 'Note']) expect(await page.getByRole('button', { name }).count()).toBe(0);
    await page.goto(`${stack.console_url}/dead-letters`);
    expect(await page.getByRole('button', { name: 'Replay selected' }).count()).toBe(0);
    await page.goto(`${stack.console_url}/reconciliation`);
    expect(await page.getByRole('button', { name: 'Start reconciliation' }).count()).toBe(0);
    // Posting anyway, with the reader's own valid session and CSRF token: the server says no.
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const forged = await page.request.post(`${stack.console_url}/compliance/generic/${tx}/release`, {
      form: { _csrf: csrf, reason: 'I am a reader' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    const replay = await page.request.post(`${stack.console_url}/dead-letters/act`, {
      form: { _csrf: csrf, id: 'compliance-screening:0:0', op: 'replay' },
      maxRedirects: 0,
    });
    expect(replay.status()).toBe(403);
    // Without the CSRF token even a compliance officer's session is refused.
    const { context: officer, page: officerPage } = await signIn(stack.compliance_token);
    const noCsrf = await officerPage.request.post(`${stack.console_url}/compliance/generic/${tx}/release`, {
      form: { reason: 'no csrf' },
      maxRedirects: 0,
    });
    expect(noCsrf.status()).toBe(403);
    // The ledger itself refuses the reader's token too.
    const direct = await fetch(`${stack.ledger_url}/v1/transactions/generic/${tx}/release`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.reader_token}` },
    });
    expect(direct.status).toBe(403);
    const { body } = await stack.getJson<TxView>(`/v1/transactions/generic/${tx}`);
    expect(body.effect.held).toBe('7');
    await officer.close();
    await context.close();
  }, 120_000);

  it('starts a reconciliation from the page and shows its findings', async () => {
    const { context, page } = await signIn(stack.operator_token);
    await page.goto(`${stack.console_url}/reconciliation`);
    await expectLabelled(page);
    await page.getByLabel('Since (ISO 8601)').fill(new Date(Date.now() - 3600_000).toISOString());
    // Healing without the typed confirmation is refused by the server.
    await page.getByRole('checkbox', { name: /^heal \(/ }).check();
    provokedRefusals.push({ path: '/reconciliation/runs', status: 400 });
    await page.getByRole('button', { name: 'Start reconciliation' }).click();
    expect(await textOf(page.locator('main'))).toContain('type HEAL');
    await page.goto(`${stack.console_url}/reconciliation`);
    await page.getByRole('button', { name: 'Start reconciliation' }).click();
    await page.waitForURL('**/reconciliation/jobs/**');
    await until('the run to finish', async () => (await page.locator('#job-state').getAttribute('data-state')) !== 'running', 120_000);
    expect(await page.locator('#job-state').getAttribute('data-state')).toBe('finished');
    expect(await textOf(page.locator('#verdict'))).toBe('NOT OK');
    const findings = page.locator('#findings tbody tr');
    expect(await findings.count()).toBeGreaterThan(0);
    expect(await textOf(page.locator('#findings'))).toContain('missing_in_ledger');
    // The run is listed with the past runs, from its report.
    await page.goto(`${stack.console_url}/reconciliation`);
    expect(await textOf(page.locator('main'))).toContain('NOT OK');
    await context.close();
  }, 180_000);

  it('logged no console errors in the browser (besides the refusals the tests provoked)', () => {
    const provoked = (line: string) =>
      provokedRefusals.some((r) =>
        line.startsWith(`${stack.console_url}${r.path}: Failed to load resource: the server responded with a status of ${r.status}`),
      );
    expect(consoleErrors.filter((line) => !provoked(line))).toEqual([]);
    expect(consoleErrors.filter(provoked).length).toBeLessThanOrEqual(provokedRefusals.length);
  });
});
