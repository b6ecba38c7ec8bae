/**
 * Screenshots of every console page for docs/console/ (README), taken from a running
 * platform: `npx tsx services/console/scripts/screenshots.ts <console url> <compliance token> <operator token> [out dir] [/transactions/<provider>/<id>]`.
 * Uses Debian's chromium through playwright-core (no browser download).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../src/testing/browser.js';

const [url, complianceToken, operatorToken, out = 'docs/console', transactionPath] = process.argv.slice(2);
if (!url || !complianceToken || !operatorToken) {
  process.stderr.write('usage: screenshots.ts <console url> <compliance token> <operator token> [out dir]\n');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const browser = await launchChromium();
try {
  const shoot = async (token: string, pages: Array<[string, string]>) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await page.goto(`${url}/login`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    for (const [path, name] of pages) {
      await page.goto(`${url}${path}`);
      if (path === '/pipeline') await page.waitForTimeout(4_000);
      await page.screenshot({ path: join(out, `${name}.png`), fullPage: false });
      process.stdout.write(`${name}.png\n`);
    }
    await context.close();
  };
  await shoot(complianceToken, [
    ['/pipeline', 'pipeline'],
    ['/compliance', 'compliance-queue'],
  ]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.getByLabel('API token').fill(complianceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.goto(`${url}${transactionPath ?? '/compliance'}`);
  const first = page.locator('table.queue tbody tr a').first();
  if (transactionPath || (await first.count())) {
    if (!transactionPath) await first.click();
    await page.screenshot({ path: join(out, 'transaction.png') });
    process.stdout.write('transaction.png\n');
  }
  await context.close();
  await shoot(operatorToken, [
    ['/dead-letters', 'dead-letters'],
    ['/reconciliation', 'reconciliation'],
  ]);
} finally {
  await browser.close();
}
