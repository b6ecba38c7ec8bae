/**
 * Debian's chromium driven by playwright-core — never a downloaded browser. When
 * /usr/bin/chromium is missing it is installed with apt-get (idempotent; needs root),
 * like deploy/local installs PostgreSQL. `chromiumUnavailableReason()` says why a test
 * must skip when that is impossible.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Installs Debian's chromium when missing; returns null when it is there, else why not. */
export function ensureChromium(log: (line: string) => void = () => undefined): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  if (process.platform !== 'linux') return `chromium is not at ${CHROMIUM_PATH} and this is not Linux`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return `chromium is not at ${CHROMIUM_PATH} and installing it needs root (apt-get install chromium)`;
  try {
    execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
  } catch {
    return `chromium is not at ${CHROMIUM_PATH} and apt-get is not available`;
  }
  log('installing chromium with apt-get (once)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env, timeout: 600_000 });
  } catch (err) {
    return `apt-get install chromium failed: ${(err as Error).message}`;
  }
  return existsSync(CHROMIUM_PATH) ? null : `apt-get ran but ${CHROMIUM_PATH} is still missing`;
}

export async function launchChromium(): Promise<Browser> {
  const reason = ensureChromium((line) => process.stderr.write(`${line}\n`));
  if (reason) throw new Error(reason);
  // playwright-core gives every launch a fresh, temporary --user-data-dir of its own (it refuses one in args).
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}
