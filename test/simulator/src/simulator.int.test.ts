/**
 * The simulator against the real ingress (real Kafka + registry, unique topic prefix):
 * every profile's webhooks are accepted (202), nothing is given up, and
 * webhooks.received.v1 holds every generated event — with the redeliveries on top.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroCodec, waitForHttp, type CanonicalEvent } from '@tidemark/common';
import { SKIP_INTEGRATION, testNamespace } from '@tidemark/common/testing';
import { loadIngressConfig, startIngress, type RunningIngress } from '@tidemark/ingress';
import { createTransport } from '@tidemark/stream';
import { loadScenario } from './adapters/files.js';
import { parseScenario } from './core/scenario.js';
import { PROFILES, keysFromSecrets } from './profiles/profiles.js';
import { generateSecrets, startSimulator, type RunningSimulator } from './runtime.js';

const ns = testNamespace('sim-it-', { client_id: 'sim-it' });
const { config, prefix } = ns;
const EVENTS_TOPIC = 'webhooks.received.v1';

async function readAll(expected_min: number, timeout_ms: number): Promise<CanonicalEvent[]> {
  const codec = new AvroCodec(config.TIDEMARK_REGISTRY_URL, prefix);
  const transport = createTransport(config, `simulator-reader-${prefix}`);
  try {
    const { records, complete } = await transport.readTopic(ns.topic(EVENTS_TOPIC), { records_max: 1_000_000, timeout_ms });
    expect(complete, `read every record within ${timeout_ms} ms`).toBe(true);
    expect(records.length).toBeGreaterThanOrEqual(expected_min);
    return await Promise.all(records.map((r) => codec.decode<CanonicalEvent>(r.value!)));
  } finally {
    await transport.close();
  }
}

describe.skipIf(SKIP_INTEGRATION)('simulator → real ingress (Kafka + registry)', () => {
  let ingress: RunningIngress;
  let simulator: RunningSimulator | null = null;
  const secrets = generateSecrets(['generic', 'ledgerpay', 'custodian-x']);

  beforeAll(async () => {
    await ns.applyTopics();
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
    await waitForHttp(`${ingress.url}/readyz`, 60_000);
  }, 90_000);

  afterAll(async () => {
    await simulator?.stop();
    await ingress?.close();
    await ns.cleanup();
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
