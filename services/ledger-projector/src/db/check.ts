/**
 * `ledgerCheck(pool)`: the ledger's invariants, checked against the database (behind
 * `npx tidemark ledger check`). Exit policy is the caller's: ok=false → exit 1.
 *
 * Violations:
 *  - asset_not_balanced: the sum of all account balances (from postings) of an asset is not zero
 *  - posting_asset_mismatch / posting_unknown_account: a posting names an account of another asset or no account
 *  - posting_invalid: a posting with a non-positive amount or the same account on both sides
 *  - balance_mismatch: a wallet bucket in ledger.balances differs from the sum of its account's postings
 *  - negative_bucket: a negative pending or held bucket
 *  - positions_mismatch: the buckets differ from the sum of the wallet's transactions' contributions
 * Warnings (not violations): negative_available — a wallet's available bucket is below zero.
 * This is allowed: the ledger records what providers report, and a withdrawal can be
 * projected before the deposit that funds it when events of different transactions
 * arrive out of order (or the provider's own records overdraw); the reconciler reports it.
 */
import type { Pool, PoolClient } from 'pg';
import { normalizeAmount } from '../core/amount.js';

/** Most violations (and warnings) listed per kind; counts are always complete. */
export const CHECK_FINDINGS_PER_KIND_MAX = 100;

export interface LedgerFinding {
  kind: string;
  detail: string;
  wallet_id?: string;
  asset?: string;
  account_id?: string;
  expected?: string;
  actual?: string;
}

export interface LedgerCheckReport {
  ok: boolean;
  checked_at: string;
  violations: LedgerFinding[];
  warnings: LedgerFinding[];
  counts: Record<string, number>;
  stats: { accounts: number; postings: number; balances: number; transactions: number; assets: number };
}

const MOVEMENTS = `
  movements AS (
    SELECT debit_account_id AS account_id, asset, amount FROM ledger.postings
    UNION ALL
    SELECT credit_account_id AS account_id, asset, -amount FROM ledger.postings
  ),
  account_sums AS (SELECT account_id, SUM(amount) AS balance FROM movements GROUP BY account_id)`;

/** Collects findings, keeping at most CHECK_FINDINGS_PER_KIND_MAX of each kind (all are counted). */
interface Findings {
  violation(f: LedgerFinding): void;
  warning(f: LedgerFinding): void;
}

/** Every asset's postings sum to zero (double entry). */
async function checkAssetsBalance(client: PoolClient, add: Findings): Promise<void> {
  const assets = await client.query<{ asset: string; total: string }>(
    `SELECT asset, SUM(amount)::text AS total FROM (
       SELECT asset, amount FROM ledger.postings UNION ALL SELECT asset, -amount FROM ledger.postings) m
     GROUP BY asset`,
  );
  for (const r of assets.rows) {
    if (normalizeAmount(r.total) !== '0')
      add.violation({
        kind: 'asset_not_balanced',
        asset: r.asset,
        actual: normalizeAmount(r.total),
        expected: '0',
        detail: `postings of ${r.asset} sum to ${r.total}`,
      });
  }
}

/** Every posting names two different existing accounts of its asset and moves a positive amount. */
async function checkPostings(client: PoolClient, add: Findings): Promise<void> {
  const badPostings = await client.query<{ posting_id: string; problem: string; account_id: string | null; asset: string }>(
    `SELECT p.posting_id::text, p.asset, side.account_id,
            CASE WHEN a.account_id IS NULL THEN 'posting_unknown_account'
                 WHEN a.asset <> p.asset THEN 'posting_asset_mismatch'
                 ELSE 'posting_invalid' END AS problem
       FROM ledger.postings p
      CROSS JOIN LATERAL (VALUES (p.debit_account_id), (p.credit_account_id)) AS side(account_id)
       LEFT JOIN ledger.accounts a ON a.account_id = side.account_id
      WHERE a.account_id IS NULL OR a.asset <> p.asset OR p.amount <= 0 OR p.debit_account_id = p.credit_account_id`,
  );
  for (const r of badPostings.rows) {
    add.violation({
      kind: r.problem,
      asset: r.asset,
      account_id: r.account_id ?? undefined,
      detail: `posting ${r.posting_id} (${r.problem})`,
    });
  }
}

/** Stored wallet balances equal the sums of their accounts' postings. */
async function checkStoredBalances(client: PoolClient, add: Findings): Promise<void> {
  const mismatches = await client.query<{
    wallet_id: string;
    asset: string;
    bucket: string;
    stored: string;
    from_postings: string;
  }>(
    `WITH ${MOVEMENTS},
     wallet_sums AS (
       SELECT a.wallet_id, a.asset, substring(a.kind from 8) AS bucket, COALESCE(s.balance, 0) AS balance
         FROM ledger.accounts a LEFT JOIN account_sums s USING (account_id)
        WHERE a.kind <> 'external'),
     stored AS (
       SELECT wallet_id, asset, 'pending' AS bucket, pending AS balance FROM ledger.balances
       UNION ALL SELECT wallet_id, asset, 'available', available FROM ledger.balances
       UNION ALL SELECT wallet_id, asset, 'held', held FROM ledger.balances)
     SELECT COALESCE(s.wallet_id, w.wallet_id) AS wallet_id, COALESCE(s.asset, w.asset) AS asset,
            COALESCE(s.bucket, w.bucket) AS bucket,
            COALESCE(s.balance, 0)::text AS stored, COALESCE(w.balance, 0)::text AS from_postings
       FROM stored s FULL OUTER JOIN wallet_sums w
         ON s.wallet_id = w.wallet_id AND s.asset = w.asset AND s.bucket = w.bucket
      WHERE COALESCE(s.balance, 0) <> COALESCE(w.balance, 0)`,
  );
  for (const r of mismatches.rows) {
    add.violation({
      kind: 'balance_mismatch',
      wallet_id: r.wallet_id,
      asset: r.asset,
      expected: normalizeAmount(r.from_postings),
      actual: normalizeAmount(r.stored),
      detail: `${r.bucket} of ${r.wallet_id}/${r.asset} is ${normalizeAmount(r.stored)} but its postings sum to ${normalizeAmount(r.from_postings)}`,
    });
  }
}

/** No posting names an account that does not exist. */
async function checkOrphanPostings(client: PoolClient, add: Findings): Promise<void> {
  const orphanSums = await client.query<{ account_id: string }>(
    `WITH ${MOVEMENTS} SELECT s.account_id FROM account_sums s LEFT JOIN ledger.accounts a USING (account_id) WHERE a.account_id IS NULL`,
  );
  for (const r of orphanSums.rows)
    add.violation({
      kind: 'posting_unknown_account',
      account_id: r.account_id,
      detail: `postings name account ${r.account_id}, which does not exist`,
    });
}

/** No negative pending or held (violation); a negative available is a warning. */
async function checkNegativeBuckets(client: PoolClient, add: Findings): Promise<void> {
  const negatives = await client.query<{ wallet_id: string; asset: string; pending: string; available: string; held: string }>(
    `SELECT wallet_id, asset, pending::text, available::text, held::text FROM ledger.balances WHERE pending < 0 OR held < 0 OR available < 0`,
  );
  for (const r of negatives.rows) {
    for (const bucket of ['pending', 'held', 'available'] as const) {
      if (!r[bucket].startsWith('-')) continue;
      const finding = {
        kind: bucket === 'available' ? 'negative_available' : 'negative_bucket',
        wallet_id: r.wallet_id,
        asset: r.asset,
        actual: normalizeAmount(r[bucket]),
        detail: `${bucket} of ${r.wallet_id}/${r.asset} is ${normalizeAmount(r[bucket])}`,
      };
      (bucket === 'available' ? add.warning : add.violation)(finding);
    }
  }
}

/** Stored balances equal the sums of the transactions' positions. */
async function checkPositions(client: PoolClient, add: Findings): Promise<void> {
  const positions = await client.query<{ wallet_id: string; asset: string; detail: string }>(
    `WITH per_wallet AS (
       SELECT wallet_id, asset, SUM(pending) AS pending, SUM(available) AS available, SUM(held) AS held
         FROM ledger.transactions GROUP BY wallet_id, asset)
     SELECT COALESCE(b.wallet_id, t.wallet_id) AS wallet_id, COALESCE(b.asset, t.asset) AS asset,
            format('balances %s/%s/%s vs transactions %s/%s/%s', COALESCE(b.pending, 0), COALESCE(b.available, 0), COALESCE(b.held, 0),
                   COALESCE(t.pending, 0), COALESCE(t.available, 0), COALESCE(t.held, 0)) AS detail
       FROM ledger.balances b FULL OUTER JOIN per_wallet t ON b.wallet_id = t.wallet_id AND b.asset = t.asset
      WHERE COALESCE(b.pending, 0) <> COALESCE(t.pending, 0) OR COALESCE(b.available, 0) <> COALESCE(t.available, 0)
         OR COALESCE(b.held, 0) <> COALESCE(t.held, 0)`,
  );
  for (const r of positions.rows) add.violation({ kind: 'positions_mismatch', wallet_id: r.wallet_id, asset: r.asset, detail: r.detail });
}

async function readStats(client: PoolClient): Promise<LedgerCheckReport['stats']> {
  const stats = await client.query<{ accounts: string; postings: string; balances: string; transactions: string; assets: string }>(
    `SELECT (SELECT count(*) FROM ledger.accounts)::text AS accounts, (SELECT count(*) FROM ledger.postings)::text AS postings,
            (SELECT count(*) FROM ledger.balances)::text AS balances, (SELECT count(*) FROM ledger.transactions)::text AS transactions,
            (SELECT count(DISTINCT asset) FROM ledger.accounts)::text AS assets`,
  );
  const s = stats.rows[0]!;
  return {
    accounts: Number(s.accounts),
    postings: Number(s.postings),
    balances: Number(s.balances),
    transactions: Number(s.transactions),
    assets: Number(s.assets),
  };
}

export async function ledgerCheck(pool: Pool): Promise<LedgerCheckReport> {
  const client = await pool.connect();
  const violations: LedgerFinding[] = [];
  const warnings: LedgerFinding[] = [];
  const counts: Record<string, number> = {};
  const keep = (list: LedgerFinding[]) => (f: LedgerFinding) => {
    counts[f.kind] = (counts[f.kind] ?? 0) + 1;
    if (counts[f.kind]! <= CHECK_FINDINGS_PER_KIND_MAX) list.push(f);
  };
  const add: Findings = { violation: keep(violations), warning: keep(warnings) };
  try {
    // One consistent snapshot for every query of the check.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const check of [
      checkAssetsBalance,
      checkPostings,
      checkStoredBalances,
      checkOrphanPostings,
      checkNegativeBuckets,
      checkPositions,
    ]) {
      await check(client, add);
    }
    const stats = await readStats(client);
    await client.query('COMMIT');
    return { ok: violations.length === 0, checked_at: new Date().toISOString(), violations, warnings, counts, stats };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
