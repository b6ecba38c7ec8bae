/**
 * End-to-end throughput of the screening service on the real stack: starts the fake
 * risk API and the service (src/main.ts) as their own processes on a fresh topic
 * prefix and Postgres schema, produces N events to events.unique.v1 over W wallets,
 * and measures how fast screened events appear on events.screened.v1
 * (read_committed). Cleans up its topics, subjects and schema afterwards.
 *
 *   npx tsx services/compliance-screening/bench/e2e.bench.ts [--events 2000] [--wallets 50]
 *
 * Needs Kafka, the registry and Postgres (npx tidemark infra up). Prints a summary
 * and writes reports/screening-e2e-bench.json (repo root).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { AvroCodec, createIdempotentProducer, waitForHttp, type CanonicalEvent, type ScreenedEvent } from '@tidemark/common';
import { freshDatabase, testNamespace } from '@tidemark/common/testing';

const program = new Command()
  .option('--events <n>', 'events to screen', (v) => Number.parseInt(v, 10), 2_000)
  .option('--wallets <n>', 'distinct wallets (partition keys)', (v) => Number.parseInt(v, 10), 50)
  .option('--timeout-ms <n>', 'give up after', (v) => Number.parseInt(v, 10), 300_000)
  .option('--out <file>', 'report file', path.resolve(fileURLToPath(new URL('../../../reports/screening-e2e-bench.json', import.meta.url))))
  .parse();
const opts = program.opts<{ events: number; wallets: number; timeoutMs: number; out: string }>();
if (!(opts.events >= 1 && opts.events <= 100_000)) throw new Error('--events must be 1..100000');
if (!(opts.wallets >= 1 && opts.wallets <= 10_000)) throw new Error('--wallets must be 1..10000');

const SERVICE_DIR = fileURLToPath(new URL('..', import.meta.url));
const ns = testNamespace('bench', { client_id: 'screening-e2e-bench' });
const { kafka, prefix } = ns;
const schema = 'compliance';
const risk_port = 18_099 + Math.floor(Math.random() * 500);
const ops_port = risk_port + 1_000;
const children: ChildProcess[] = [];

function start(name: string, script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: SERVICE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d.toString()}`));
  children.push(child);
  return child;
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeout_ms = 60_000): Promise<void> {
  const started = Date.now();
  while (!(await probe().catch(() => false))) {
    if (Date.now() - started > timeout_ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Own database: the service's schema and the runtime's tables go away with it.
const database = await freshDatabase('screening_bench');
try {
  await ns.applyTopics();
  const codec = new AvroCodec(ns.config.TIDEMARK_REGISTRY_URL, prefix);
  start('fake-risk-api', 'src/fake-risk-api/main.ts', { TIDEMARK_RISK_API_PORT: String(risk_port), TIDEMARK_LOG_LEVEL: 'warn' });
  await waitForHttp(`http://127.0.0.1:${risk_port}/healthz`);
  start('compliance-screening', 'src/main.ts', {
    TIDEMARK_TOPIC_PREFIX: prefix,
    TIDEMARK_SCREENING_DB_SCHEMA: schema,
    TIDEMARK_DATABASE_URL: database.url,
    TIDEMARK_SCREENING_PORT: String(ops_port),
    TIDEMARK_RISK_API_URL: `http://127.0.0.1:${risk_port}`,
    TIDEMARK_LOG_LEVEL: 'warn',
  });
  await waitForHttp(`http://127.0.0.1:${ops_port}/readyz`, 120_000);

  const events: CanonicalEvent[] = Array.from({ length: opts.events }, (_, i) => {
    const wallet = `wal_${i % opts.wallets}`;
    const now = Date.now();
    return {
      ingress_id: randomUUID(),
      provider: 'generic',
      event_id: `bench_${i}`,
      event_type: i % 2 === 0 ? 'deposit.confirmed' : 'withdrawal.requested',
      occurred_at_ms: now - 60_000 + i,
      received_at_ms: now,
      partition_key: wallet,
      transaction_id: `tx_${i}`,
      wallet_id: wallet,
      customer_id: null,
      asset: 'USDT',
      network: 'ethereum',
      amount: `${(i * 37) % 3_000}.25`,
      tx_hash: null,
      from_address: `0x${randomBytes(20).toString('hex')}`,
      to_address: `0x${randomBytes(20).toString('hex')}`,
      confirmations: 12,
      counterparty_name: i % 10 === 0 ? null : 'ACME GmbH',
      counterparty_country: 'DE',
      kyc_status: null,
      source: 'WEBHOOK',
      body_sha256: '0'.repeat(64),
    };
  });
  const encoded = await Promise.all(events.map(async (e) => ({ key: e.partition_key, value: await codec.encode('events.unique.v1', e) })));

  const seen = new Set<string>();
  const decisions = { ALLOW: 0, REVIEW: 0, BLOCK: 0 };
  let first_ms = 0;
  let last_ms = 0;
  const reader = kafka.consumer({ groupId: `${prefix}bench-reader`, readUncommitted: false });
  await reader.connect();
  await reader.subscribe({ topic: ns.topic('events.screened.v1'), fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const s = await codec.decode<ScreenedEvent>(message.value as Buffer);
      if (seen.has(s.event.event_id)) return;
      seen.add(s.event.event_id);
      decisions[s.screening.decision]++;
      last_ms = Date.now();
      if (first_ms === 0) first_ms = last_ms;
    },
  });

  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const produce_started_ms = Date.now();
  for (let i = 0; i < encoded.length; i += 500) {
    await producer.send({ topic: ns.topic('events.unique.v1'), acks: -1, messages: encoded.slice(i, i + 500) });
  }
  const produced_ms = Date.now();
  await producer.disconnect();
  await waitFor(`${opts.events} screened events`, async () => seen.size >= opts.events, opts.timeoutMs);
  await reader.disconnect();

  const elapsed_s = (last_ms - produce_started_ms) / 1_000;
  const report = {
    benchmark:
      'compliance-screening end to end: events.unique.v1 → events.screened.v1 (own processes: service + fake risk API; real Kafka, registry, Postgres)',
    at: new Date().toISOString(),
    events: opts.events,
    wallets: opts.wallets,
    produce_s: (produced_ms - produce_started_ms) / 1_000,
    first_screened_after_s: (first_ms - produce_started_ms) / 1_000,
    all_screened_after_s: elapsed_s,
    events_per_s: Math.round(opts.events / elapsed_s),
    decisions,
    note: 'one service instance, risk API on loopback with no latency, risk cache cold (fresh addresses); 2-core machine shared with the broker, registry and Postgres',
  };
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `screening end to end: ${report.events_per_s} events/s (${opts.events} events, ${opts.wallets} wallets, all screened ${elapsed_s.toFixed(1)} s after the first send) → ${opts.out}`,
  );
} finally {
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1_500));
  await ns.cleanup();
  await database.drop();
}
