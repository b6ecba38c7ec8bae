/**
 * The SQL of the projection: lookups of already-projected events, row locks, and one
 * multi-row statement per table. Rows travel as one JSON document per statement
 * (json_to_recordset): JSON.stringify is native and Postgres parses it once, where text[]
 * parameters cost per-element escaping in JS.
 */
import type { PoolClient } from 'pg';
import type { HandlerResult } from '@tidemark/stream';
import { type AccountRef, accountKind } from '../core/accounts.js';
import { formatUnits } from '../core/amount.js';
import { type BatchProjection, type WalletBalance, balanceKey, eventKey, txKey } from '../core/batch.js';
import { type TxState, effectiveAmount, factsToJson, txStatus } from '../core/transaction.js';
import type { EventMeta } from '../core/validate.js';
import { type ProcessedInsert, type ProcessedRow, resultFromRow } from './results.js';
import { type BalanceRow, type TransactionStateRow, TX_STATE_COLUMNS, balanceFromRow, stateFromRow } from './rows.js';

/** Account ids known to exist (skips re-inserting them); bounded, cleared when full. */
export class KnownAccounts {
  private readonly ids = new Set<string>();
  constructor(readonly size_max = 200_000) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  addAll(ids: Iterable<string>): void {
    for (const id of ids) {
      if (this.ids.size >= this.size_max) this.ids.clear();
      this.ids.add(id);
    }
  }
}

/**
 * `$1`'s rows as a source the planner sizes right (`$2`: how many). Postgres plans
 * json_to_recordset as 100 rows whatever the document holds, so looking up one or two keys in
 * a table of tens of thousands of rows hashed the document and scanned the whole table: 3 ms a
 * lookup at 20,000 rows, growing with the table, on every chunk. With the count as a LIMIT the
 * plan is an index probe per key (0.07 ms). Joined lookups and UPDATE ... FROM use it.
 */
export function sizedRows(columns: string): string {
  return `(SELECT * FROM json_to_recordset($1::json) AS u(${columns}) LIMIT $2)`;
}

/** The parameters of a `sizedRows` source. */
const sizedParams = (rows: unknown[]): [string, number] => [JSON.stringify(rows), rows.length];

export async function loadProcessed(client: PoolClient, metas: EventMeta[]): Promise<Map<string, HandlerResult>> {
  const res = await client.query<ProcessedRow>(
    `SELECT provider, event_id, event_type, transaction_id, wallet_id, partition_key, asset, decision, outcome, status_after,
            postings_count, anomalies, balance_pending, balance_available, balance_held, balance_version::text, changed_at_ms::text
       FROM ledger.processed_events
      WHERE (provider, event_id) IN (SELECT p, e FROM ${sizedRows('p text, e text')} AS u)`,
    sizedParams(metas.map((m) => ({ p: m.provider, e: m.event_id }))),
  );
  return new Map(res.rows.map((r) => [eventKey(r.provider, r.event_id), resultFromRow(r)]));
}

export async function lockStates(
  client: PoolClient,
  keys: Array<{ provider: string; transaction_id: string }>,
): Promise<Map<string, TxState>> {
  if (keys.length === 0) return new Map();
  const res = await client.query<TransactionStateRow>(
    `SELECT ${TX_STATE_COLUMNS} FROM ledger.transactions
      WHERE (provider, transaction_id) IN (SELECT p, t FROM ${sizedRows('p text, t text')} AS u)
      ORDER BY provider, transaction_id FOR UPDATE`,
    sizedParams(keys.map((k) => ({ p: k.provider, t: k.transaction_id }))),
  );
  const out = new Map<string, TxState>();
  for (const row of res.rows) {
    const state = stateFromRow(row);
    out.set(txKey(state.provider, state.transaction_id), state);
  }
  return out;
}

export async function lockBalances(
  client: PoolClient,
  keys: Array<{ wallet_id: string; asset: string }>,
): Promise<Map<string, WalletBalance>> {
  if (keys.length === 0) return new Map();
  const res = await client.query<BalanceRow>(
    `SELECT wallet_id, asset, pending::text, available::text, held::text, version::text FROM ledger.balances
      WHERE (wallet_id, asset) IN (SELECT w, a FROM ${sizedRows('w text, a text')} AS u)
      ORDER BY wallet_id, asset FOR UPDATE`,
    sizedParams(keys.map((k) => ({ w: k.wallet_id, a: k.asset }))),
  );
  return new Map(res.rows.map((r) => [balanceKey(r.wallet_id, r.asset), balanceFromRow(r)]));
}

/** One write statement of the projection; `params` are numbered from $1 within `sql`. */
export interface Write {
  sql: string;
  params: unknown[];
}
const sqlWrite = (sql: string, params: unknown[]): Write => ({ sql, params });

/**
 * Runs `writes` in one round trip: a single statement whose data-modifying WITH clauses each
 * hold one write (the tables have no foreign keys or triggers between them, and no two writes
 * touch the same table's row, so their order within the statement does not matter). A unique
 * violation in any of them aborts the whole statement, as it aborted the batch before.
 */
export async function runWrites(client: PoolClient, writes: ReadonlyArray<Write | null>): Promise<void> {
  const list = writes.filter((w): w is Write => w !== null);
  if (list.length === 0) return;
  if (list.length === 1) {
    await client.query(list[0]!.sql, list[0]!.params);
    return;
  }
  const params: unknown[] = [];
  const clauses = list.map((w, i) => {
    const offset = params.length;
    params.push(...w.params);
    return `w${i} AS (${w.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
  });
  await client.query(`WITH ${clauses.join(',\n')}\nSELECT 1`, params);
}

export async function insertAccounts(client: PoolClient, accounts: Map<string, AccountRef>, known: KnownAccounts): Promise<string[]> {
  const { write, fresh } = accountsWrite(accounts, known);
  await runWrites(client, [write]);
  return fresh;
}

/** The accounts not known to exist yet, and the statement inserting them (null: none). */
export function accountsWrite(accounts: Map<string, AccountRef>, known: KnownAccounts): { write: Write | null; fresh: string[] } {
  const fresh = [...accounts].filter(([id]) => !known.has(id));
  if (fresh.length === 0) return { write: null, fresh: [] };
  const write = sqlWrite(
    `INSERT INTO ledger.accounts (account_id, asset, kind, wallet_id, provider)
     SELECT i, a, k, w, p FROM json_to_recordset($1::json) AS u(i text, a text, k text, w text, p text)
     ON CONFLICT (account_id) DO NOTHING`,
    [
      JSON.stringify(
        fresh.map(([id, a]) => ({
          i: id,
          a: a.asset,
          k: accountKind(a),
          w: a.kind === 'wallet' ? a.wallet_id : null,
          p: a.kind === 'external' ? a.provider : null,
        })),
      ),
    ],
  );
  return { write, fresh: fresh.map(([id]) => id) };
}

export async function insertPostings(client: PoolClient, postings: BatchProjection['postings']): Promise<void> {
  await runWrites(client, [postingsWrite(postings)]);
}

export function postingsWrite(postings: BatchProjection['postings']): Write | null {
  if (postings.length === 0) return null;
  return sqlWrite(
    `INSERT INTO ledger.postings (provider, event_id, transaction_id, asset, debit_account_id, credit_account_id, amount)
     SELECT p, e, t, a, d, c, m FROM json_to_recordset($1::json) AS u(p text, e text, t text, a text, d text, c text, m numeric)`,
    // Short keys: this document carries every posting of the batch.
    [
      JSON.stringify(
        postings.map((x) => ({
          p: x.provider,
          e: x.event_id,
          t: x.transaction_id,
          a: x.asset,
          d: x.debit_account_id,
          c: x.credit_account_id,
          m: x.amount,
        })),
      ),
    ],
  );
}

export interface OccurredRange {
  first_ms: number;
  last_ms: number;
}

/** Writes the final state of each touched transaction: INSERT for new ones, UPDATE for locked ones. */
export async function writeStates(
  client: PoolClient,
  states: Map<string, TxState>,
  existing: ReadonlySet<string>,
  occurred: Map<string, OccurredRange>,
): Promise<void> {
  await runWrites(client, statesWrites(states, existing, occurred));
}

/** The final state of each touched transaction: INSERT for new ones, UPDATE for locked ones. */
export function statesWrites(states: Map<string, TxState>, existing: ReadonlySet<string>, occurred: Map<string, OccurredRange>): Write[] {
  const rows = [...states].map(([key, s]) => {
    const range = occurred.get(key) ?? { first_ms: 0, last_ms: 0 };
    return { key, s, range };
  });
  const doc = (list: typeof rows) =>
    JSON.stringify(
      list.map(({ s, range }) => ({
        provider: s.provider,
        transaction_id: s.transaction_id,
        kind: s.kind,
        wallet_id: s.wallet_id,
        asset: s.asset,
        amount: formatUnits(effectiveAmount(s)),
        status: txStatus(s),
        decision: s.decision,
        reasons: s.reasons,
        anomalies: s.anomalies,
        released_by: s.release?.by ?? null,
        released_at_ms: s.release?.at_ms ?? null,
        pending: formatUnits(s.position.pending),
        available: formatUnits(s.position.available),
        held: formatUnits(s.position.held),
        facts: factsToJson(s.amounts),
        first_ms: range.first_ms,
        last_ms: range.last_ms,
      })),
    );
  // One JSON document per statement: parsed once by Postgres (see insertProcessed).
  const columns = `provider text, transaction_id text, kind text, wallet_id text, asset text, amount numeric, status text, decision text,
           reasons jsonb, anomalies jsonb, released_by text, released_at_ms bigint, pending numeric, available numeric, held numeric,
           facts jsonb, first_ms bigint, last_ms bigint`;
  const source = `json_to_recordset($1::json) AS u(${columns})`;
  const inserts = rows.filter((r) => !existing.has(r.key));
  const updates = rows.filter((r) => existing.has(r.key));
  const writes: Write[] = [];
  if (inserts.length > 0) {
    writes.push(
      sqlWrite(
        `INSERT INTO ledger.transactions (provider, transaction_id, kind, wallet_id, asset, amount, status, decision, reasons,
         anomalies, released_by, released_at, pending, available, held, facts, first_occurred_at, last_occurred_at)
       SELECT provider, transaction_id, kind, wallet_id, asset, amount, status, decision, reasons, anomalies, released_by,
              to_timestamp(released_at_ms / 1000.0), pending, available, held, facts,
              to_timestamp(first_ms / 1000.0), to_timestamp(last_ms / 1000.0)
         FROM ${source}`,
        [doc(inserts)],
      ),
    );
  }
  if (updates.length > 0) {
    writes.push(
      sqlWrite(
        `UPDATE ledger.transactions t SET
         amount = u.amount, status = u.status, decision = u.decision, reasons = u.reasons, anomalies = u.anomalies,
         released_by = u.released_by, released_at = to_timestamp(u.released_at_ms / 1000.0),
         pending = u.pending, available = u.available, held = u.held, facts = u.facts,
         first_occurred_at = CASE WHEN u.first_ms > 0 THEN LEAST(t.first_occurred_at, to_timestamp(u.first_ms / 1000.0)) ELSE t.first_occurred_at END,
         last_occurred_at = CASE WHEN u.last_ms > 0 THEN GREATEST(t.last_occurred_at, to_timestamp(u.last_ms / 1000.0)) ELSE t.last_occurred_at END,
         updated_at = now()
       FROM ${sizedRows(columns)} AS u
       WHERE t.provider = u.provider AND t.transaction_id = u.transaction_id`,
        [doc(updates), updates.length],
      ),
    );
  }
  return writes;
}

/** Writes changed balances: INSERT for new (wallet, asset), UPDATE for locked ones. */
export async function writeBalances(
  client: PoolClient,
  balances: Map<string, WalletBalance>,
  existing: ReadonlySet<string>,
): Promise<void> {
  await runWrites(client, balancesWrites(balances, existing));
}

/** Changed balances: INSERT for new (wallet, asset), UPDATE for locked ones. */
export function balancesWrites(balances: Map<string, WalletBalance>, existing: ReadonlySet<string>): Write[] {
  const all = [...balances];
  const doc = (list: typeof all) =>
    JSON.stringify(
      list.map(([, b]) => ({
        wallet_id: b.wallet_id,
        asset: b.asset,
        pending: formatUnits(b.pending),
        available: formatUnits(b.available),
        held: formatUnits(b.held),
        version: b.version,
      })),
    );
  const columns = 'wallet_id text, asset text, pending numeric, available numeric, held numeric, version bigint';
  const source = `json_to_recordset($1::json) AS u(${columns})`;
  const inserts = all.filter(([k]) => !existing.has(k));
  const updates = all.filter(([k]) => existing.has(k));
  const writes: Write[] = [];
  if (inserts.length > 0) {
    writes.push(
      sqlWrite(
        `INSERT INTO ledger.balances (wallet_id, asset, pending, available, held, version)
       SELECT wallet_id, asset, pending, available, held, version FROM ${source}`,
        [doc(inserts)],
      ),
    );
  }
  if (updates.length > 0) {
    writes.push(
      sqlWrite(
        `UPDATE ledger.balances b SET pending = u.pending, available = u.available, held = u.held, version = u.version, updated_at = now()
         FROM ${sizedRows(columns)} AS u WHERE b.wallet_id = u.wallet_id AND b.asset = u.asset`,
        [doc(updates), updates.length],
      ),
    );
  }
  return writes;
}

export async function writeKyc(client: PoolClient, kyc: BatchProjection['kyc']): Promise<void> {
  await runWrites(client, [kycWrite(kyc)]);
}

export function kycWrite(kyc: BatchProjection['kyc']): Write | null {
  if (kyc.length === 0) return null;
  // One row per customer (ON CONFLICT may not touch a row twice): the latest by (occurred_at, event_id).
  const latest = new Map<string, BatchProjection['kyc'][number]>();
  for (const k of kyc) {
    const cur = latest.get(k.customer_id);
    if (!cur || k.occurred_at_ms > cur.occurred_at_ms || (k.occurred_at_ms === cur.occurred_at_ms && k.event_id > cur.event_id)) {
      latest.set(k.customer_id, k);
    }
  }
  const rows = [...latest.values()];
  return sqlWrite(
    `INSERT INTO ledger.kyc_statuses AS k (customer_id, kyc_status, provider, event_id, occurred_at)
     SELECT c, s, p, e, to_timestamp(o / 1000.0) FROM json_to_recordset($1::json) AS u(c text, s text, p text, e text, o bigint)
     ON CONFLICT (customer_id) DO UPDATE SET kyc_status = excluded.kyc_status, provider = excluded.provider,
        event_id = excluded.event_id, occurred_at = excluded.occurred_at, updated_at = now()
      WHERE (excluded.occurred_at, excluded.event_id) > (k.occurred_at, k.event_id)`,
    [JSON.stringify(rows.map((r) => ({ c: r.customer_id, s: r.kyc_status, p: r.provider, e: r.event_id, o: r.occurred_at_ms })))],
  );
}

export async function insertProcessed(client: PoolClient, records: ProcessedInsert[], now_ms: number): Promise<void> {
  await runWrites(client, [processedWrite(records, now_ms)]);
}

export function processedWrite(records: ProcessedInsert[], now_ms: number): Write | null {
  if (records.length === 0) return null;
  // One JSON document for the whole batch, parsed once by Postgres.
  // Short keys: this document carries every event of the batch (see the AS list below).
  const rows = records.map((r) => ({
    p: r.meta.provider,
    e: r.meta.event_id,
    y: r.meta.event_type,
    t: r.meta.transaction_id,
    w: r.meta.wallet_id,
    k: r.meta.partition_key,
    a: r.meta.asset,
    m: r.meta.amount,
    s: r.meta.source,
    d: r.meta.decision,
    o: r.outcome,
    st: r.status,
    n: r.postings_count,
    an: r.anomalies.length > 0 ? r.anomalies.join(';') : null,
    bp: r.balance?.pending ?? null,
    ba: r.balance?.available ?? null,
    bh: r.balance?.held ?? null,
    bv: r.balance?.version ?? null,
    bt: r.balance?.changed_at_ms ?? null,
    oc: r.meta.occurred_at_ms,
    rc: r.meta.received_at_ms,
  }));
  return sqlWrite(
    `INSERT INTO ledger.processed_events (provider, event_id, event_type, transaction_id, wallet_id, partition_key, asset, amount,
        source, decision, outcome, status_after, postings_count, anomalies, balance_pending, balance_available, balance_held,
        balance_version, changed_at_ms, occurred_at, received_at, projected_at)
     SELECT p, e, y, t, w, k, a, m, s, d, o, st, n, an, bp, ba, bh, bv, bt,
            to_timestamp(oc / 1000.0), to_timestamp(rc / 1000.0), to_timestamp($2::bigint / 1000.0)
       FROM json_to_recordset($1::json)
         AS u(p text, e text, y text, t text, w text, k text, a text, m text, s text, d text, o text, st text, n int, an text,
              bp text, ba text, bh text, bv bigint, bt bigint, oc bigint, rc bigint)`,
    [JSON.stringify(rows), String(now_ms)],
  );
}
