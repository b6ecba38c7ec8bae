/**
 * The projection's per-chunk lookups stay index probes as the ledger grows. Postgres plans a
 * json_to_recordset source as 100 rows whatever it holds; without the row count (sizedRows)
 * a lookup of one key hashed the document and scanned the whole table, on every chunk.
 * The test fills the tables through the handler, then EXPLAINs the exact statements the
 * lookups send, with a one-key chunk as a live pipeline sends at low rates.
 */
import type { PoolClient, QueryResult } from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerHandler } from '../handler.js';
import { createTestDatabase, type TestDatabase } from '../testing/pg.js';
import { inputRecord, screenedEvent } from '../testing/events.js';
import { loadProcessed, lockBalances, lockStates } from './statements.js';
import type { EventMeta } from '../core/validate.js';

const skip = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const WALLETS = 2_000;
const TRANSACTIONS = 10_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function scannedTables(node: PlanNode, out: string[] = []): string[] {
  if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) out.push(node['Relation Name']);
  for (const child of node.Plans ?? []) scannedTables(child, out);
  return out;
}

/** A client whose statements are explained, not run: records each statement's plan. */
function explainingClient(client: PoolClient, plans: PlanNode[]): PoolClient {
  const query = async (sql: string, params: unknown[]) => {
    const res = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    plans.push(res.rows[0]!['QUERY PLAN'][0]!.Plan);
    return { rows: [] } as unknown as QueryResult;
  };
  return { query } as unknown as PoolClient;
}

describe.skipIf(skip)('projection lookups on a grown ledger', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    const handler = createLedgerHandler({ pool: db.pool, logger: pino({ level: 'silent' }), now_ms: () => 1_764_000_100_000 });
    for (let start = 0; start < TRANSACTIONS; start += 2_000) {
      const batch = [];
      for (let i = start; i < start + 2_000; i++) {
        const wallet_id = `wal_${i % WALLETS}`;
        batch.push(
          inputRecord(
            screenedEvent({ event_id: `ev_${i}`, event_type: 'deposit.detected', transaction_id: `tx_${i}`, wallet_id, amount: '1.5' }),
          ),
        );
      }
      await handler.handleBatch(batch);
    }
    const client = await db.pool.connect();
    try {
      await client.query('ANALYZE ledger.processed_events, ledger.transactions, ledger.balances');
    } finally {
      client.release();
    }
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('looks up one event, transaction and balance by index, not by scanning the table', async () => {
    const client = await db.pool.connect();
    const plans: PlanNode[] = [];
    try {
      const explaining = explainingClient(client, plans);
      await loadProcessed(explaining, [{ provider: 'generic', event_id: 'ev_77' } as EventMeta]);
      await lockStates(explaining, [{ provider: 'generic', transaction_id: 'tx_77' }]);
      await lockBalances(explaining, [{ wallet_id: 'wal_77', asset: 'BTC' }]);
    } finally {
      client.release();
    }
    expect(plans).toHaveLength(3);
    expect(plans.map((p) => scannedTables(p))).toEqual([[], [], []]);
    const counts = await db.pool.query<{ events: string; txs: string }>(
      'SELECT (SELECT count(*) FROM ledger.processed_events) AS events, (SELECT count(*) FROM ledger.transactions) AS txs',
    );
    expect(Number(counts.rows[0]!.events)).toBe(TRANSACTIONS);
    expect(Number(counts.rows[0]!.txs)).toBe(TRANSACTIONS);
  });
});
