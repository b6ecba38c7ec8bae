/**
 * Broker faults of the chaos suite's cluster mode (TIDEMARK_KAFKA_NODES=3, see deploy/local/README.md):
 *  - kill -9 of the leader broker of a random partition of the pipeline's input topic, restarted
 *    after a few seconds;
 *  - kill -9 of the active KRaft controller, restarted after a few seconds;
 *  - one broker kept down for minutes while traffic flows (replication 3, min.insync.replicas 2:
 *    writes with acks=all go on), then started again.
 * Each fault is recorded with when it happened and how long the node took to be healthy again.
 */
import type { Admin } from 'kafkajs';

export type BrokerFaultKind = 'kill-leader' | 'kill-controller' | 'down';

export interface BrokerFault {
  kind: BrokerFaultKind;
  component: string;
  node_id: number;
  at: string;
  /** Share of events acknowledged when the fault started (%). */
  progress: number;
  /** How long the node was down (kill to start of its restart). */
  down_ms: number;
  /** Start of the restart until the node was healthy again. */
  recovery_ms: number;
  error: string | null;
}

/** When each fault starts (share of events acknowledged) and, for `down`, how long the broker stays down. */
export const CLUSTER_FAULT_PLAN: ReadonlyArray<{ kind: BrokerFaultKind; at: number }> = [
  { kind: 'kill-leader', at: 0.2 },
  { kind: 'kill-controller', at: 0.45 },
  { kind: 'down', at: 0.7 },
];
export const BROKER_DOWN_MS = Number.parseInt(process.env.TIDEMARK_CHAOS_BROKER_DOWN_MS ?? '120000', 10);
const KILL_RESTART_DELAY_MS: [number, number] = [1_000, 5_000];
const RESTART_ATTEMPTS_MAX = 3;

const infra = () => import('@tidemark/local-infra');

export async function clusterMode(): Promise<boolean> {
  return (await infra()).infraKafkaNodes().length >= 3;
}

async function leaderOfRandomPartition(admin: Admin, topic: string): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  const partitions = meta.topics[0]?.partitions ?? [];
  const p = partitions[Math.floor(Math.random() * partitions.length)];
  if (!p || p.leader < 0) throw new Error(`no leader known for a partition of ${topic}`);
  return p.leader;
}

/** The node a fault of `kind` hits: a partition leader, the active controller, or (down) any node but the controller. */
async function victimOf(kind: BrokerFaultKind, admin: Admin, topic: string) {
  const { infraKafkaNodes, kafkaActiveController } = await infra();
  const nodes = infraKafkaNodes();
  const controller = kafkaActiveController()?.node ?? null;
  if (kind === 'kill-controller') {
    if (!controller) throw new Error('no active KRaft controller found');
    return controller;
  }
  if (kind === 'kill-leader') {
    const id = await leaderOfRandomPartition(admin, topic);
    const node = nodes.find((n) => n.node_id === id);
    if (!node) throw new Error(`leader ${id} is not one of the local nodes`);
    return node;
  }
  const others = nodes.filter((n) => n.component !== controller?.component);
  return others[Math.floor(Math.random() * others.length)]!;
}

/**
 * Runs one fault. Kills are restarted after a few seconds and awaited; `down` returns once the node is
 * dead with `restored`, a promise that starts it again after `down_ms` (the run keeps going meanwhile).
 */
export async function brokerFault(
  kind: BrokerFaultKind,
  opts: { admin: Admin; topic: string; progress: number; down_ms?: number; log: (line: string) => void },
): Promise<{ fault: BrokerFault; restored: Promise<void> }> {
  const { startComponent, stopComponent } = await infra();
  const started = Date.now();
  const fault: BrokerFault = {
    kind,
    component: '?',
    node_id: -1,
    at: new Date(started).toISOString(),
    progress: opts.progress,
    down_ms: 0,
    recovery_ms: 0,
    error: null,
  };
  try {
    const node = await victimOf(kind, opts.admin, opts.topic);
    fault.component = node.component;
    fault.node_id = node.node_id;
    await stopComponent(node.component, { signal: 'SIGKILL' });
    opts.log(`${kind}: kill -9 broker ${node.node_id} (${node.component}) at ${opts.progress}% acknowledged`);
  } catch (err) {
    fault.error = (err as Error).message;
    return { fault, restored: Promise.resolve() };
  }
  const [lo, hi] = KILL_RESTART_DELAY_MS;
  const down_ms = kind === 'down' ? (opts.down_ms ?? BROKER_DOWN_MS) : lo + Math.floor(Math.random() * (hi - lo));
  const restored = (async () => {
    await new Promise((r) => setTimeout(r, down_ms));
    fault.down_ms = Date.now() - started;
    const t0 = Date.now();
    // Log recovery after kill -9 can outlast one health wait (120 s) on a loaded machine: a node that is
    // still starting is waited for again, up to RESTART_ATTEMPTS_MAX waits in all.
    for (let attempt = 1; ; attempt++) {
      try {
        await startComponent(fault.component, { log: (line) => opts.log(`  ${line}`) });
        fault.error = null;
        break;
      } catch (err) {
        fault.error = (err as Error).message.split('\n')[0]!;
        if (attempt >= RESTART_ATTEMPTS_MAX || !/still running/.test(fault.error)) break;
        opts.log(`${kind}: broker ${fault.node_id} not healthy yet (wait ${attempt}); waiting again`);
      }
    }
    fault.recovery_ms = Date.now() - t0;
    opts.log(`${kind}: broker ${fault.node_id} back after ${fault.down_ms} ms down + ${fault.recovery_ms} ms to health`);
  })();
  if (kind !== 'down') await restored;
  return { fault, restored };
}
