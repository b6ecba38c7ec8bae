/**
 * The simulator against the real ingress (real Kafka + registry, unique topic prefix):
 * every profile's webhooks are accepted (202), nothing is given up, and
 * webhooks.received.v1 holds every generated event — with the redeliveries on top.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AvroCodec,
  RegistryClient,
  applyTopics,
  baseConfigSchema,
  createKafka,
  kafkaConnection,
  loadConfig,
  topicName,
  type CanonicalEvent,
} from '@tidemark/common';
import { loadIngressConfig, startIngress, type RunningIngress } from '@tidemark/ingress';
import { createTransport } from '@tidemark/stream';
import type { Admin, Kafka } from 'kafkajs';
import { loadScenario } from './adapters/files.js';
import { parseScenario } from './core/scenario.js';
import { PROFILES, keysFromSecrets } from './profiles/profiles.js';
import { generateSecrets, startSimulator, type RunningSimulator } from './runtime.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const config = loadConfig(baseConfigSchema);
const prefix = `sim-it-${randomUUID().slice(0, 8)}.`;
const EVENTS_TOPIC = 'webhooks.received.v1';

async function readAll(expected_min: number, timeout_ms: number): Promise<CanonicalEvent[]> {
  const codec = new AvroCodec(config.TIDEMARK_REGISTRY_URL, prefix);
  const transport = createTransport(config, `simulator-reader-${prefix}`);
  try {
    const { records, complete } = await transport.readTopic(topicName(EVENTS_TOPIC, prefix), { records_max: 1_000_000, timeout_ms });
    expect(complete, `read every record within ${timeout_ms} ms`).toBe(true);
    expect(records.length).toBeGreaterThanOrEqual(expected_min);
    return await Promise.all(records.map((r) => codec.decode<CanonicalEvent>(r.value!)));
  } finally {
    await transport.close();
  }
}

describe.skipIf(SKIP)('simulator → real ingress (Kafka + registry)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let registry: RegistryClient;
  let ingress: RunningIngress;
  let simulator: RunningSimulator | null = null;
  const secrets = generateSecrets(['generic', 'ledgerpay', 'custodian-x']);

  beforeAll(async () => {
    kafka = createKafka({ ...kafkaConnection(config), client_id: `sim-it-${prefix}` });
    admin = kafka.admin();
    await admin.connect();
    registry = new RegistryClient(config.TIDEMARK_REGISTRY_URL);
    await applyTopics(admin, registry, { prefix });
    const env = {
      ...process.env,
      ...secrets,
      TIDEMARK_TOPIC_PREFIX: prefix,
      TIDEMARK_INGRESS_HOST: '127.0.0.1',
      TIDEMARK_INGRESS_PORT: '0',
      TIDEMARK_LOG_LEVEL: 'warn',
    };
    ingress = await startIngress(loadIngressConfig(env), { env });
    // Ingress answers 503 until its Kafka producer is connected (a TLS + SCRAM login on the secured broker).
    const until = Date.now() + 60_000;
    while ((await fetch(`${ingress.url}/readyz`).catch(() => null))?.status !== 200) {
      if (Date.now() > until) throw new Error('ingress not ready within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 90_000);

  afterAll(async () => {
    await simulator?.stop();
    await ingress?.close();
    if (admin) {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
      for (const subject of (await registry.subjects()).filter((s) => s.startsWith(prefix)))
        await registry.deleteSubject(subject).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('every profile is accepted and every event reaches webhooks.received.v1 (redeliveries included)', async () => {
    const e2e = loadScenario('e2e');
    const scenario = parseScenario({ ...e2e, traffic: { ...e2e.traffic, transactions: 150 } });
    const keys = Object.fromEntries(Object.values(PROFILES).map((p) => [p.id, keysFromSecrets(p, secrets[p.secrets_env]!)]));
    simulator = await startSimulator({ scenario, ingress_url: ingress.url, keys, listen: null });
    const status = await simulator.done;

    expect(status.phase).toBe('done');
    expect(status.delivery.abandoned).toBe(0);
    expect(status.delivery.rejected).toBe(0);
    expect(Object.keys(status.delivery.status_counts)).toEqual(['202']);
    const truth = simulator.sim.truth;
    expect(truth.summary().acknowledged).toBe(truth.event_count);

    const records = await readAll(truth.event_count, 60_000);
    const ours = records.filter((r) => r.event_id.includes(`_${simulator!.sim.namespace}_`));
    const distinct = new Map(ours.map((r) => [`${r.provider}|${r.event_id}`, r]));
    expect(distinct.size).toBe(truth.event_count);
    // One record per acknowledged delivery (duplicates included); a timed-out attempt may have been written too.
    expect(ours.length).toBeGreaterThanOrEqual(status.delivery.acknowledged);
    expect(ours.length).toBeLessThanOrEqual(status.delivery.attempts);
    expect(new Set(ours.map((r) => r.provider))).toEqual(new Set(['generic', 'ledgerpay', 'custodian-x']));
    for (const record of truth.transactions()) {
      for (const e of record.events) {
        const c = distinct.get(`${record.tx.provider}|${e.id}`);
        expect(c, e.id).toBeDefined();
        expect(c!.event_type).toBe(e.type);
        expect(c!.transaction_id).toBe(record.tx.transaction_id);
        expect(c!.wallet_id).toBe(record.tx.wallet_id);
        expect(c!.partition_key).toBe(record.tx.wallet_id);
      }
    }
  }, 180_000);
});
