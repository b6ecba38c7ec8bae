import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Platform, processEnv, RESTART_DELAY_MS } from './platform.js';

const ADMIN_URL = 'postgres://tidemark:tidemark@127.0.0.1:55432/tidemark';

describe('the environment of a started process', () => {
  it('never inherits the admin database URL: a process gets one only from its own spec', () => {
    const parent = { TIDEMARK_DATABASE_URL: ADMIN_URL, TIDEMARK_LOG_LEVEL: 'info' };
    const ingress = processEnv(
      parent,
      { TIDEMARK_TOPIC_PREFIX: 'p.' },
      { name: 'ingress', entry: 'x.ts', env: { TIDEMARK_INGRESS_PORT: '1' } },
    );
    expect(ingress.TIDEMARK_DATABASE_URL).toBeUndefined();
    expect(ingress).toMatchObject({ TIDEMARK_LOG_LEVEL: 'info', TIDEMARK_TOPIC_PREFIX: 'p.', TIDEMARK_INGRESS_PORT: '1' });
    // Nor from the Platform's base environment.
    expect(processEnv({}, { TIDEMARK_DATABASE_URL: ADMIN_URL }, { name: 'risk-api', entry: 'x.ts' }).TIDEMARK_DATABASE_URL).toBeUndefined();
    const own = 'postgres://tidemark_console:tidemark_console@127.0.0.1:55432/tidemark';
    const console_env = processEnv(parent, {}, { name: 'console', entry: 'x.ts', env: { TIDEMARK_DATABASE_URL: own } });
    expect(console_env.TIDEMARK_DATABASE_URL).toBe(own);
  });
});

describe('a supervised process', () => {
  const fixture = 'apps/cli/src/fixtures/fails-once.ts';

  it('is started again after it exits with a failure, and not after it was stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'platform-'));
    const marker = join(dir, 'marker');
    const platform = new Platform({}, dir);
    const restarts: Array<{ name: string; exit: string }> = [];
    platform.onRestart = (name, exit) => restarts.push({ name, exit });
    try {
      platform.start({ name: 'fails-once', entry: fixture, args: [marker], restart_on_failure: true });
      await waitUntil(() => existsSync(`${marker}.second`), 30_000);
      expect(restarts).toEqual([{ name: 'fails-once', exit: 'code 70' }]);
      expect(platform.lastExit('fails-once')).toBe('code 70');
      expect(platform.isRunning('fails-once')).toBe(true);
      await platform.stop('fails-once');
      await new Promise((r) => setTimeout(r, RESTART_DELAY_MS + 500));
      expect(platform.isRunning('fails-once')).toBe(false);
      expect(restarts).toHaveLength(1);
    } finally {
      await platform.stopAll();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('is left alone when it does not ask for restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'platform-'));
    const marker = join(dir, 'marker');
    const platform = new Platform({}, dir);
    try {
      platform.start({ name: 'fails-once', entry: fixture, args: [marker] });
      await waitUntil(() => existsSync(marker) && !platform.isRunning('fails-once'), 30_000);
      await new Promise((r) => setTimeout(r, RESTART_DELAY_MS + 500));
      expect(existsSync(`${marker}.second`)).toBe(false);
      expect(platform.isRunning('fails-once')).toBe(false);
    } finally {
      await platform.stopAll();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

async function waitUntil(cond: () => boolean, timeout_ms: number): Promise<void> {
  const until = Date.now() + timeout_ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeout_ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
