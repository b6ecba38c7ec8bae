/**
 * Every patch Tidemark applies to kafkajs' (and, for it, Node's) private internals, in one
 * place. They are needed only where kafkajs runs: the default client is librdkafka
 * (kafka-confluent.ts), which needs none of them. kafkajs is pinned to exactly
 * KAFKAJS_PATCHED_VERSION and `assertPatchedKafkajs()` refuses any other version, so an
 * upgrade cannot silently break a patch; kafkajs-patches.test.ts and
 * kafkajs-patches.int.test.ts test the internals each patch touches.
 *
 * 1. read_committed fix: kafkajs 2.2.4 leaks aborted records when aborted transactions are
 *    listed out of order (every kill -9 of an instance);
 * 2. coordinator cache: kafkajs looks the coordinator up before every transactional request;
 * 3. memoised module resolution: under OpenTelemetry's require hook every kafkajs request
 *    paid a full `require` resolution (kafkajs requires protocol modules per request).
 */
import Module, { createRequire } from 'node:module';

export const KAFKAJS_PATCHED_VERSION = '2.2.4';

/** Throws unless the installed kafkajs is the version the patches were written against. */
export function assertPatchedKafkajs(): void {
  const version = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string }).version;
  if (version !== KAFKAJS_PATCHED_VERSION) {
    throw new Error(
      `kafkajs ${version} is installed, but Tidemark's kafkajs patches (packages/common/src/kafkajs-patches.ts) were written for ${KAFKAJS_PATCHED_VERSION}: ` +
        're-verify each patch against the new version (and its tests), then update KAFKAJS_PATCHED_VERSION',
    );
  }
}

/** Installs the kafkajs patches (idempotent); every kafkajs client Tidemark creates goes through it. */
export function installKafkajsPatches(): void {
  assertPatchedKafkajs();
  installAbortedTransactionFix();
  installCoordinatorCache();
}

// ---------------------------------------------------------------------------
// 1. read_committed: aborted transactions
// ---------------------------------------------------------------------------
/**
 * Fix for kafkajs 2.2.4's read_committed filtering of aborted transactions.
 *
 * kafkajs (src/consumer/filterAbortedMessages.js) walks the fetch response's
 * `abortedTransactions` assuming they are sorted by first offset and activates at
 * most one per record. The broker lists them in the order of their abort markers, so
 * when several producers' transactions in one partition are aborted out of order —
 * exactly what happens when an instance is killed -9 and each input partition's new
 * producer aborts its predecessor's open transaction — aborted records leak to
 * read_committed consumers. Seen here on audit.v1 (written by every partition's
 * producer) in the dedupe crash test; the retry rungs are equally exposed.
 *
 * The fix wraps Broker.prototype.fetch: it computes the aborted records the way the
 * Java client does (aborted transactions ordered by first offset, a producer's records
 * skipped from its first offset until its abort marker), marks them as control
 * records (kafkajs hides those from handlers but still advances past their offsets)
 * and empties `abortedTransactions` so the buggy filter has nothing to do.
 */

const require = createRequire(import.meta.url);
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

export interface FetchedMessage {
  offset: string;
  key?: Buffer | null;
  isControlRecord?: boolean;
  batchContext?: { producerId?: string; inTransaction?: boolean };
}

export interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

/** Marks (in place) the records of aborted transactions as control records; returns how many. */
export function hideAbortedRecords(messages: FetchedMessage[], aborted: AbortedTransaction[]): number {
  if (aborted.length === 0) return 0;
  const queue = [...aborted].sort((a, b) => compare(BigInt(a.firstOffset), BigInt(b.firstOffset)));
  const active = new Set<string>();
  let hidden = 0;
  for (const m of messages) {
    const offset = BigInt(m.offset);
    while (queue.length > 0 && BigInt(queue[0]!.firstOffset) <= offset) active.add(String(queue.shift()!.producerId));
    const producerId = String(m.batchContext?.producerId ?? '');
    if (m.isControlRecord) {
      if (m.key && Buffer.from(m.key).equals(ABORT_MARKER_KEY)) active.delete(producerId);
      continue;
    }
    if (m.batchContext?.inTransaction && active.has(producerId)) {
      m.isControlRecord = true;
      hidden++;
    }
  }
  return hidden;
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

let abortedFixInstalled = false;

export function installAbortedTransactionFix(): void {
  if (abortedFixInstalled) return;
  abortedFixInstalled = true;
  const Broker = require('kafkajs/src/broker/index.js') as { prototype: { fetch: (...args: unknown[]) => Promise<unknown> } };
  const original = Broker.prototype.fetch;
  Broker.prototype.fetch = async function patchedFetch(this: unknown, ...args: unknown[]) {
    const response = (await original.apply(this, args)) as {
      responses?: Array<{ partitions?: Array<{ abortedTransactions?: AbortedTransaction[] | null; messages?: FetchedMessage[] }> }>;
    };
    for (const topic of response.responses ?? []) {
      for (const p of topic.partitions ?? []) {
        if (p.abortedTransactions && p.abortedTransactions.length > 0) {
          hideAbortedRecords(p.messages ?? [], p.abortedTransactions);
          p.abortedTransactions = [];
        }
      }
    }
    return response;
  };
}

// ---------------------------------------------------------------------------
// 2. Transaction coordinator cache
// ---------------------------------------------------------------------------
/**
 * Coordinator cache for kafkajs 2.2.4.
 *
 * kafkajs asks the cluster for the coordinator (FindCoordinator) on every transactional
 * step: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn (transaction coordinator) and
 * TxnOffsetCommit (group coordinator) each send a FindCoordinator request first, so a
 * transaction costs nine round trips instead of five. Measured in the end-to-end bench at
 * 100 events/s: 4 FindCoordinator requests per transaction in every consumer service.
 * The Java client looks a coordinator up once and again only after a coordinator error.
 *
 * The cache wraps Cluster.prototype.findGroupCoordinator: per cluster (client) instance,
 * per (coordinator type, group or transactional id), it remembers the coordinator's node
 * id and answers from the broker pool. An entry is dropped
 *  - when any coordinator request (the transactional and group APIs below) fails with an
 *    error other than CONCURRENT_TRANSACTIONS (stale coordinator, lost connection, …),
 *    so kafkajs' own retry finds the coordinator afresh, as it would without the cache;
 *  - after ENTRY_TTL_MS, as a backstop;
 *  - when the broker pool no longer knows the node.
 */

// (uses the module-level `require` above)
const ENTRY_TTL_MS = 30_000;

/** Broker methods that talk to a coordinator; a failure of one may mean the coordinator moved. */
const COORDINATOR_APIS = [
  'initProducerId',
  'addPartitionsToTxn',
  'addOffsetsToTxn',
  'txnOffsetCommit',
  'endTxn',
  'joinGroup',
  'syncGroup',
  'heartbeat',
  'leaveGroup',
  'offsetCommit',
  'offsetFetch',
] as const;

/** Errors that say nothing about where the coordinator is (retried by kafkajs as they are). */
const KEEP_ON = new Set(['CONCURRENT_TRANSACTIONS']);

interface Entry {
  node_id: number;
  at_ms: number;
  generation: number;
}

/** Bumped on every coordinator failure anywhere: entries from an older generation are stale. */
let generation = 0;
const caches = new WeakMap<object, Map<string, Entry>>();

/** Whether a failed coordinator request should make cached coordinators stale. */
export function invalidatesCoordinator(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return !(typeof type === 'string' && KEEP_ON.has(type));
}

type FindArgs = { groupId: string; coordinatorType?: number };
interface ClusterLike {
  findBroker(args: { nodeId: number }): Promise<{ nodeId: number | null } | undefined>;
}

let coordinatorCacheInstalled = false;

export function installCoordinatorCache(): void {
  if (coordinatorCacheInstalled) return;
  coordinatorCacheInstalled = true;
  const Cluster = require('kafkajs/src/cluster/index.js') as { prototype: Record<string, unknown> };
  const Broker = require('kafkajs/src/broker/index.js') as { prototype: Record<string, unknown> };

  const original = Cluster.prototype.findGroupCoordinator as (this: ClusterLike, args: FindArgs) => Promise<{ nodeId: number | null }>;
  Cluster.prototype.findGroupCoordinator = async function cachedFindGroupCoordinator(this: ClusterLike, args: FindArgs) {
    let cache = caches.get(this);
    if (!cache) {
      cache = new Map();
      caches.set(this, cache);
    }
    const key = `${args.coordinatorType ?? 0}\u0000${args.groupId}`;
    const entry = cache.get(key);
    if (entry && entry.generation === generation && Date.now() - entry.at_ms < ENTRY_TTL_MS) {
      const broker = await this.findBroker({ nodeId: entry.node_id }).catch(() => undefined);
      if (broker) return broker;
    }
    cache.delete(key);
    const seen = generation;
    const broker = await original.call(this, args);
    if (typeof broker?.nodeId === 'number') cache.set(key, { node_id: broker.nodeId, at_ms: Date.now(), generation: seen });
    return broker;
  };

  for (const api of COORDINATOR_APIS) {
    const method = Broker.prototype[api] as (...args: unknown[]) => Promise<unknown>;
    Broker.prototype[api] = async function invalidatingOnFailure(this: unknown, ...args: unknown[]) {
      try {
        return await method.apply(this, args);
      } catch (err) {
        if (invalidatesCoordinator(err)) generation++;
        throw err;
      }
    };
  }
}

// ---------------------------------------------------------------------------
// 3. Memoised module resolution (only installed when the kafkajs client runs traced)
// ---------------------------------------------------------------------------
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

const ENTRIES_MAX = 50_000;

type Resolve = (request: string, parent: { path?: string } | null | undefined, isMain?: boolean, options?: unknown) => string;

let resolveCacheInstalled = false;

export function installRequireResolveCache(): void {
  if (resolveCacheInstalled) return;
  resolveCacheInstalled = true;
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
