/**
 * End to end through the whole platform: the provider simulator sends signed webhooks to
 * the real ingress, through dedupe, compliance screening and the ledger projector (each
 * its own process, on the shared stream runtime), against real Kafka, registry and
 * Postgres. The simulator drops one transaction's webhooks entirely, and its statements
 * then report another transaction with an altered amount and a third with a changed
 * status. The operator CLI (`node bin/tidemark.mjs reconcile`, exit codes tested from
 * outside) must report exactly those three and exit 1; with --heal the corrections flow
 * through the normal pipeline, a second heal changes nothing, and the next run exits 0
 * (conservation over the audit trail included) with the ledger equal to the provider's books. Given only the local
 * admin's settings, the CLI reconciles as the reconciler (its read-only role and its Kafka principal).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { catalogAcls, createKafka, kafkaConnection, loadCatalog, removeAcls, servicePrincipal, type Discrepancy } from '@tidemark/common';
import { SERVICE_DB_ROLES } from '@tidemark/local-infra';
import type { ReportSummary } from '@tidemark/reconciler';
import { generateSecrets, keysFromEnv, parseScenario, startSimulator, type RunningSimulator } from '@tidemark/simulator';
import { Stack } from '../harness/stack.js';

const skip = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const root = new URL('../../', import.meta.url).pathname;
/** Ports base+0..4 (see Stack); apart from the e2e suite's and the bench's. */
const RECON_PORT_BASE = 19_460;

type Report = ReportSummary & { discrepancies: Array<Discrepancy & { event_key: string | null }> };

async function waitFor<T>(what: string, timeout_ms: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeout_ms;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(skip)('reconciler end to end through the platform', () => {
  let stack: Stack;
  let db: pg.Pool;
  let dir: string;
  let sim: RunningSimulator;
  const env: Record<string, string> = {};
  let since: string;

  async function cli(
    name: string,
    extra: string[] = [],
    extraEnv: Record<string, string> = {},
  ): Promise<{ code: number | null; report: Report; stderr: string }> {
    const report = join(dir, `${name}.json`);
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin/tidemark.mjs'),
        'reconcile',
        '--provider',
        'generic',
        '--since',
        since,
        '--statements-url',
        sim.url!,
        '--report',
        report,
        ...extra,
      ],
      {
        cwd: root,
        env: { ...process.env, ...env, TIDEMARK_LOG_LEVEL: 'warn', TIDEMARK_RECONCILE_RETRY_DELAY_MS_MIN: '20', ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const text = await readFile(report, 'utf8').catch(() => null);
    if (text === null) throw new Error(`reconcile ${name} wrote no report (exit ${code}): ${stderr}`);
    return { code, report: JSON.parse(text) as Report, stderr };
  }

  async function processed(sql: string, params: unknown[] = []): Promise<number> {
    const res = await db.query<{ n: string }>(sql, params);
    return Number(res.rows[0]!.n);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recon-e2e-'));
    // The whole platform as real processes (own topic prefix, database and ports; logs in `dir`).
    const secrets = generateSecrets(['generic']);
    stack = new Stack({ port_base: RECON_PORT_BASE, otlp_endpoint: null, log_dir: dir }, secrets);
    await stack.setUp();
    await stack.startAll();
    db = new pg.Pool({ connectionString: stack.database_url, max: 2 });
    // The reconciler reads the ledger through its own read-only role, as deployed.
    Object.assign(env, { TIDEMARK_DATABASE_URL: stack.serviceDatabaseUrl('reconciler'), TIDEMARK_TOPIC_PREFIX: stack.prefix });

    since = new Date(Date.now() - 60_000).toISOString();
    const scenario = parseScenario({
      name: 'recon-e2e',
      seed: 3, // with these settings exactly one transaction has all its webhooks dropped
      world: { customers: 8, wallets_per_customer: [1, 2], providers: { generic: 1 } },
      traffic: { transactions: 30, transactions_per_s: 20, kind_weights: { deposit: 6, withdrawal: 3, kyc: 1 } },
      lifecycle: { block_time_scale: 0.0005, reversal_delay_ms: [10, 200] },
      delivery: { pace: 'asap', concurrency: 4, duplicate_rate: 0.1, reorder_rate: 0.1, late_rate: 0 },
      discrepancies: { drop_all_rate: 0.05 },
      statements: { page_size_cap: 7, empty_page_rate: 0.2, repeat_last_item_rate: 0.2, transient_failure_rate: 0.2 },
    });
    sim = await startSimulator({
      scenario,
      ingress_url: stack.ingress_url,
      keys: keysFromEnv(['generic'], secrets),
      listen: { host: '127.0.0.1', port: 0 },
    });
    await sim.done;
    // Everything acknowledged must reach the ledger before we compare.
    const acknowledged = sim.sim.truth.transactions().flatMap((r) => r.events.filter((e) => e.acknowledged).map((e) => e.id));
    const kyc = sim.sim.truth.kycStatuses().length;
    await waitFor('the pipeline to project every acknowledged webhook', 180_000, async () => {
      const n = await processed(`SELECT count(*) AS n FROM ledger.processed_events WHERE event_id = ANY($1::text[])`, [acknowledged]);
      return n === new Set(acknowledged).size;
    });
    expect(kyc).toBeGreaterThanOrEqual(0);
    // The provider's books now disagree with its webhooks on two clean, confirmed transactions.
    const clean = sim.sim.truth
      .transactions()
      .filter(
        (r) =>
          r.tx.discrepancy === null &&
          r.events.every((e) => e.acknowledged) &&
          r.events.some((e) => e.type.endsWith('.confirmed')) &&
          !r.events.some((e) => e.type === 'deposit.reversed'),
      );
    expect(clean.length).toBeGreaterThanOrEqual(2);
    expect(sim.sim.truth.injectStatementDiscrepancy('generic', clean[0]!.tx.transaction_id, 'alter_amount')).toBe(true);
    expect(sim.sim.truth.injectStatementDiscrepancy('generic', clean[1]!.tx.transaction_id, 'alter_status')).toBe(true);
  }, 600_000);

  afterAll(async () => {
    await sim?.stop().catch(() => undefined);
    await db?.end().catch(() => undefined);
    await stack?.tearDown();
    if (dir && process.env.TIDEMARK_KEEP_TEST_LOGS !== '1') await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('reports exactly the dropped webhook, the altered amount and the changed status; exits 1', async () => {
    const expected = sim.sim.truth.expectedDiscrepancies();
    expect(expected.map((e) => e.kind).sort()).toEqual(['amount_mismatch', 'missing_in_ledger', 'status_mismatch']);
    const { code, report, stderr } = await cli('first');
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(report.discrepancies.map((d) => `${d.kind} ${d.transaction_id}`).sort()).toEqual(
      expected.map((e) => `${e.kind} ${e.transaction_id}`).sort(),
    );
    expect(report.conservation).toMatchObject({ checked: true, ok: true });
  });

  it('heals through the pipeline idempotently; the next run exits 0 and the ledger equals the provider', async () => {
    // Two heal runs at once (as an impatient operator might): both derive the same event ids from
    // the same provider records, so whatever both inject, dedupe lets each correction through once.
    // One of them may start late enough to find the ledger already healed by the other: it then
    // reports nothing and exits 0. At least one sees all three; the other injects a subset of its ids.
    const runs = await Promise.all([cli('heal-1', ['--heal']), cli('heal-1b', ['--heal'])]);
    const heal1 = runs.find((r) => r.report.heal.injected === 3);
    expect(heal1, `heal runs injected ${runs.map((r) => r.report.heal.injected).join(' and ')}`).toBeDefined();
    const heal1b = runs.find((r) => r !== heal1)!;
    expect(heal1!.code).toBe(1);
    expect(heal1!.report.heal).toMatchObject({ injected: 3, not_healable: 0 });
    const ids = heal1!.report.heal.events.map((e) => e.event_id).sort();
    expect(heal1b.report.heal.events.map((e) => e.event_id).every((id) => ids.includes(id))).toBe(true);
    expect(heal1b.code).toBe(heal1b.report.discrepancies.length > 0 ? 1 : 0);
    await waitFor(
      'the healed events to be projected',
      120_000,
      async () =>
        (await processed(
          `SELECT count(*) AS n FROM ledger.processed_events WHERE event_id = ANY($1::text[]) AND source = 'RECONCILIATION'`,
          [ids],
        )) === 3,
    );
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await processed(`SELECT count(*) AS n FROM ledger.processed_events WHERE source = 'RECONCILIATION'`)).toBe(3);

    // A heal run over the healed ledger finds nothing and changes nothing.
    const heal2 = await cli('heal-2', ['--heal'], { TIDEMARK_RECONCILE_SETTLE_MS: '5000' });
    expect(heal2.report.heal.injected).toBe(0);
    expect(heal2.code).toBe(0);

    const after = await cli('after', [], { TIDEMARK_RECONCILE_SETTLE_MS: '5000' });
    expect(after.report.discrepancies).toEqual([]);
    expect(after.code).toBe(0);
    expect(after.report.conservation).toMatchObject({ checked: true, ok: true, not_conserved: 0, stuck_in_retry: 0 });

    // The ledger's read API (DESIGN 3.3) shows, wallet by wallet, what the provider's books imply.
    const statements = sim.sim.truth.statementRecords('generic');
    const expected = new Map<string, bigint>();
    for (const s of statements) {
      const units = toUnits(s.amount);
      const delta =
        s.direction === 'in' ? (s.status === 'pending' || s.status === 'confirmed' ? units : 0n) : s.status === 'confirmed' ? -units : 0n;
      expected.set(`${s.wallet_id}/${s.asset}`, (expected.get(`${s.wallet_id}/${s.asset}`) ?? 0n) + delta);
    }
    for (const wallet of new Set(statements.map((s) => s.wallet_id))) {
      const { status, body } = await stack.getJson<{
        balances: Array<{ asset: string; pending: string; available: string; held: string }>;
      }>(`/v1/wallets/${encodeURIComponent(wallet)}/balances`);
      expect(status).toBe(200);
      for (const b of body.balances) {
        const total = toUnits(b.pending) + toUnits(b.available) + toUnits(b.held);
        expect(`${wallet}/${b.asset} ${total}`).toBe(`${wallet}/${b.asset} ${expected.get(`${wallet}/${b.asset}`) ?? 0n}`);
      }
    }
  });

  it("given only the local admin's settings, the CLI reconciles as the reconciler: its database role and Kafka principal", async () => {
    // What an operator's shell has against the local infrastructure: the admin's database URL, no Kafka settings
    // (the CLI takes the credentials from the state folder: the reconciler's for `reconcile`, apps/cli/src/identity.ts).
    const as_operator = { TIDEMARK_DATABASE_URL: stack.database_url, TIDEMARK_KAFKA_SECURITY_PROTOCOL: '' };
    const ok = await cli('as-operator', [], { ...as_operator, TIDEMARK_RECONCILE_SETTLE_MS: '5000' });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);

    // The database: without CONNECT for the reconciler's role (the others keep theirs) the run cannot start, which an
    // admin run could.
    const others = (['dedupe', 'compliance-screening', 'ledger-projector', 'console'] as const).map((s) => SERVICE_DB_ROLES[s].role);
    await db.query(`GRANT CONNECT ON DATABASE ${stack.database} TO ${others.join(', ')}`);
    await db.query(`REVOKE CONNECT ON DATABASE ${stack.database} FROM PUBLIC`);
    // A run that could not start writes no report: `cli` rejects with its exit code and stderr.
    const failure = (name: string) =>
      cli(name, [], as_operator).then(
        () => 'it ran',
        (err: Error) => err.message,
      );
    try {
      expect(await failure('no-db-connect')).toMatch(/\(exit 2\): reconcile could not run: .*permission denied for database/);
    } finally {
      await db.query(`GRANT CONNECT ON DATABASE ${stack.database} TO PUBLIC`);
    }

    // Kafka: without the reconciler principal's ACLs in this namespace the run is refused, which an admin run would not be.
    const kafka = createKafka({ ...kafkaConnection(stack.base), client_id: `recon-acl-${stack.id}` }).admin();
    await kafka.connect();
    try {
      const principal = servicePrincipal('reconciler');
      const mine = catalogAcls(loadCatalog(), stack.prefix).filter((b) => b.principal === principal);
      expect(mine.length).toBeGreaterThan(0);
      await removeAcls(kafka, mine);
    } finally {
      await kafka.disconnect();
    }
    // The broker applies ACL changes from its metadata log: retried until it has.
    const refused = await waitFor('the reconciler principal to be refused', 60_000, async () => {
      const message = await failure(`no-acls-${Date.now()}`);
      return message === 'it ran' ? null : message;
    });
    // With no ACL on it the broker hides the audit topic from the principal (the admin sees it), or refuses the read.
    expect(refused).toMatch(
      new RegExp(`\\(exit 2\\): reconcile could not run.*(${stack.prefix}audit\\.v1 does not exist|authori[sz])`, 'i'),
    );
  });
});

function toUnits(amount: string): bigint {
  const negative = amount.startsWith('-');
  const [int = '0', frac = ''] = amount.replace('-', '').split('.');
  const units = BigInt(int) * 10n ** 18n + BigInt(frac.padEnd(18, '0') || '0');
  return negative ? -units : units;
}
