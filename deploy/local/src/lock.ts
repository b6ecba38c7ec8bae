/**
 * A cross-process lock file (pid inside) so two `infra up` runs never start duplicates. Calls within one
 * process are queued too (not re-entrant: don't call withLock inside withLock for the same file).
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { isAlive, sleep } from './proc.js';

const queues = new Map<string, Promise<unknown>>();

export interface LockOptions {
  wait_timeout_ms: number;
  log?: (line: string) => void;
}

export function withLock<T>(file: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(async () => {
      await acquire(file, opts);
      try {
        return await fn();
      } finally {
        release(file);
      }
    });
  queues.set(
    file,
    run.catch(() => undefined),
  );
  return run;
}

async function acquire(file: string, opts: LockOptions): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const deadline = Date.now() + opts.wait_timeout_ms;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(file, 'utf8').trim());
    } catch {
      continue; // vanished between open and read: retry
    }
    if (!Number.isInteger(owner) || owner <= 0 || !isAlive(owner)) {
      rmSync(file, { force: true }); // stale: its owner is gone
      continue;
    }
    if (Date.now() >= deadline) {
      throw new Error(`another tidemark infra operation (pid ${owner}) holds ${file}; gave up after ${opts.wait_timeout_ms} ms`);
    }
    if (!announced) {
      opts.log?.(`waiting for another tidemark infra operation (pid ${owner}) to finish ...`);
      announced = true;
    }
    await sleep(250);
  }
}

function release(file: string): void {
  try {
    if (Number(readFileSync(file, 'utf8').trim()) === process.pid) rmSync(file, { force: true });
  } catch {
    /* already gone */
  }
}
