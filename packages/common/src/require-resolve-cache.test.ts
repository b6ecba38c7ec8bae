import Module from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { installRequireResolveCache } from './require-resolve-cache.js';

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
