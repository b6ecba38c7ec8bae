/**
 * The screening service on real Kafka, registry and Postgres with the shared stream
 * runtime and the fake risk API as a real HTTP server:
 *  - risk API down → the wallet's events wait in the retry ladder (other wallets keep
 *    flowing), and are screened, in order, when it returns; nothing reaches
 *    events.screened.v1 unscreened;
 *  - REVIEW/BLOCK also go to compliance.alerts.v1, every decision leaves an audit record;
 *  - a re-delivered event gets the identical decision and is counted once in windows.
 * Own topic prefix and own database per run; both removed afterwards.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import type { Consumer, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AvroCodec,
  createIdempotentProducer,
  createMetrics,
  type AuditRecord,
  type CanonicalEvent,
  type ComplianceAlert,
  type ScreenedEvent,
} from '@tidemark/common';
import { freshDatabase, SKIP_INTEGRATION, testNamespace, type FreshDatabase } from '@tidemark/common/testing';
import { runConsumer, type RunningConsumer } from '@tidemark/stream';
import { fakeScore } from './fake-risk-api/scoring.js';
import { startFakeRiskApi, type FakeRiskApi } from './fake-risk-api/server.js';
import { createScreeningHandler, ALERTS_TOPIC, INPUT_TOPIC, SCREENED_TOPIC, SERVICE } from './handler.js';
import { DEFAULT_NAMES_FILE, DEFAULT_RULES_FILE, DEFAULT_SANCTIONS_SOURCE, RulesHolder } from './reference/rules-source.js';
import { SanctionsHolder } from './reference/sanctions-source.js';
import type { RiskApiClient } from './risk/risk-client.js';
import { DecisionStore, migrate } from './store/decision-store.js';
import { makeEvent, testRiskClient } from './testing/fixtures.js';

const ns = testNamespace('cs', { client_id: 'screening-int-test' });
const { kafka, prefix } = ns;
const SCHEMA = 'compliance';
const logger = pino({ level: process.env.TIDEMARK_TEST_LOG_LEVEL ?? 'silent' });
const SANCTIONED_ETH = '0x8589427373D6D84E98730D7795D8f6f8731FDA16'; // Tornado Cash, on the ETH list
const WAIT_MS_MAX = 60_000;

/** A fresh address the fake risk API scores low (a random one is high risk 5 % of the time). */
function lowRiskAddress(): string {
  for (;;) {
    const address = `0x${randomBytes(20).toString('hex')}`;
    if (fakeScore(address).risk_level === 'low') return address;
  }
}

function event(overrides: Partial<CanonicalEvent>): CanonicalEvent {
  const id = randomUUID().slice(0, 12);
  return makeEvent({
    ingress_id: randomUUID(),
    event_id: `evt_${id}`,
    occurred_at_ms: Date.now() - 1_000,
    received_at_ms: Date.now(),
    partition_key: 'wal_a',
    transaction_id: `tx_${id}`,
    wallet_id: 'wal_a',
    amount: '250.5',
    from_address: lowRiskAddress(),
    confirmations: 12,
    ...overrides,
  });
}

async function until<T>(what: string, probe: () => T | undefined | false, timeout_ms = WAIT_MS_MAX): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() - started > timeout_ms) throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(SKIP_INTEGRATION)('compliance screening on Kafka + Postgres (set TIDEMARK_SKIP_INTEGRATION=1 to skip)', () => {
  let db: FreshDatabase;
  let producer: Producer;
  let reader: Consumer;
  let codec: AvroCodec;
  let api: FakeRiskApi;
  let pool: pg.Pool;
  let runtime: RunningConsumer | null = null;
  let risk: RiskApiClient;
  let sanctions: SanctionsHolder;
  const seen = {
    screened: [] as ScreenedEvent[],
    alerts: [] as ComplianceAlert[],
    retry: [] as CanonicalEvent[],
    audit: [] as AuditRecord[],
  };

  async function produce(e: CanonicalEvent): Promise<void> {
    await producer.send({
      topic: ns.topic(INPUT_TOPIC),
      acks: -1,
      messages: [{ key: e.partition_key, value: await codec.encode(INPUT_TOPIC, e) }],
    });
  }
  const screenedOf = (e: CanonicalEvent) => seen.screened.filter((s) => s.event.event_id === e.event_id);

  beforeAll(async () => {
    await ns.applyTopics();
    codec = new AvroCodec(ns.config.TIDEMARK_REGISTRY_URL, prefix);

    db = await freshDatabase('screening_test');
    await migrate(db.url, SCHEMA);
    pool = new pg.Pool({ connectionString: db.url, max: 4 });

    api = await startFakeRiskApi({ host: '127.0.0.1', port: 0 });
    risk = testRiskClient(api.url, { timeout_ms: 500, breaker_volume_threshold: 2, breaker_reset_ms: 500, cache_entries_max: 100 });
    sanctions = await SanctionsHolder.open(DEFAULT_SANCTIONS_SOURCE);
    const reference = await RulesHolder.open({ rules_file: DEFAULT_RULES_FILE, names_file: DEFAULT_NAMES_FILE });
    const handler = createScreeningHandler({
      store: new DecisionStore(pool, SCHEMA),
      risk,
      sanctions: () => sanctions.current,
      reference: () => reference.current,
    });

    producer = createIdempotentProducer(kafka);
    await producer.connect();

    reader = kafka.consumer({ groupId: `${prefix}reader`, readUncommitted: false });
    await reader.connect();
    const topics = {
      [ns.topic(SCREENED_TOPIC)]: 'screened',
      [ns.topic(ALERTS_TOPIC)]: 'alerts',
      [ns.topic(`${SERVICE}.retry.1`)]: 'retry',
      [ns.topic('audit.v1')]: 'audit',
    } as const;
    await reader.subscribe({ topics: Object.keys(topics), fromBeginning: true });
    await reader.run({
      eachMessage: async ({ topic, message }) => {
        const value = await codec.decode<never>(message.value as Buffer);
        (seen[topics[topic] as keyof typeof seen] as unknown[]).push(value);
      },
    });

    runtime = await runConsumer({
      handler,
      logger,
      metrics: createMetrics('compliance-screening-int'),
      config: ns.serviceConfig(db.url),
      retry_delays_ms: [1_000, 2_000, 4_000, 8_000],
      codec,
    });
    await until('the runtime to join its group', () => runtime?.isReady());
  });

  afterAll(async () => {
    await runtime?.stop();
    await reader?.disconnect();
    await producer?.disconnect();
    risk?.shutdown();
    sanctions?.stop();
    await api?.close();
    await pool?.end();
    await ns.cleanup();
    await db?.drop();
  });

  it('screens events, alerts on REVIEW/BLOCK and audits every decision', async () => {
    const clean = event({});
    const blocked = event({ wallet_id: 'wal_b', partition_key: 'wal_b', asset: 'ETH', amount: '1.5', from_address: SANCTIONED_ETH });
    const kyc = event({
      event_type: 'kyc.status_changed',
      transaction_id: null,
      wallet_id: null,
      partition_key: 'cus_1',
      customer_id: 'cus_1',
      asset: null,
      amount: null,
      from_address: null,
      kyc_status: 'approved',
    });
    for (const e of [clean, blocked, kyc]) await produce(e);
    await until('three screened events', () => [clean, blocked, kyc].every((e) => screenedOf(e).length === 1));
    expect(screenedOf(clean)[0]?.screening).toMatchObject({
      decision: 'ALLOW',
      reasons: [],
      sanctions_list_version: sanctions.current.version,
      rules_version: 'tidemark-default@2026-11-23.1',
    });
    expect(screenedOf(kyc)[0]?.screening).toMatchObject({ decision: 'ALLOW', reasons: [] });
    const block = screenedOf(blocked)[0];
    expect(block?.event).toEqual(blocked);
    expect(block?.screening.decision).toBe('BLOCK');
    expect(block?.screening.reasons[0]).toMatchObject({
      code: 'SANCTIONED_ADDRESS',
      matched_value: SANCTIONED_ETH,
      list_version: sanctions.current.version,
    });
    const alert = await until('the alert', () => seen.alerts.find((a) => a.event.event_id === blocked.event_id));
    expect(alert).toMatchObject({ alert_id: `alert:generic:${blocked.event_id}`, severity: 'BLOCK', screening: block?.screening });
    expect(seen.alerts.some((a) => a.event.event_id === clean.event_id)).toBe(false);
    const audit = await until('audit records', () => {
      const mine = seen.audit.filter(
        (a) => a.action === 'screened' && [clean.event_id, blocked.event_id, kyc.event_id].includes(a.event_id ?? ''),
      );
      return mine.length === 3 ? mine : undefined;
    });
    expect(audit.find((a) => a.event_id === blocked.event_id)).toMatchObject({
      stage: SERVICE,
      details: expect.objectContaining({ decision: 'BLOCK' }),
    });
  });

  it('risk API down: the wallet waits in the ladder, others flow, then it is screened in order when the API returns', async () => {
    api.setMode({ mode: 'fail' });
    const first = event({ wallet_id: 'wal_down', partition_key: 'wal_down', amount: '9000' });
    const second = event({
      wallet_id: 'wal_down',
      partition_key: 'wal_down',
      amount: '9500',
      occurred_at_ms: first.occurred_at_ms + 1_000,
    });
    const other = event({
      event_type: 'kyc.status_changed',
      transaction_id: null,
      wallet_id: null,
      partition_key: 'cus_other',
      customer_id: 'cus_other',
      asset: null,
      amount: null,
      from_address: null,
      kyc_status: 'rejected',
    });
    await produce(first);
    await produce(second);
    await produce(other);

    // Another key (no risk call needed) is not held up by the failing wallet.
    await until('the other key to flow', () => screenedOf(other).length === 1);
    await until('the failing event to enter the ladder', () => seen.retry.some((e) => e.event_id === first.event_id));
    // The later event of the same wallet follows it into the ladder instead of overtaking it.
    await until('the later event to follow it', () => seen.retry.some((e) => e.event_id === second.event_id));
    await new Promise((r) => setTimeout(r, 2_500));
    expect(screenedOf(first)).toEqual([]);
    expect(screenedOf(second)).toEqual([]);
    const stored = await pool.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.screening_decisions WHERE event_id = ANY($1)`, [
      [first.event_id, second.event_id],
    ]);
    expect(stored.rows[0].n).toBe(0);

    api.setMode({ mode: 'ok' });
    await until(
      'both events screened after the API returns',
      () => screenedOf(first).length === 1 && screenedOf(second).length === 1,
      WAIT_MS_MAX,
    );
    const order = seen.screened.filter((s) => s.event.wallet_id === 'wal_down').map((s) => s.event.event_id);
    expect(order).toEqual([first.event_id, second.event_id]);
    // Two transfers at 90 % and 95 % of USD 10,000 within 24 h: the second completes a structuring pattern.
    expect(screenedOf(second)[0]?.screening.reasons.map((r) => r.code)).toContain('STRUCTURING');

    // Nothing ever reached events.screened.v1 without a decision made by the full screening.
    for (const s of seen.screened) {
      expect(s.screening.sanctions_list_version).toMatch(/^sha256:/);
      expect(s.screening.rules_version).toBe('tidemark-default@2026-11-23.1');
      expect(['ALLOW', 'REVIEW', 'BLOCK']).toContain(s.screening.decision);
    }
  });

  it('a re-delivered event gets the identical decision and counts once in the window', async () => {
    const original = event({ wallet_id: 'wal_r', partition_key: 'wal_r', amount: '8500' });
    await produce(original);
    await until('the original screened', () => screenedOf(original).length === 1);
    const redelivery = { ...original, ingress_id: randomUUID(), source: 'REPLAY' as const };
    await produce(redelivery);
    await until('the redelivery screened', () => screenedOf(original).length === 2);
    const [a, b] = screenedOf(original);
    expect(b?.screening).toEqual(a?.screening);
    expect(b?.event.ingress_id).toBe(redelivery.ingress_id);
    const rows = await pool.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.screening_decisions WHERE window_key = 'wal_r'`);
    expect(rows.rows[0].n).toBe(1);
  });
});
