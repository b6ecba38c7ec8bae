/**
 * Benchmark of the pure screening core: decisions per second and latency
 * percentiles per decision, on a realistic mix of events (clean deposits and
 * withdrawals, counterparty names, sanctioned addresses, KYC events) with a wallet
 * history of up to `history_max` earlier transactions in the window.
 *
 *   npx tsx services/compliance-screening/bench/screening.bench.ts [--events 20000] [--history-max 50]
 *
 * Prints a summary and writes reports/screening-bench.json (repo root).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { CanonicalEvent } from '@tidemark/common';
import { screen, type HistoryEntry } from '../src/core/screen.js';
import { fakeScore } from '../src/fake-risk-api/scoring.js';
import { historyEntry, loadDefaultReference, lowRisk, makeContext, makeEvent, T0_MS } from '../src/testing/fixtures.js';

const program = new Command()
  .option('--events <n>', 'decisions to measure', (v) => Number.parseInt(v, 10), 20_000)
  .option('--warmup <n>', 'decisions before measuring', (v) => Number.parseInt(v, 10), 2_000)
  .option('--history-max <n>', 'most earlier transactions per wallet window', (v) => Number.parseInt(v, 10), 50)
  .option('--out <file>', 'report file', path.resolve(fileURLToPath(new URL('../../../reports/screening-bench.json', import.meta.url))))
  .parse();
const opts = program.opts<{ events: number; warmup: number; historyMax: number; out: string }>();
const EVENTS_MAX = 1_000_000;
if (!(opts.events > 0 && opts.events <= EVENTS_MAX)) throw new Error(`--events must be 1..${EVENTS_MAX}`);

const ref = await loadDefaultReference();
const sanctioned = [...ref.sanctions.by_address.values()].map((e) => e.listed);
const names = [
  'ACME GmbH',
  'Hans Müller',
  'Maria Garcia',
  'Blockchain Ventures Ltd',
  'Nordic Custody AB',
  'Jean-Luc Picard',
  'Garantecs',
  null,
];
const assets = ['BTC', 'ETH', 'USDT', 'USDC', 'LTC'];

// Deterministic pseudo-random sequence (no Math.random: runs are comparable).
let seed = 42;
const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);

function sample(i: number): { event: CanonicalEvent; history: HistoryEntry[] } {
  const r = next();
  const kind = r % 100;
  const asset = assets[r % assets.length] as string;
  // Mostly small transfers, some large: ~0–3,000 units of stablecoins/LTC, ~0–0.3 BTC/ETH.
  const units = next() % 3_000;
  const amount =
    asset === 'BTC' || asset === 'ETH'
      ? `0.${units.toString().padStart(4, '0')}`
      : `${units}.${(next() % 100).toString().padStart(2, '0')}`;
  const history = Array.from({ length: next() % (opts.historyMax + 1) }, (_, k) =>
    historyEntry({ occurred_at_ms: T0_MS - (k + 1) * 1_800_000, amount_ref: `${next() % 3_000}.5` }),
  );
  if (kind < 5)
    return {
      event: makeEvent({ event_type: 'kyc.status_changed', transaction_id: null, amount: null, kyc_status: 'approved' }),
      history: [],
    };
  const overrides: Partial<CanonicalEvent> = {
    event_id: `bench_${i}`,
    asset,
    amount,
    event_type: kind < 55 ? 'deposit.confirmed' : 'withdrawal.requested',
    counterparty_name: names[r % names.length] ?? null,
    counterparty_country: kind % 50 === 0 ? 'IR' : 'DE',
    from_address: kind < 2 + 5 ? (sanctioned[r % sanctioned.length] as string) : `bc1q${(r % 1_000_000).toString(36).padStart(38, 'q')}`,
    to_address: `0x${(r % 1_000_000).toString(16).padStart(40, '0')}`,
  };
  return { event: makeEvent(overrides), history };
}

const inputs = Array.from({ length: opts.events + opts.warmup }, (_, i) => sample(i));
const decisions = { ALLOW: 0, REVIEW: 0, BLOCK: 0 };
const latencies_ns = new BigInt64Array(opts.events);
for (let i = 0; i < inputs.length; i++) {
  const { event, history } = inputs[i] as { event: CanonicalEvent; history: HistoryEntry[] };
  // Risk scores distributed like the fake API's (deterministic per address).
  const risk = lowRisk(event).map((a) => ({ ...a, risk_score: fakeScore(a.address).risk_score }));
  const ctx = makeContext(ref, event, { history, risk });
  const started = process.hrtime.bigint();
  const d = screen(event, ctx);
  const elapsed = process.hrtime.bigint() - started;
  if (i >= opts.warmup) {
    latencies_ns[i - opts.warmup] = elapsed;
    decisions[d.decision]++;
  }
}
const sorted = [...latencies_ns].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const total_ns = sorted.reduce((a, b) => a + b, 0n);
const pct = (p: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]) / 1_000;
const report = {
  benchmark: 'compliance-screening pure core: screen(event, context)',
  at: new Date().toISOString(),
  node: process.version,
  events: opts.events,
  history_max: opts.historyMax,
  sanctions_addresses: ref.sanctions.address_count,
  names: ref.names.names.length,
  decisions_per_s: Math.round(opts.events / (Number(total_ns) / 1e9)),
  latency_us: { p50: pct(50), p90: pct(90), p99: pct(99), max: pct(100), mean: Number(total_ns / BigInt(opts.events)) / 1_000 },
  decisions,
};
mkdirSync(path.dirname(opts.out), { recursive: true });
writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `screening core: ${report.decisions_per_s} decisions/s (single thread, compute only); ` +
    `p50 ${report.latency_us.p50.toFixed(1)} µs, p99 ${report.latency_us.p99.toFixed(1)} µs, max ${report.latency_us.max.toFixed(1)} µs ` +
    `over ${opts.events} events (ALLOW ${decisions.ALLOW}, REVIEW ${decisions.REVIEW}, BLOCK ${decisions.BLOCK}) → ${opts.out}`,
);
