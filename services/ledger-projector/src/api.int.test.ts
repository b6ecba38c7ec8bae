/**
 * The read API on real Postgres (own database) and the audited release through the
 * outbox to real Kafka + registry (own topic prefix): auth (401/403/200), exact shapes,
 * 404s, the release flow and its audit.v1 / ledger.balances.v1 records.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import {
  AvroCodec,
  closeServer,
  createIdempotentProducer,
  createMetrics,
  listen,
  loadCatalog,
  type AuditRecord,
  type BalanceChanged,
  type ScreenedEvent,
} from '@tidemark/common';
import { SKIP_INTEGRATION, testNamespace } from '@tidemark/common/testing';
import { createApi } from './api.js';
import { parseApiTokens } from './auth.js';
import { createLedgerHandler } from './handler.js';
import { ledgerCheck } from './db/check.js';
import { OutboxPublisher } from './outbox.js';
import { createTestDatabase, type TestDatabase } from './testing/pg.js';
import { inputRecord, screenedEvent } from './testing/events.js';

const logger = pino({ level: 'silent' });
const READER = 'reader-token-0123456789abcdef';
const COMPLIANCE = 'compliance-token-0123456789abcdef';

describe.skipIf(SKIP_INTEGRATION)('ledger read API', () => {
  const ns = testNamespace('itledger', { client_id: 'ledger-api-int-test' });
  const { config, kafka, prefix } = ns;
  let db: TestDatabase;
  let server: Server;
  let base: string;
  /** Projects screened events into the ledger, as the consumer would. */
  const project = (events: ScreenedEvent[]) => createLedgerHandler({ pool: db.pool, logger }).handleBatch(events.map(inputRecord));

  beforeAll(async () => {
    db = await createTestDatabase();
    const catalog = loadCatalog();
    await ns.applyTopics({
      catalog: {
        ...catalog,
        topics: catalog.topics.filter((t) => t.name === 'audit.v1' || t.name === 'ledger.balances.v1'),
        consumers: [],
      },
    });
    await project([
      screenedEvent({ event_id: 'rev1', event_type: 'deposit.detected', transaction_id: 'tx_rev', amount: '0.50000000' }, 'REVIEW'),
      screenedEvent({ event_id: 'rev2', event_type: 'deposit.confirmed', transaction_id: 'tx_rev', amount: '0.50000000' }, 'REVIEW'),
      screenedEvent({ event_id: 'blk1', event_type: 'deposit.confirmed', transaction_id: 'tx_blk', amount: '2' }, 'BLOCK'),
      screenedEvent({ event_id: 'ok1', event_type: 'deposit.confirmed', transaction_id: 'tx_ok', amount: '1.25' }),
      screenedEvent({ event_id: 'pend1', event_type: 'deposit.detected', transaction_id: 'tx_pend', amount: '3' }, 'REVIEW'),
    ]);
    const app = createApi({
      pool: db.pool,
      tokens: parseApiTokens(`alice:${READER}:reader,carol:${COMPLIANCE}:compliance`),
      logger,
      metrics: createMetrics('ledger-projector'),
      readiness: { postgres: async () => (await db.pool.query('SELECT 1')).rowCount === 1 },
    });
    server = await listen(app, '127.0.0.1', 0);
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (server) await closeServer(server, 2_000);
    await db?.drop();
    await ns.cleanup();
  });

  const call = (path: string, token?: string, method = 'GET') =>
    fetch(`${base}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('401 without a token or with an unknown one; the error body never echoes the token', async () => {
    for (const res of [
      await call('/v1/wallets/wal_42/balances'),
      await call('/v1/wallets/wal_42/balances', 'not-a-configured-token-xyz'),
      await fetch(`${base}/v1/wallets/wal_42/balances`, { headers: { authorization: `Basic ${READER}` } }),
      await call('/v1/transactions/generic/tx_rev/release', undefined, 'POST'),
    ]) {
      expect(res.status).toBe(401);
      const text = await res.text();
      expect(Object.keys(JSON.parse(text))).toEqual(['error', 'message']);
      expect(text).not.toContain('not-a-configured-token-xyz');
      expect(text).not.toContain(READER);
    }
  });

  it('serves balances in the exact DESIGN shape, normalised, and an empty list for unknown wallets', async () => {
    const res = await call('/v1/wallets/wal_42/balances', READER);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual({ wallet_id: 'wal_42', balances: [{ asset: 'BTC', pending: '3', available: '1.25', held: '2.5' }] });
    const unknown = await call('/v1/wallets/wal_nobody/balances', COMPLIANCE);
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toEqual({ wallet_id: 'wal_nobody', balances: [] });
  });

  it('serves a transaction with status, screening and history; 404 for unknown', async () => {
    const res = await call('/v1/transactions/generic/tx_rev', READER);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { history: Array<Record<string, unknown>> };
    expect(body).toMatchObject({
      provider: 'generic',
      transaction_id: 'tx_rev',
      status: 'confirmed',
      asset: 'BTC',
      amount: '0.5',
      wallet_id: 'wal_42',
      decision: 'REVIEW',
      screening: { decision: 'REVIEW', reasons: [{ code: 'AMOUNT_THRESHOLD', rule_id: 'amount-btc', outcome: 'REVIEW' }] },
      released: null,
    });
    expect(body.history).toHaveLength(2);
    for (const h of body.history)
      expect(Object.keys(h)).toEqual(expect.arrayContaining(['event_id', 'event_type', 'occurred_at', 'received_at', 'projected_at']));
    const missing = await call('/v1/transactions/generic/tx_missing', READER);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', message: expect.any(String) });
  });

  it('release needs the compliance role (403 for a reader)', async () => {
    const res = await call('/v1/transactions/generic/tx_rev/release', READER, 'POST');
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'forbidden', message: expect.any(String) });
  });

  it('releases a REVIEW deposit once: held → available; refuses BLOCK, ALLOW, pending and unknown', async () => {
    const res = await call('/v1/transactions/generic/tx_rev/release', COMPLIANCE, 'POST');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { transaction: { history: Array<{ event_type: string }> } };
    expect(body).toMatchObject({
      outcome: 'released',
      amount_released: '0.5',
      transaction: { status: 'confirmed', released: { by: 'carol' } },
    });
    expect(body.transaction.history.map((h) => h.event_type)).toContain('ledger.released');
    expect(await (await call('/v1/wallets/wal_42/balances', READER)).json()).toEqual({
      wallet_id: 'wal_42',
      balances: [{ asset: 'BTC', pending: '3', available: '1.75', held: '2' }],
    });
    const again = await call('/v1/transactions/generic/tx_rev/release', COMPLIANCE, 'POST');
    expect(again.status).toBe(200);
    expect(((await again.json()) as { outcome: string }).outcome).toBe('already_released');

    const refusals: Array<[string, number, string]> = [
      ['tx_blk', 409, 'blocked_not_releasable'],
      ['tx_ok', 409, 'not_under_review'],
      ['tx_pend', 409, 'nothing_held'],
      ['tx_missing', 404, 'not_found'],
    ];
    for (const [tx, status, error] of refusals) {
      const r = await call(`/v1/transactions/generic/${tx}/release`, COMPLIANCE, 'POST');
      expect(r.status, tx).toBe(status);
      expect(await r.json()).toEqual({ error, message: expect.any(String) });
    }
    expect((await ledgerCheck(db.pool)).ok).toBe(true);
  });

  it('publishes the release audit and balance change through the outbox to Kafka', async () => {
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    const codec = new AvroCodec(config.TIDEMARK_REGISTRY_URL, prefix);
    const outbox = new OutboxPublisher({ pool: db.pool, producer, codec, logger, prefix });
    // The rejection audits are written fire-and-forget after their responses went out: wait until all five
    // (forbidden + the four refusals) are in the outbox rather than sleeping and hoping they made it.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ledger.outbox WHERE value->>'action' = 'release_rejected'`,
      );
      if (rows[0]!.n >= 5) break;
      if (Date.now() > deadline) throw new Error(`only ${rows[0]!.n} of 5 release_rejected audits reached the outbox within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const published = await outbox.flush();
    expect(published).toBeGreaterThanOrEqual(2);
    expect(await outbox.flush()).toBe(0);
    await producer.disconnect();

    const audits: AuditRecord[] = [];
    const balances: BalanceChanged[] = [];
    const consumer = kafka.consumer({ groupId: `${prefix}check` });
    await consumer.connect();
    await consumer.subscribe({ topics: [ns.topic('audit.v1'), ns.topic('ledger.balances.v1')], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`outbox records not seen within 30 s (audits ${audits.length}, balances ${balances.length})`)),
        30_000,
      );
      void consumer.run({
        eachMessage: async ({ topic, message }) => {
          const value = await codec.decode<AuditRecord & BalanceChanged>(message.value!);
          if (topic.endsWith('audit.v1')) audits.push(value);
          else balances.push(value);
          if (
            balances.length >= 1 &&
            audits.some((a) => a.action === 'released') &&
            audits.filter((a) => a.action === 'release_rejected').length >= 5
          ) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    const released = audits.find((a) => a.action === 'released')!;
    expect(released).toMatchObject({
      audit_id: 'ledger-projector:released:generic:tx_rev',
      stage: 'ledger-projector',
      provider: 'generic',
      details: { transaction_id: 'tx_rev', released_by: 'carol', amount: '0.5', asset: 'BTC', wallet_id: 'wal_42' },
    });
    expect(JSON.stringify(audits)).not.toContain(COMPLIANCE);
    expect(
      audits
        .filter((a) => a.action === 'release_rejected')
        .map((a) => a.reason)
        .sort(),
    ).toEqual(['blocked_not_releasable', 'forbidden', 'not_found', 'not_under_review', 'nothing_held']);
    expect(balances[0]).toMatchObject({
      wallet_id: 'wal_42',
      asset: 'BTC',
      pending: '3',
      available: '1.75',
      held: '2',
      transaction_id: 'tx_rev',
    });
  });

  it('escalates REVIEW to BLOCK and takes notes, each with a required reason, in the decision history; serves the queue', async () => {
    await project([
      screenedEvent(
        { event_id: 'esc1', event_type: 'deposit.confirmed', transaction_id: 'tx_esc', wallet_id: 'wal_77', amount: '1' },
        'REVIEW',
      ),
    ]);
    const post = (path: string, token: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    for (const verb of ['escalate', 'notes']) {
      expect((await post(`/v1/transactions/generic/tx_esc/${verb}`, READER, { reason: 'x' })).status, verb).toBe(403);
      const missing = await post(`/v1/transactions/generic/tx_esc/${verb}`, COMPLIANCE, { reason: '  ' });
      expect(missing.status, verb).toBe(400);
    }
    const queued = (await (await call('/v1/compliance/queue?wallet_id=wal_77', READER)).json()) as {
      items: Array<{ transaction_id: string; held: string; reasons: Array<{ rule_id: string }> }>;
    };
    expect(queued.items).toMatchObject([{ transaction_id: 'tx_esc', decision: 'REVIEW', held: '1', reasons: [{ rule_id: 'amount-btc' }] }]);

    const escalated = await post('/v1/transactions/generic/tx_esc/escalate', COMPLIANCE, { reason: 'counterparty under investigation' });
    expect(escalated.status).toBe(200);
    expect(await escalated.json()).toMatchObject({
      outcome: 'escalated',
      amount_moved: '0',
      transaction: { decision: 'BLOCK', effect: { held: '1', available: '0' } },
    });
    expect((await call('/v1/transactions/generic/tx_esc/release', COMPLIANCE, 'POST')).status).toBe(409);
    const again = await post('/v1/transactions/generic/tx_esc/escalate', COMPLIANCE, { reason: 'again' });
    expect(((await again.json()) as { outcome: string }).outcome).toBe('already_blocked');
    expect((await post('/v1/transactions/generic/tx_ok/escalate', COMPLIANCE, { reason: 'x' })).status).toBe(409);
    expect((await post('/v1/transactions/generic/tx_missing/notes', COMPLIANCE, { reason: 'x' })).status).toBe(404);

    // Escalating a released deposit moves its funds back from available to held.
    const back = await post('/v1/transactions/generic/tx_rev/escalate', COMPLIANCE, { reason: 'released in error' });
    expect(await back.json()).toMatchObject({ outcome: 'escalated', amount_moved: '0.5' });
    expect(await (await call('/v1/wallets/wal_42/balances', READER)).json()).toEqual({
      wallet_id: 'wal_42',
      balances: [{ asset: 'BTC', pending: '3', available: '1.25', held: '2.5' }],
    });

    const noted = await post('/v1/transactions/generic/tx_esc/notes', COMPLIANCE, { reason: 'case #42 opened' });
    expect(noted.status).toBe(201);
    const history = (await (await call('/v1/transactions/generic/tx_esc/actions', READER)).json()) as {
      actions: Array<{ action: string; actor: string; reason: string }>;
    };
    expect(history.actions.map((a) => [a.action, a.actor, a.reason])).toEqual([
      ['escalated', 'carol', 'counterparty under investigation'],
      ['noted', 'carol', 'case #42 opened'],
    ]);
    const latest = (await (await call('/v1/compliance/actions?limit=10', READER)).json()) as {
      actions: Array<{ transaction_id: string; action: string }>;
    };
    expect(latest.actions.map((a) => `${a.transaction_id}:${a.action}`)).toEqual([
      'tx_esc:noted',
      'tx_rev:escalated',
      'tx_esc:escalated',
      'tx_rev:released',
    ]);

    // The open queue: BLOCKs stay (case management); filters by rule, decision and age.
    const open = (await (await call('/v1/compliance/queue', READER)).json()) as { items: Array<{ transaction_id: string }> };
    expect(open.items.map((i) => i.transaction_id).sort()).toEqual(['tx_blk', 'tx_esc', 'tx_pend', 'tx_rev']);
    const byRule = (await (await call('/v1/compliance/queue?rule=compliance.manual', READER)).json()) as {
      items: Array<{ transaction_id: string }>;
    };
    expect(byRule.items.map((i) => i.transaction_id).sort()).toEqual(['tx_esc', 'tx_rev']);
    const reviews = (await (await call('/v1/compliance/queue?decision=REVIEW', READER)).json()) as {
      items: Array<{ transaction_id: string }>;
    };
    expect(reviews.items.map((i) => i.transaction_id)).toEqual(['tx_pend']);
    const old = (await (await call('/v1/compliance/queue?min_age_s=3600', READER)).json()) as { items: unknown[] };
    expect(old.items).toEqual([]);
    expect((await call('/v1/compliance/queue?decision=ALLOW', READER)).status).toBe(400);
    const changes = (await (await call('/v1/transactions/generic/tx_rev/balance-changes', READER)).json()) as {
      changes: Array<{ event_id: string; balance_before: unknown; balance_after: unknown }>;
    };
    const released = changes.changes.find((c) => c.event_id === 'tidemark-release:tx_rev')!;
    expect(released.balance_before).toEqual({ pending: '3', available: '1.25', held: '2.5' });
    expect(released.balance_after).toMatchObject({ pending: '3', available: '1.75', held: '2' });
    const escalation = changes.changes.find((c) => c.event_id === 'tidemark-escalation:tx_rev')!;
    expect(escalation.balance_before).toEqual({ pending: '3', available: '1.75', held: '2' });
    expect(escalation.balance_after).toMatchObject({ pending: '3', available: '1.25', held: '2.5' });
    const postings = (await (await call('/v1/transactions/generic/tx_rev/postings', READER)).json()) as {
      postings: Array<{ event_id: string }>;
    };
    expect(postings.postings.map((p) => p.event_id)).toEqual(['rev1', 'rev2', 'tidemark-release:tx_rev', 'tidemark-escalation:tx_rev']);

    const audits = await db.pool.query<{ value: AuditRecord }>(
      `SELECT value FROM ledger.outbox WHERE value->>'action' IN ('escalated', 'noted') ORDER BY outbox_id`,
    );
    expect(audits.rows.map((r) => [r.value.action, r.value.reason])).toEqual([
      ['escalated', 'counterparty under investigation'],
      ['escalated', 'released in error'],
      ['noted', 'case #42 opened'],
    ]);
    expect((await ledgerCheck(db.pool)).ok).toBe(true);
  });

  it('four-eyes: a release above the USD amount needs a second, different compliance officer', async () => {
    await project([
      screenedEvent(
        { event_id: 'big1', event_type: 'deposit.confirmed', transaction_id: 'tx_big', wallet_id: 'wal_4e', amount: '0.5' },
        'REVIEW',
      ),
      screenedEvent(
        { event_id: 'small1', event_type: 'deposit.confirmed', transaction_id: 'tx_small', wallet_id: 'wal_4e', amount: '0.001' },
        'REVIEW',
      ),
    ]);
    const DAVE = 'compliance-token-dave-0123456789';
    const app = createApi({
      pool: db.pool,
      tokens: parseApiTokens(`alice:${READER}:reader,carol:${COMPLIANCE}:compliance,dave:${DAVE}:compliance`),
      logger,
      metrics: createMetrics('ledger-projector'),
      readiness: {},
      four_eyes: { threshold_usd: '10000', prices: { BTC: '65800' } },
    });
    const fourEyes = await listen(app, '127.0.0.1', 0);
    try {
      const url = `http://127.0.0.1:${(fourEyes.address() as AddressInfo).port}`;
      const release = (tx: string, token: string, reason: string) =>
        fetch(`${url}/v1/transactions/generic/${tx}/release`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ reason }),
        });
      // 0.001 BTC = 65.80 USD: one officer is enough.
      expect(((await (await release('tx_small', COMPLIANCE, 'small')).json()) as { outcome: string }).outcome).toBe('released');
      // 0.5 BTC = 32,900 USD: carol's release is a request; carol again is refused; dave confirms.
      const first = await release('tx_big', COMPLIANCE, 'documents checked');
      expect(first.status).toBe(202);
      expect(await first.json()).toMatchObject({
        outcome: 'awaiting_second_approval',
        requested_by: 'carol',
        transaction: { effect: { held: '0.5', available: '0' } },
      });
      const same = await release('tx_big', COMPLIANCE, 'me again');
      expect(same.status).toBe(409);
      expect(await same.json()).toEqual({ error: 'four_eyes_same_user', message: expect.any(String) });
      const second = await release('tx_big', DAVE, 'second pair of eyes');
      expect(second.status).toBe(200);
      expect(await second.json()).toMatchObject({
        outcome: 'released',
        requested_by: 'carol',
        amount_released: '0.5',
        transaction: { released: { by: 'dave' } },
      });
      const history = (await (await call('/v1/transactions/generic/tx_big/actions', READER)).json()) as {
        actions: Array<{ action: string; actor: string; details: Record<string, string> }>;
      };
      expect(history.actions.map((a) => [a.action, a.actor])).toEqual([
        ['release_requested', 'carol'],
        ['released', 'dave'],
      ]);
      expect(history.actions[1]!.details.requested_by).toBe('carol');
      expect((await ledgerCheck(db.pool)).ok).toBe(true);
    } finally {
      await closeServer(fourEyes, 2_000);
    }
  });

  it('serves /healthz, /readyz and /metrics without a token', async () => {
    expect((await call('/healthz')).status).toBe(200);
    expect((await call('/readyz')).status).toBe(200);
    const metrics = await call('/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('ledger_api_requests_total');
  });
});
