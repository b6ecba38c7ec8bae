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
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
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

let installed = false;

export function installCoordinatorCache(): void {
  if (installed) return;
  installed = true;
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
