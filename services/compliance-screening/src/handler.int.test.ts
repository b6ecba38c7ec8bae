/**
 * The handler called directly against real Postgres (own schema per run) and the fake
 * risk API as a real HTTP server: failure classes, nothing stored for a screening
 * that could not complete, replays identical even after the rules change.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent, ComplianceAlert } from '@tidemark/common';
import { PermanentError, TransientError, type InputRecord } from '@tidemark/stream';
import { startFakeRiskApi, type FakeRiskApi } from './fake-risk-api/server.js';
import { createScreeningHandler } from './handler.js';
import { parseRules } from './core/rules.js';
import { DecisionStore, migrate } from './store/decision-store.js';
import type { RiskApiClient } from './risk/risk-client.js';
import { loadDefaultReference, makeEvent, testRiskClient, type Reference } from './testing/fixtures.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const DATABASE_URL = process.env.TIDEMARK_DATABASE_URL ?? 'postgres://tidemark:tidemark@127.0.0.1:55432/tidemark';
const SCHEMA = `cs_handler_${randomBytes(6).toString('hex')}`;

function input(event: CanonicalEvent, attempt = 1): InputRecord<CanonicalEvent> {
  return {
    key: event.partition_key,
    value: event,
    headers: {},
    source: { topic: 'events.unique.v1', partition: 0, offset: '1' },
    attempt,
    timestamp_ms: event.received_at_ms,
  };
}

describe.skipIf(SKIP)('screening handler on real Postgres (set TIDEMARK_SKIP_INTEGRATION=1 to skip)', () => {
  let pool: pg.Pool;
  let api: FakeRiskApi;
  let risk: RiskApiClient;
  let ref: Reference;
  let rules = { current: null as unknown as Reference['rules'] };

  beforeAll(async () => {
    await migrate(DATABASE_URL, SCHEMA);
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
    api = await startFakeRiskApi({ host: '127.0.0.1', port: 0 });
    risk = testRiskClient(api.url, { timeout_ms: 300, breaker_volume_threshold: 100, breaker_reset_ms: 200, cache_entries_max: 10 });
    ref = await loadDefaultReference();
    rules = { current: ref.rules };
  });
  afterAll(async () => {
    risk?.shutdown();
    await api?.close();
    await pool?.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(SCHEMA)} CASCADE`);
    await pool?.end();
  });

  const handler = (clock = () => 1_000, schema = SCHEMA) =>
    createScreeningHandler({
      store: new DecisionStore(pool, schema),
      risk,
      sanctions: () => ref.sanctions,
      reference: () => ({ rules: rules.current, names: ref.names }),
      clock,
    });

  it('publishes screened + alert for REVIEW with a deterministic alert id, and an audit note', async () => {
    const e = makeEvent({ wallet_id: 'wal_h1', partition_key: 'wal_h1', amount: '12000' });
    const result = await handler().handle(input(e));
    expect(result.outputs.map((o) => o.topic)).toEqual(['events.screened.v1', 'compliance.alerts.v1']);
    expect((result.outputs[1]?.value as ComplianceAlert).alert_id).toBe(`alert:generic:${e.event_id}`);
    expect(result.outputs.every((o) => o.key === 'wal_h1')).toBe(true);
    expect(result.audit?.[0]).toMatchObject({
      action: 'screened',
      event_id: e.event_id,
      reason: 'AMOUNT_THRESHOLD',
      details: expect.objectContaining({ decision: 'REVIEW', replayed: 'false' }),
    });
  });

  it('risk API failing → TransientError and nothing stored, so the retry screens from scratch', async () => {
    const e = makeEvent({ wallet_id: 'wal_h2', partition_key: 'wal_h2' });
    api.setMode({ mode: 'fail' });
    await expect(handler().handle(input(e))).rejects.toBeInstanceOf(TransientError);
    api.setMode({ mode: 'hang', hang_ms: 2_000 });
    await expect(handler().handle(input(e))).rejects.toThrow(/no answer within 300 ms/);
    api.setMode({ mode: 'ok' });
    expect(await new DecisionStore(pool, SCHEMA).find('generic', e.event_id)).toBeNull();
    const ok = await handler().handle(input(e, 3));
    expect(ok.outputs).toHaveLength(1);
  });

  it('a replay returns the stored decision, identical even after the rules changed', async () => {
    const e = makeEvent({ wallet_id: 'wal_h3', partition_key: 'wal_h3', amount: '5000' });
    const first = await handler(() => 111).handle(input(e));
    rules = {
      current: parseRules({ ...ref.rules, amount_thresholds: [{ rule_id: 'amount.low', asset: '*', at_or_above: '1', outcome: 'BLOCK' }] }),
    };
    const again = await handler(() => 999).handle(input({ ...e, ingress_id: 'ing_again' }));
    rules = { current: ref.rules };
    expect(again.outputs[0]?.value).toEqual({
      event: { ...e, ingress_id: 'ing_again' },
      screening: (first.outputs[0]?.value as { screening: unknown }).screening,
    });
    expect(again.audit?.[0]?.details?.replayed).toBe('true');
  });

  it('handleBatch decides exactly like handle record by record (windows, duplicates, replays, KYC)', async () => {
    const other = `${SCHEMA}_b`;
    await migrate(DATABASE_URL, other);
    try {
      expect(rules.current).toBe(ref.rules); // both screen with the default rules
      const sequential = handler(() => 7);
      const batched = handler(() => 7, other);
      // Deterministic pseudo-random stream: 4 wallets, amounts around the structuring band,
      // some out-of-order times, re-deliveries (same event id) and KYC events.
      let seed = 7;
      const rnd = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n;
      const events: CanonicalEvent[] = [];
      for (let i = 0; i < 160; i++) {
        const wallet = `wal_batch_${rnd(4)}`;
        if (i > 10 && rnd(10) === 0) {
          const again = events[rnd(events.length)] as CanonicalEvent;
          events.push({ ...again, ingress_id: `again_${i}` });
          continue;
        }
        if (rnd(15) === 0) {
          events.push(
            makeEvent({
              event_type: 'kyc.status_changed',
              transaction_id: null,
              amount: null,
              from_address: null,
              wallet_id: wallet,
              partition_key: wallet,
              kyc_status: 'approved',
            }),
          );
          continue;
        }
        events.push(
          makeEvent({
            wallet_id: wallet,
            partition_key: wallet,
            event_type: rnd(2) === 0 ? 'deposit.confirmed' : 'withdrawal.requested',
            to_address: `0x${(1000 + rnd(50)).toString(16).padStart(40, '0')}`,
            amount: `${[500, 7999, 8000, 9000, 9999, 10000, 20000][rnd(7)]}.${rnd(100)}`,
            occurred_at_ms: 1_764_000_000_000 + i * 600_000 - rnd(3) * 3_600_000,
            counterparty_name: rnd(5) === 0 ? null : 'ACME GmbH',
          }),
        );
      }
      const seqResults = [];
      for (const e of events) seqResults.push(await sequential.handle(input(e)));
      const batchResults = [];
      for (let i = 0; i < events.length; i += 37)
        batchResults.push(...(await batched.handleBatch!(events.slice(i, i + 37).map((e) => input(e)))));
      expect(batchResults).toEqual(seqResults);
      const decisions = new Set(seqResults.map((r) => (r.outputs[0]?.value as { screening: { decision: string } }).screening.decision));
      expect(decisions).toEqual(new Set(['ALLOW', 'REVIEW']));
      const reasonCodes = new Set(
        seqResults.flatMap((r) =>
          (r.outputs[0]?.value as { screening: { reasons: Array<{ code: string }> } }).screening.reasons.map((x) => x.code),
        ),
      );
      expect([...reasonCodes]).toEqual(expect.arrayContaining(['STRUCTURING', 'VELOCITY', 'AMOUNT_THRESHOLD', 'TRAVEL_RULE_INCOMPLETE']));
      // Replaying a whole batch returns the stored decisions.
      expect(await batched.handleBatch!(events.slice(0, 20).map((e) => input(e)))).toEqual(
        seqResults.slice(0, 20).map((r) => ({ ...r, audit: r.audit?.map((a) => ({ ...a, details: { ...a.details, replayed: 'true' } })) })),
      );
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(other)} CASCADE`);
    }
  });

  it('handleBatch throws (so the runtime isolates record by record) when the risk API fails or an event is invalid', async () => {
    const good = makeEvent({ wallet_id: 'wal_hb', partition_key: 'wal_hb' });
    api.setMode({ mode: 'fail' });
    await expect(handler().handleBatch!([input(good)])).rejects.toBeInstanceOf(TransientError);
    api.setMode({ mode: 'ok' });
    await expect(handler().handleBatch!([input(good), input(makeEvent({ amount: 'NaN' }))])).rejects.toBeInstanceOf(PermanentError);
    expect(await new DecisionStore(pool, SCHEMA).find('generic', good.event_id)).toBeNull();
  });

  it('an event whose content can never be screened is a PermanentError', async () => {
    await expect(handler().handle(input(makeEvent({ amount: '1e5' })))).rejects.toBeInstanceOf(PermanentError);
    await expect(handler().handle(input(makeEvent({ amount: '-1' })))).rejects.toBeInstanceOf(PermanentError);
    // A country that is not an ISO code is missing travel-rule data, not a broken event.
    const loose = await handler().handle(input(makeEvent({ amount: '5000', counterparty_country: 'Germany' })));
    expect((loose.outputs[0]?.value as { screening: { reasons: Array<{ code: string }> } }).screening.reasons.map((r) => r.code)).toEqual([
      'TRAVEL_RULE_INCOMPLETE',
    ]);
  });
});
