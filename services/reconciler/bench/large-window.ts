/**
 * Large-window benchmark: a clean reconciliation over N transactions (default 100,000),
 * run as the operator would (`node bin/tidemark.mjs reconcile ...` under /usr/bin/time -v),
 * against real Postgres / Kafka / registry.
 *
 *   npx tsx services/reconciler/bench/large-window.ts [--sizes 10000,100000] [--audit]
 *
 * The ledger is filled through the ledger projector's own handler; the provider's
 * statements are served from a local HTTP server (pages of 1,000 in updated_at order).
 * With --audit, the audit trail gets an `accepted` and a `projected` record per event so
 * the conservation check reads a trail of 2N records. Prints and writes
 * reports/reconciler-bench.json: wall time and peak RSS of the reconcile process per size.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createIdempotentProducer, buildAudit, auditKey, topicName, type AuditRecord } from '@tidemark/common';
import { createLedgerDatabase, createTestTopics, canonicalEvent, projectIntoLedger, screened } from '../src/testing/support.js';

const args = process.argv.slice(2);
const sizes = (args.includes('--sizes') ? args[args.indexOf('--sizes') + 1]! : '100000').split(',').map(Number);
const withAudit = args.includes('--audit');
/** Optional V8 old-space cap for the reconcile process (MB): shows memory stays bounded, not just lazily collected. */
const heapCapMb = args.includes('--heap-cap-mb') ? Number(args[args.indexOf('--heap-cap-mb') + 1]) : null;
const root = new URL('../../../', import.meta.url).pathname;

interface Tx {
  transaction_id: string;
  wallet_id: string;
  asset: string;
  amount: string;
  direction: 'in' | 'out';
  status: 'pending' | 'confirmed' | 'failed' | 'reversed';
  event_type: string;
  at_ms: number;
}

function makeTransactions(n: number, start_ms: number): Tx[] {
  const out: Tx[] = [];
  for (let i = 0; i < n; i += 1) {
    const r = i % 20;
    const eth = i % 2 === 1;
    const amount = eth
      ? `${(i % 97) + 1}.${String(123456789012345678n + BigInt(i))
          .padStart(18, '0')
          .slice(0, 18)}`
      : `0.${String(10_000_000 + (i % 89_999_999)).padStart(8, '0')}`;
    const [direction, status, event_type] =
      r < 14
        ? (['in', 'confirmed', 'deposit.confirmed'] as const)
        : r < 16
          ? (['in', 'pending', 'deposit.detected'] as const)
          : r < 19
            ? (['out', 'confirmed', 'withdrawal.confirmed'] as const)
            : (['out', 'pending', 'withdrawal.requested'] as const);
    out.push({
      transaction_id: `tx_${String(i).padStart(7, '0')}`,
      wallet_id: `wal_${String(i % 5_000).padStart(5, '0')}`,
      asset: eth ? 'ETH' : 'BTC',
      amount,
      direction,
      status,
      event_type,
      at_ms: start_ms + i * 10,
    });
  }
  return out;
}

async function serveStatements(txs: Tx[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const since = Date.parse(url.searchParams.get('updated_since') ?? '1970-01-01T00:00:00Z');
    const limit = Math.min(Number(url.searchParams.get('limit') ?? '100'), 1_000);
    let start = Number(url.searchParams.get('cursor') ?? '0');
    while (start < txs.length && txs[start]!.at_ms < since) start += 1;
    const page = txs.slice(start, start + limit);
    const next = start + page.length < txs.length ? String(start + page.length) : null;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        data: page.map((t) => ({
          transaction_id: t.transaction_id,
          wallet_id: t.wallet_id,
          asset: t.asset,
          amount: t.amount,
          direction: t.direction,
          status: t.status,
          updated_at: new Date(t.at_ms).toISOString(),
        })),
        next_cursor: next,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function runReconcile(env: Record<string, string>, argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const node = heapCapMb ? [process.execPath, `--max-old-space-size=${heapCapMb}`] : [process.execPath];
    const child = spawn('/usr/bin/time', ['-v', ...node, join(root, 'bin/tidemark.mjs'), 'reconcile', ...argv], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const results: Array<Record<string, unknown>> = [];
for (const n of sizes) {
  console.log(`\n== ${n} transactions`);
  const db = await createLedgerDatabase();
  const topics = await createTestTopics('reconbench');
  try {
    const start_ms = Date.now() - 2 * 3600_000 - n * 10;
    const txs = makeTransactions(n, start_ms);
    let t = Date.now();
    await projectIntoLedger(
      db.pool,
      txs.map((x) =>
        screened(
          canonicalEvent({
            event_id: `evt_${x.transaction_id}`,
            event_type: x.event_type,
            transaction_id: x.transaction_id,
            wallet_id: x.wallet_id,
            partition_key: x.wallet_id,
            asset: x.asset,
            amount: x.amount,
            occurred_at_ms: x.at_ms,
            received_at_ms: x.at_ms + 5,
          }),
        ),
      ),
    );
    const seed_ms = Date.now() - t;
    console.log(`ledger seeded through the ledger projector's handler in ${seed_ms} ms`);
    if (withAudit) {
      t = Date.now();
      const producer = createIdempotentProducer(topics.kafka);
      await producer.connect();
      const topic = topicName('audit.v1', topics.prefix);
      for (let i = 0; i < txs.length; i += 2_000) {
        const messages = [];
        for (const x of txs.slice(i, i + 2_000)) {
          for (const [stage, action, dt] of [
            ['ingress', 'accepted', 0],
            ['ledger-projector', 'projected', 50],
          ] as const) {
            const rec: AuditRecord = buildAudit({
              stage,
              action,
              provider: 'generic',
              event_id: `evt_${x.transaction_id}`,
              event_type: x.event_type,
              key: x.wallet_id,
              at_ms: x.at_ms + dt,
              trace_id: null,
            });
            messages.push({ key: auditKey(rec), value: await topics.codec.encode('audit.v1', rec), timestamp: String(x.at_ms + dt) });
          }
        }
        await producer.send({ topic, acks: -1, messages });
      }
      await producer.disconnect();
      console.log(`audit trail of ${2 * n} records written in ${Date.now() - t} ms`);
    }
    const statements = await serveStatements(txs);
    const report = join(root, 'reports', `reconciler-bench-${n}.json`);
    await mkdir(join(root, 'reports'), { recursive: true });
    t = Date.now();
    const r = await runReconcile(
      {
        TIDEMARK_DATABASE_URL: db.url,
        TIDEMARK_TOPIC_PREFIX: topics.prefix,
        TIDEMARK_RECONCILE_PAGE_LIMIT: '1000',
        TIDEMARK_LOG_LEVEL: 'warn',
      },
      [
        '--provider',
        'generic',
        '--since',
        new Date(start_ms - 1_000).toISOString(),
        '--statements-url',
        statements.url,
        '--report',
        report,
        ...(withAudit ? [] : ['--no-conservation']),
      ],
    );
    const wall_ms = Date.now() - t;
    await statements.close();
    const rss_kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? 'NaN');
    const summary = JSON.parse(await readFile(report, 'utf8')) as {
      verdict: string;
      duration_ms: number;
      matching: { matched: number };
      resources: unknown;
      discrepancies_total: number;
      conservation: unknown;
    };
    const line = {
      transactions: n,
      heap_cap_mb: heapCapMb,
      exit_code: r.code,
      verdict: summary.verdict,
      matched: summary.matching.matched,
      discrepancies: summary.discrepancies_total,
      run_duration_ms: summary.duration_ms,
      process_wall_ms: wall_ms,
      peak_rss_mb: Math.round(rss_kb / 102.4) / 10,
      sampled: summary.resources,
      conservation: withAudit ? summary.conservation : 'skipped',
      ledger_seed_ms: seed_ms,
    };
    console.log(JSON.stringify(line, null, 2));
    if (r.code !== 0) console.log(r.stdout.slice(-3_000), r.stderr.slice(-3_000));
    results.push(line);
    await rm(report.replace(/\.json$/, '.prom'), { force: true });
  } finally {
    await Promise.allSettled([db.drop(), topics.cleanup()]);
  }
}
await writeFile(join(root, 'reports', 'reconciler-bench.json'), JSON.stringify({ at: new Date().toISOString(), results }, null, 2) + '\n');
process.exit(0);
