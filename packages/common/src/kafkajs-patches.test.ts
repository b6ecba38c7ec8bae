import Module from 'node:module';
import { describe, expect, it } from 'vitest';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assertPatchedKafkajs,
  hideAbortedRecords,
  installRequireResolveCache,
  KAFKAJS_PATCHED_VERSION,
  type FetchedMessage,
} from './kafkajs-patches.js';

const data = (offset: number, pid: string): FetchedMessage => ({
  offset: String(offset),
  key: Buffer.from('k'),
  batchContext: { producerId: pid, inTransaction: true },
});
const abort = (offset: number, pid: string): FetchedMessage => ({
  offset: String(offset),
  key: Buffer.from([0, 0, 0, 0]),
  isControlRecord: true,
  batchContext: { producerId: pid, inTransaction: true },
});
const commit = (offset: number, pid: string): FetchedMessage => ({
  offset: String(offset),
  key: Buffer.from([0, 0, 0, 1]),
  isControlRecord: true,
  batchContext: { producerId: pid, inTransaction: true },
});
const visible = (ms: FetchedMessage[]) => ms.filter((m) => !m.isControlRecord).map((m) => `${m.batchContext!.producerId}@${m.offset}`);

describe('aborted transaction filter (kafkajs fix)', () => {
  it('hides interleaved aborted transactions listed in abort-marker order (the kafkajs bug)', () => {
    // P1 writes 0-1, P2 writes 2-3, P3 commits 4; P2 is aborted first (marker 5), P1 later (marker 6).
    const ms = [data(0, 'P1'), data(1, 'P1'), data(2, 'P2'), data(3, 'P2'), data(4, 'P3'), commit(5, 'P3'), abort(6, 'P2'), abort(7, 'P1')];
    const hidden = hideAbortedRecords(ms, [
      { producerId: 'P2', firstOffset: '2' },
      { producerId: 'P1', firstOffset: '0' },
    ]);
    expect(hidden).toBe(4);
    expect(visible(ms)).toEqual(['P3@4']);
  });

  it('activates several aborted transactions that started before the fetch position', () => {
    const ms = [data(10, 'P2'), data(11, 'P1'), abort(12, 'P1'), abort(13, 'P2'), data(14, 'P1')];
    hideAbortedRecords(ms, [
      { producerId: 'P1', firstOffset: '3' },
      { producerId: 'P2', firstOffset: '5' },
    ]);
    // P1's record at 14 belongs to a later (committed) transaction.
    expect(visible(ms)).toEqual(['P1@14']);
  });

  it('leaves committed and non-transactional records alone', () => {
    const ms: FetchedMessage[] = [
      { offset: '0', key: null, batchContext: { producerId: '-1', inTransaction: false } },
      data(1, 'P1'),
      commit(2, 'P1'),
    ];
    expect(hideAbortedRecords(ms, [])).toBe(0);
    expect(visible(ms)).toEqual(['-1@0', 'P1@1']);
  });
});

type Resolve = (request: string, parent: unknown, isMain?: boolean, options?: unknown) => string;
const mod = Module as unknown as { _resolveFilename: Resolve; _nodeModulePaths(dir: string): string[] };

describe('installRequireResolveCache', () => {
  it('resolves a (directory, request) pair once, never caches a failure, and leaves calls with options alone', () => {
    const underlying = mod._resolveFilename;
    const calls: string[] = [];
    mod._resolveFilename = function counting(this: unknown, request, parent, isMain, options) {
      calls.push(request);
      return underlying.call(this, request, parent, isMain, options);
    };
    installRequireResolveCache();

    const dir = dirname(fileURLToPath(import.meta.url));
    const parent = { path: dir, filename: `${dir}/x.js`, paths: mod._nodeModulePaths(dir) };
    const first = mod._resolveFilename('pg', parent);
    const second = mod._resolveFilename('pg', parent);
    expect(second).toBe(first);
    expect(first).toMatch(/node_modules\/pg\//);
    expect(calls.filter((r) => r === 'pg')).toHaveLength(1);

    expect(() => mod._resolveFilename('no-such-module-tidemark', parent)).toThrow();
    expect(() => mod._resolveFilename('no-such-module-tidemark', parent)).toThrow();
    expect(calls.filter((r) => r === 'no-such-module-tidemark')).toHaveLength(2);

    mod._resolveFilename('pg', parent, false, { paths: [dir] });
    expect(calls.filter((r) => r === 'pg')).toHaveLength(2);
  });
});

describe('kafkajs version pin', () => {
  it('the installed kafkajs is the version the patches were written for', () => {
    expect(() => assertPatchedKafkajs()).not.toThrow();
    expect(KAFKAJS_PATCHED_VERSION).toBe('2.2.4');
  });
});
