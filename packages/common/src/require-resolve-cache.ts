/**
 * Memoised CommonJS module resolution, for processes traced with OpenTelemetry.
 *
 * OpenTelemetry's Node instrumentations hook `require` (require-in-the-middle), and that
 * hook calls `Module._resolveFilename` on every non-core `require` to see whether the
 * module is one it patches. kafkajs requires its protocol modules lazily on every
 * request (`require('./v1/request')` inside each Broker call), so every Kafka request
 * paid for a full resolution — through tsx's resolver when running from source.
 * Profiled at 100 events/s end to end, that was 18–24 % of each consumer service's CPU.
 *
 * Node itself caches relative resolutions per (parent directory, request) inside
 * `Module._load`; this cache does the same for `Module._resolveFilename`, for plain
 * calls only (no `options`, not the main module), and never caches a failure. A
 * resolution only changes when files appear or disappear under node_modules while the
 * process runs, which a service does not do.
 */
import Module from 'node:module';

const ENTRIES_MAX = 50_000;

type Resolve = (request: string, parent: { path?: string } | null | undefined, isMain?: boolean, options?: unknown) => string;

let installed = false;

export function installRequireResolveCache(): void {
  if (installed) return;
  installed = true;
  const mod = Module as unknown as { _resolveFilename: Resolve };
  const original = mod._resolveFilename;
  const cache = new Map<string, string>();
  mod._resolveFilename = function cachedResolveFilename(this: unknown, request, parent, isMain, options) {
    if (isMain || options !== undefined || !parent?.path) return original.call(this, request, parent, isMain, options);
    const key = `${parent.path}\u0000${request}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const filename = original.call(this, request, parent, isMain, options);
    if (cache.size < ENTRIES_MAX) cache.set(key, filename);
    return filename;
  };
}
