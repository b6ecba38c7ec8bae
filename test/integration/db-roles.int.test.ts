/**
 * Least-privilege Postgres (issue 15, deploy/local/src/db-roles.ts): the stateful services run
 * as real processes against a database set up by the test stack, each connected as its own role.
 * Then, from outside: nobody connected is a superuser or the admin; each role owns exactly its
 * schema and nothing lands in `public`; the ledger's role cannot read or write another service's
 * schema; the read-only ledger role (the reconciler's) reads the ledger but cannot change it; the console's role
 * reads and writes the dead-letter state table only (its DLQ actions: test/integration/kafka-access.int.test.ts).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForHttp } from '@tidemark/cli/platform';
import { DLQ_STATE_SCHEMA, LEDGER_READER_ROLE, SERVICE_DB_ROLES } from '@tidemark/local-infra';
import { migrateStreamTables } from '@tidemark/stream';
import { Stack } from '../harness/stack.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
/** Ports base+0..5 (see Stack); apart from the other suites' bases. */
const PORT_BASE = 19_760;
const STATEFUL = ['dedupe', 'compliance-screening', 'ledger-projector'] as const;
const SERVICE_ROLES = STATEFUL.map((s) => SERVICE_DB_ROLES[s].role);

/** Runs `sql` as the role of `url`; resolves with the SQLSTATE of the failure, or 'ok'. */
async function attempt(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await client.end();
  }
}

describe.skipIf(SKIP)('least-privilege Postgres roles', () => {
  let stack: Stack;
  let admin: pg.Pool;

  beforeAll(async () => {
    stack = new Stack(
      { port_base: PORT_BASE, otlp_endpoint: null },
      { TIDEMARK_GENERIC_SECRETS: 'whsec_dGlkZW1hcmstZGItcm9sZXMtdGVzdA==' },
    );
    await stack.setUp();
    stack.startService('risk-api');
    await waitForHttp(`${stack.risk_url}/healthz`, 60_000);
    for (const s of STATEFUL) stack.startService(s);
    // Ready = migrated (each service ran its own migrations as its own role) and consuming.
    for (const s of STATEFUL) await waitForHttp(`http://127.0.0.1:${stack.portOf(s)}/readyz`, 120_000);
    admin = new pg.Pool({ connectionString: stack.database_url, max: 2 });
  });

  afterAll(async () => {
    await admin?.end();
    await stack?.tearDown();
  });

  it('the services are connected as their own roles, none a superuser or able to create roles or databases', async () => {
    const { rows } = await admin.query<{ usename: string }>(
      'SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    expect(rows.map((r) => r.usename).sort()).toEqual([...SERVICE_ROLES].sort());
    const roles = await admin.query<{
      rolname: string;
      rolsuper: boolean;
      rolcreatedb: boolean;
      rolcreaterole: boolean;
      rolbypassrls: boolean;
    }>('SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = ANY($1)', [
      [...SERVICE_ROLES, SERVICE_DB_ROLES.reconciler.role, SERVICE_DB_ROLES.console.role, LEDGER_READER_ROLE],
    ]);
    expect(roles.rows).toHaveLength(SERVICE_ROLES.length + 3);
    for (const r of roles.rows)
      expect(r, r.rolname).toMatchObject({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolbypassrls: false });
  });

  it('each service role owns its schema and every table in it; nothing of theirs is in public', async () => {
    for (const s of STATEFUL) {
      const { role, schema } = SERVICE_DB_ROLES[s];
      const owner = await admin.query<{ owner: string }>('SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1', [
        schema,
      ]);
      expect(owner.rows, schema).toEqual([{ owner: role }]);
      const tables = await admin.query<{ tablename: string; tableowner: string }>(
        'SELECT tablename, tableowner FROM pg_tables WHERE schemaname = $1',
        [schema],
      );
      expect(tables.rows.length, `${schema} has its tables`).toBeGreaterThan(0);
      expect(tables.rows.filter((t) => t.tableowner !== role)).toEqual([]);
    }
    // The stream runtime's tables are per service (found through each role's search_path).
    for (const schema of ['dedupe', 'compliance', 'ledger']) {
      const { rows } = await admin.query('SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2', [schema, 'stream_parked']);
      expect(rows, `${schema}.stream_parked`).toHaveLength(1);
    }
    const pub = await admin.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
    expect(pub.rows).toEqual([]);
  });

  it("the ledger's role cannot touch another service's schema, public, or create schemas", async () => {
    const ledger = stack.serviceDatabaseUrl('ledger-projector');
    expect(await attempt(ledger, 'SELECT count(*) FROM ledger.balances')).toBe('ok');
    expect(await attempt(ledger, 'SELECT * FROM dedupe.dedupe_claims LIMIT 1')).toBe('42501');
    expect(await attempt(ledger, 'DELETE FROM dedupe.dedupe_claims')).toBe('42501');
    expect(await attempt(ledger, 'SELECT * FROM compliance.screening_decisions LIMIT 1')).toBe('42501');
    expect(await attempt(ledger, 'CREATE TABLE compliance.intruder (x int)')).toBe('42501');
    expect(await attempt(ledger, 'CREATE TABLE public.intruder (x int)')).toBe('42501');
    expect(await attempt(ledger, 'CREATE SCHEMA intruder')).toBe('42501');
    const dedupe = stack.serviceDatabaseUrl('dedupe');
    expect(await attempt(dedupe, 'SELECT * FROM ledger.balances LIMIT 1')).toBe('42501');
    expect(await attempt(dedupe, 'UPDATE ledger.balances SET available = 0')).toBe('42501');
  });

  it('the read-only ledger role (the reconciler) reads the ledger and cannot change it', async () => {
    const reader = stack.serviceDatabaseUrl('reconciler');
    expect(await attempt(reader, 'SELECT count(*) FROM ledger.transactions')).toBe('ok');
    expect(await attempt(reader, 'SELECT count(*) FROM ledger.processed_events')).toBe('ok');
    // The reconciler's staging lives in temporary tables, which every role may create.
    expect(await attempt(reader, 'CREATE TEMPORARY TABLE staging (x int)')).toBe('ok');
    expect(
      await attempt(
        reader,
        `INSERT INTO ledger.kyc_statuses (customer_id, kyc_status, provider, event_id, occurred_at) VALUES ('c', 's', 'p', 'e', now())`,
      ),
    ).toBe('42501');
    expect(await attempt(reader, 'UPDATE ledger.balances SET available = available + 1')).toBe('42501');
    expect(await attempt(reader, 'DELETE FROM ledger.postings')).toBe('42501');
    expect(await attempt(reader, 'TRUNCATE ledger.outbox')).toBe('42501');
    expect(await attempt(reader, 'CREATE TABLE ledger.intruder (x int)')).toBe('42501');
    expect(await attempt(reader, 'SELECT * FROM compliance.screening_decisions LIMIT 1')).toBe('42501');
  });

  it("the console's role works the dead-letter state and nothing else, and runs no DDL", async () => {
    const console_url = stack.serviceDatabaseUrl('console');
    // What its DLQ actions do (packages/stream/src/dlq/ops.ts), through its search_path.
    const row = `('t.dlq', 0, 7, 'replaying', 'console:test')`;
    expect(
      await attempt(console_url, `INSERT INTO stream_dlq_state (dlq_topic, dlq_partition, dlq_offset, state, actor) VALUES ${row}`),
    ).toBe('ok');
    expect(await attempt(console_url, `UPDATE stream_dlq_state SET state = 'replayed', updated_at = now() WHERE dlq_offset = 7`)).toBe(
      'ok',
    );
    expect(await attempt(console_url, `SELECT dlq_partition, dlq_offset, state FROM stream_dlq_state WHERE dlq_topic = 't.dlq'`)).toBe(
      'ok',
    );
    expect((await admin.query(`SELECT state, actor FROM ${DLQ_STATE_SCHEMA}.stream_dlq_state WHERE dlq_topic = 't.dlq'`)).rows).toEqual([
      { state: 'replayed', actor: 'console:test' },
    ]);
    // Nothing else: not the ledger, not another service's schema, no table of its own, not even erasing the state.
    const refused = [
      'SELECT count(*) FROM ledger.balances',
      'UPDATE ledger.balances SET available = 0',
      `INSERT INTO ledger.kyc_statuses (customer_id, kyc_status, provider, event_id, occurred_at) VALUES ('c', 's', 'p', 'e', now())`,
      'SELECT * FROM dedupe.dedupe_claims LIMIT 1',
      'SELECT * FROM compliance.screening_decisions LIMIT 1',
      'DELETE FROM stream_dlq_state',
      'TRUNCATE stream_dlq_state',
      'DROP TABLE stream_dlq_state',
      `CREATE TABLE ${DLQ_STATE_SCHEMA}.intruder (x int)`,
      'CREATE TABLE public.intruder (x int)',
      'CREATE SCHEMA intruder',
    ];
    for (const sql of refused) expect(await attempt(console_url, sql), sql).toBe('42501');
  });

  it("the provisioned dead-letter state table has the stream runtime migration's columns", async () => {
    // The runtime's own migration, run in a scratch schema, against what the provisioning created.
    const scratch = `dlq_cols_${stack.id}`;
    await admin.query(`CREATE SCHEMA ${scratch}`);
    const pool = new pg.Pool({ connectionString: stack.database_url, max: 1, options: `-c search_path=${scratch}` });
    try {
      await migrateStreamTables(pool);
      const columns = async (schema: string) =>
        (
          await admin.query(
            `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
              WHERE table_schema = $1 AND table_name = 'stream_dlq_state' ORDER BY ordinal_position`,
            [schema],
          )
        ).rows;
      const provisioned = await columns(DLQ_STATE_SCHEMA);
      expect(provisioned.length).toBe(6);
      expect(provisioned).toEqual(await columns(scratch));
    } finally {
      await pool.end();
      await admin.query(`DROP SCHEMA ${scratch} CASCADE`);
    }
  });
});
