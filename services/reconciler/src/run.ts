/**
 * One reconciliation run: the provider's statements against the ledger over a window,
 * plus the conservation check over the audit trail, with bounded memory throughout.
 *
 *  1. Stream the statements pages into a session-private staging table (deduped by
 *     transaction id, latest updated_at wins), classifying each record against the window.
 *  2. Open one consistent snapshot of the ledger.
 *  3. Provider side: staged in-window records in id order, chunk by chunk, each compared
 *     with the ledger transaction of the same id (looked up per chunk).
 *  4. Ledger side: the ledger's transactions in the window, chunk by chunk; those the
 *     provider did not list at all are `missing_at_provider`.
 *  5. Balances: every (wallet, asset) the window touched, judged by the balance rule.
 *  6. Conservation over audit.v1 (unless disabled).
 * Every finding is streamed as it is found: to the report's NDJSON spill file, to
 * reconciliation.discrepancies.v1 and, with heal, a heal event to webhooks.received.v1.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import { type AuditRecord, type AvroCodec, type Logger, buildAudit } from '@tidemark/common';
import { compareTransaction, type Comparison } from './core/compare.js';
import { PairTallies, judgePair, isZero, formatBuckets, splitPairKey } from './core/balance.js';
import { buildHealEvent } from './core/heal.js';
import { ConservationCheck } from './core/conservation.js';
import { ReportBuilder, type ReportSummary } from './core/report.js';
import type { Finding, LedgerTx, ProviderRecord } from './core/model.js';
import { type Window, windowPosition } from './core/window.js';
import type { RetryPolicy } from './core/backoff.js';
import { fetchStatementPages, safeUrl } from './adapters/statements-client.js';
import { ProviderStaging } from './adapters/staging.js';
import { LedgerReader } from './adapters/ledger.js';
import { Publisher, STAGE } from './adapters/publisher.js';
import { readAuditTrail } from './adapters/audit-reader.js';
import type { ReconcilerMetrics } from './metrics.js';

export interface RunOptions {
  run_id: string;
  provider: string;
  window: Window;
  statements_url: string;
  statements_token?: string;
  heal: boolean;
  conservation: boolean;
  report_path: string;
  page_limit: number;
  request_timeout_ms: number;
  retry: RetryPolicy;
  chunk_size: number;
  settle_ms: number;
  stuck_ms: number;
  audit_timeout_ms: number;
  audit_lookback_ms: number;
  open_events_max: number;
}

export interface RunDeps {
  pool: Pool;
  kafka: Kafka;
  codec: AvroCodec;
  publisher: Publisher;
  prefix: string;
  logger: Logger;
  metrics: ReconcilerMetrics;
  now?: () => number;
}

export interface RunResult {
  summary: ReportSummary;
  findings_kept: readonly Finding[];
  report_path: string;
}

/** Samples the process's memory while a run lasts (the report states its peak). */
function memorySampler(interval_ms = 200) {
  let peak_rss = process.memoryUsage.rss();
  let peak_heap = process.memoryUsage().heapUsed;
  const sample = () => {
    const rss = process.memoryUsage.rss();
    const heap = process.memoryUsage().heapUsed;
    if (rss > peak_rss) peak_rss = rss;
    if (heap > peak_heap) peak_heap = heap;
  };
  const timer = setInterval(sample, interval_ms);
  timer.unref();
  return {
    stop(): { peak_rss_mb: number; peak_heap_used_mb: number; sample_interval_ms: number } {
      sample();
      clearInterval(timer);
      const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
      return { peak_rss_mb: mb(peak_rss), peak_heap_used_mb: mb(peak_heap), sample_interval_ms: interval_ms };
    },
  };
}

/** What every step of one run shares. */
interface RunContext {
  opts: RunOptions;
  deps: RunDeps;
  now: () => number;
  log: Logger;
  report: ReportBuilder;
  tallies: PairTallies;
  /** Records a finding: report, metric, spill file, discrepancy topic. */
  emit(f: Finding): Promise<void>;
  /** Records one transaction comparison: report, pair tallies, its findings, its heal (when healing). */
  handle(c: Comparison, provider: ProviderRecord | null): Promise<void>;
}

function runContext(opts: RunOptions, deps: RunDeps, spill: WriteStream, started_at_ms: number): RunContext {
  const now = deps.now ?? Date.now;
  const report = new ReportBuilder(opts.run_id, opts.provider, opts.window, started_at_ms, safeUrl(opts.statements_url), opts.heal);
  const run = { run_id: opts.run_id, provider: opts.provider, detected_at_ms: started_at_ms };
  const tallies = new PairTallies();
  const emit = async (f: Finding): Promise<void> => {
    report.addFinding(f);
    deps.metrics.discrepancies.inc({ provider: opts.provider, kind: f.kind });
    await writeLine(spill, JSON.stringify({ run_id: opts.run_id, provider: opts.provider, ...f, event_key: f.event_key ?? null }));
    await deps.publisher.discrepancy(run, f);
  };
  const handle = async (c: Comparison, provider: ProviderRecord | null): Promise<void> => {
    report.addComparison(c);
    for (const e of c.effects) {
      if (e.kind === 'ledger') tallies.noteLedger(e.wallet_id, e.asset, e.buckets);
      else if (e.kind === 'implied') tallies.noteImplied(e.wallet_id, e.asset, e.buckets);
      else tallies.noteUnexplained(e.wallet_id, e.asset, e.buckets);
    }
    for (const f of c.findings) await emit(f);
    if (!opts.heal || c.heal === null || provider === null) return;
    if (!c.heal.healable) {
      report.noteNotHealable(provider.transaction_id, c.heal.reason);
      return;
    }
    const event = buildHealEvent({ provider: opts.provider, record: provider, plan: c.heal, ingress_id: uuidv7(), now_ms: now() });
    await deps.publisher.heal(event, opts.run_id);
    deps.metrics.heal_events.inc({ provider: opts.provider });
    const heal = {
      event_id: event.event_id,
      event_type: event.event_type,
      transaction_id: provider.transaction_id,
      wallet_id: provider.wallet_id,
    };
    report.noteHeal({ ...heal, amount: event.amount ?? '' });
  };
  return { opts, deps, now, log: deps.logger.child({ run_id: opts.run_id, provider: opts.provider }), report, tallies, emit, handle };
}

export async function runReconciliation(opts: RunOptions, deps: RunDeps): Promise<RunResult> {
  const memory = memorySampler();
  const spill_path = `${opts.report_path}.discrepancies.ndjson.tmp`;
  await mkdir(dirname(opts.report_path), { recursive: true });
  const spill = createWriteStream(spill_path, { encoding: 'utf8' });
  const ctx = runContext(opts, deps, spill, (deps.now ?? Date.now)());
  const { report } = ctx;
  try {
    await compareWithLedger(ctx);
    await checkConservation(ctx);
    report.resources = memory.stop();
    const summary = report.summary(ctx.now());
    await deps.publisher.audit(runAudit(opts, summary));
    await deps.publisher.flush();
    await closeStream(spill);
    await writeReportFile(opts.report_path, summary, spill_path);
    deps.metrics.observeRun(opts.provider, summary);
    return { summary, findings_kept: report.kept, report_path: opts.report_path };
  } finally {
    memory.stop();
    if (!spill.closed) await closeStream(spill).catch(() => undefined);
    await rm(spill_path, { force: true }).catch(() => undefined);
  }
}

/** Steps 1–5 on one connection: statements staged, then one consistent ledger snapshot compared with them. */
async function compareWithLedger(ctx: RunContext): Promise<void> {
  const client = await ctx.deps.pool.connect();
  let clientBroken = false;
  try {
    const ledger = new LedgerReader(client, ctx.opts.provider);
    await ledger.assertSchema();
    const staging = new ProviderStaging(client);
    await staging.create();
    await stageStatements(ctx, staging);
    // 2. One consistent ledger snapshot for everything that follows.
    await ledger.beginSnapshot();
    ctx.report.ledger_side.as_of = await ledger.asOf();
    await compareProviderSide(ctx, ledger, staging);
    await compareLedgerSide(ctx, ledger, staging);
    await checkBalances(ctx, ledger);
    await ledger.endSnapshot();
    await staging.drop();
  } catch (err) {
    clientBroken = true;
    throw err;
  } finally {
    if (clientBroken) await client.query('ROLLBACK').catch(() => undefined);
    client.release(clientBroken);
  }
}

/** 1. Provider statements -> staging. */
async function stageStatements(ctx: RunContext, staging: ProviderStaging): Promise<void> {
  const { opts, report } = ctx;
  let newest_ms = -1;
  const pages = fetchStatementPages({
    base_url: opts.statements_url,
    updated_since: new Date(opts.window.since_ms).toISOString(),
    page_limit: opts.page_limit,
    request_timeout_ms: opts.request_timeout_ms,
    retry: opts.retry,
    token: opts.statements_token,
    logger: ctx.log,
  });
  const p = report.provider_side;
  for await (const page of pages) {
    p.pages += 1;
    p.retries += page.retries;
    p.items_received += page.records.length;
    if (page.records.length === 0) p.empty_pages += 1;
    const classified = page.records.map((r) => {
      if (r.updated_at_ms > newest_ms) newest_ms = r.updated_at_ms;
      return { ...r, position: windowPosition(opts.window, r.updated_at_ms) };
    });
    await staging.upsert(classified);
  }
  const staged = await staging.counts();
  p.in_window = staged.in;
  p.before_window = staged.before;
  p.after_window = staged.after;
  p.duplicates_dropped = p.items_received - (staged.in + staged.before + staged.after);
  p.as_of = newest_ms >= 0 ? new Date(newest_ms).toISOString() : null;
  p.fetched_at = new Date(ctx.now()).toISOString();
  ctx.deps.metrics.provider_records.inc({ provider: opts.provider }, p.items_received);
  const staged_log = {
    pages: p.pages,
    items: p.items_received,
    in_window: p.in_window,
    duplicates: p.duplicates_dropped,
    retries: p.retries,
  };
  ctx.log.info(staged_log, 'provider statements staged');
}

/** 3. Provider side, in transaction-id order. */
async function compareProviderSide(ctx: RunContext, ledger: LedgerReader, staging: ProviderStaging): Promise<void> {
  for await (const chunk of staging.inWindow(ctx.opts.chunk_size)) {
    const found = await ledger.byIds(chunk.map((r) => r.transaction_id));
    ctx.report.ledger_side.transactions_looked_up += found.size;
    for (const record of chunk) {
      const l = found.get(record.transaction_id) ?? null;
      if (l !== null && isAfterWindow(l, ctx.opts.window)) {
        // The ledger already applied an event later than the window: compared by a later window.
        ctx.report.skipped_outside_window += 1;
        continue;
      }
      await ctx.handle(compareTransaction(record, l), record);
    }
  }
}

/** 4. Ledger side: what the provider did not list. */
async function compareLedgerSide(ctx: RunContext, ledger: LedgerReader, staging: ProviderStaging): Promise<void> {
  const { opts, report } = ctx;
  let batch: string[] = [];
  const flushLedgerBatch = async () => {
    if (batch.length === 0) return;
    const positions = await staging.positions(batch);
    const unlisted = batch.filter((id) => !positions.has(id));
    report.skipped_outside_window += batch.filter((id) => positions.has(id) && positions.get(id) !== 'in').length;
    const found = await ledger.byIds(unlisted);
    for (const id of unlisted) {
      const l = found.get(id);
      if (l) await ctx.handle(compareTransaction(null, l), null);
    }
    batch = [];
  };
  for await (const line of ledger.window(new Date(opts.window.since_ms), new Date(opts.window.until_ms), opts.chunk_size)) {
    report.ledger_side.transactions_in_window += 1;
    batch.push(line.transaction_id);
    if (batch.length >= opts.chunk_size) await flushLedgerBatch();
  }
  await flushLedgerBatch();
}

/** 5. Balances of every (wallet, asset) the window touched. */
async function checkBalances(ctx: RunContext, ledger: LedgerReader): Promise<void> {
  const { opts, report } = ctx;
  const keys = ctx.tallies.keys();
  for (let i = 0; i < keys.length; i += opts.chunk_size) {
    const slice = keys.slice(i, i + opts.chunk_size);
    const facts = await ledger.pairFacts(slice.map(splitPairKey));
    for (const key of slice) {
      const tally = ctx.tallies.get(key)!;
      const pair = splitPairKey(key);
      const f = facts.get(key);
      if (!f) throw new Error(`invariant: no ledger facts for pair ${key}`);
      const verdict = judgePair(tally, f);
      report.pairs_checked += 1;
      if (verdict.drift_checked) report.pairs_drift_checked += 1;
      if (isZero(verdict.residual)) continue;
      await ctx.emit({
        kind: 'balance_mismatch',
        transaction_id: null,
        wallet_id: pair.wallet_id,
        asset: pair.asset,
        ledger_value: formatBuckets(f.balance),
        provider_value: formatBuckets(verdict.provider_balance),
        detail: `the ledger balance of ${pair.wallet_id}/${pair.asset} differs from what its transactions and the provider's records imply by ${formatBuckets(verdict.residual)} (not explained by any transaction-level discrepancy)`,
      });
    }
  }
}

/** 6. Conservation inside the platform (the audit trail). */
async function checkConservation(ctx: RunContext): Promise<void> {
  const { opts, deps, report } = ctx;
  if (!opts.conservation) {
    report.conservation = { checked: false, reason: 'disabled with --no-conservation' };
    return;
  }
  const checked_at_ms = ctx.now();
  const check = new ConservationCheck({
    provider: opts.provider,
    window: opts.window,
    settled_before_ms: checked_at_ms - opts.settle_ms,
    stuck_before_ms: checked_at_ms - opts.stuck_ms,
    tracks_max: opts.open_events_max,
  });
  const read = await readAuditTrail({
    kafka: deps.kafka,
    codec: deps.codec,
    prefix: deps.prefix,
    from_ms: opts.window.since_ms - opts.audit_lookback_ms,
    run_id: opts.run_id,
    timeout_ms: opts.audit_timeout_ms,
    logger: ctx.log,
    onRecord: (r) => check.observe(r),
  });
  const { summary, findings } = check.finish();
  for (const f of findings) await ctx.emit(f);
  report.audit_as_of = read.as_of;
  report.conservation = { ...summary, checked: true, settle_ms: opts.settle_ms, stuck_after_ms: opts.stuck_ms };
  ctx.log.info({ records: read.records, undecodable: read.undecodable, ...summary }, 'conservation checked');
}

/** The run's own audit record (`reconciled`). */
function runAudit(opts: RunOptions, summary: ReportSummary): AuditRecord {
  const counts = Object.entries(summary.discrepancy_counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => [`count_${k}`, String(n)]);
  return buildAudit({
    stage: STAGE,
    action: 'reconciled',
    audit_id: `${STAGE}:reconciled:${opts.run_id}`,
    provider: opts.provider,
    reason: summary.ok ? null : 'discrepancies_found',
    details: {
      run_id: opts.run_id,
      verdict: summary.verdict,
      since: summary.window.since,
      until: summary.window.until,
      discrepancies: String(summary.discrepancies_total),
      ...Object.fromEntries(counts),
      heal: String(opts.heal),
      heal_events: String(summary.heal.injected),
      report: opts.report_path,
    },
  });
}

function isAfterWindow(l: LedgerTx, window: Window): boolean {
  return l.last_event_at_ms !== null && l.last_event_at_ms >= window.until_ms;
}

function writeLine(stream: WriteStream, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = stream.write(line + '\n', (err) => (err ? reject(err) : undefined));
    if (ok) resolve();
    else stream.once('drain', resolve);
  });
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/** Summary + every discrepancy, copied line by line from the spill file (bounded memory). */
async function writeReportFile(path: string, summary: ReportSummary, spill_path: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const out = createWriteStream(tmp, { encoding: 'utf8' });
  const head = JSON.stringify(summary, null, 2);
  await writeLine(out, `${head.slice(0, head.lastIndexOf('}')).trimEnd()},\n  "discrepancies": [`);
  const lines = createInterface({ input: createReadStream(spill_path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let first = true;
  for await (const line of lines) {
    if (line.length === 0) continue;
    await writeLine(out, `${first ? '' : ','}    ${line}`);
    first = false;
  }
  await writeLine(out, '  ]\n}');
  await closeStream(out);
  await rename(tmp, path);
}
