/**
 * The run report, in the shape reconciliation reports usually take: run id, as-of time
 * of each side, what matched and by which rule, unmatched items on each side, amount
 * drift per asset, status divergences, and an overall OK / NOT OK. Built incrementally
 * with bounded memory: counts are exact, listed examples are capped (every discrepancy
 * is streamed to the JSON file and to Kafka by the adapters).
 */
import { DiscrepancyKindValues, type DiscrepancyKind } from '@tidemark/common/records';
import type { Comparison } from './compare.js';
import type { ConservationSummary } from './conservation.js';
import { BALANCE_RULE } from './balance.js';
import { LIMITS, type Finding } from './model.js';
import { formatUnits } from './units.js';
import { MATCH_RULE } from './compare.js';

export interface ProviderSideStats {
  statements_url: string;
  pages: number;
  empty_pages: number;
  retries: number;
  items_received: number;
  duplicates_dropped: number;
  in_window: number;
  before_window: number;
  after_window: number;
  /** Latest updated_at among the records read (the provider's books as of then), ISO or null. */
  as_of: string | null;
  fetched_at: string | null;
}

export interface LedgerSideStats {
  transactions_in_window: number;
  transactions_looked_up: number;
  /** Latest projection time in the ledger (its as-of), ISO or null. */
  as_of: string | null;
}

export interface HealStats {
  requested: boolean;
  injected: number;
  not_healable: number;
  events: Array<{ event_id: string; event_type: string; transaction_id: string; wallet_id: string; amount: string }>;
  refused: Array<{ transaction_id: string; reason: string }>;
}

export interface ReportSummary {
  run_id: string;
  provider: string;
  window: { since: string; until: string };
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  as_of: { provider: string | null; ledger: string | null; audit: string | null };
  matching: { rule: string; compared: number; matched: number; mismatched: number };
  provider_side: ProviderSideStats;
  ledger_side: LedgerSideStats;
  unmatched: { missing_in_ledger: number; missing_at_provider: number; skipped_outside_window: number };
  amount_drift: Record<string, { ledger_minus_provider: string; transactions: number }>;
  status_divergences: Record<string, number>;
  balances: { rule: string; pairs_checked: number; pairs_drift_checked: number; mismatched: number };
  conservation: (ConservationSummary & { checked: true; settle_ms: number; stuck_after_ms: number }) | { checked: false; reason: string };
  heal: HealStats;
  /** Peak memory of the process during the run (sampled). */
  resources: { peak_rss_mb: number; peak_heap_used_mb: number; sample_interval_ms: number } | null;
  discrepancy_counts: Record<DiscrepancyKind, number>;
  discrepancies_total: number;
  ok: boolean;
  verdict: 'OK' | 'NOT OK';
}

export class ReportBuilder {
  private readonly counts = Object.fromEntries(DiscrepancyKindValues.map((k) => [k, 0])) as Record<DiscrepancyKind, number>;
  private readonly drift = new Map<string, { units: bigint; transactions: number }>();
  private readonly divergences = new Map<string, number>();
  readonly kept: Finding[] = [];
  private compared = 0;
  private matched = 0;
  private mismatched = 0;
  private missing_in_ledger = 0;
  private missing_at_provider = 0;
  skipped_outside_window = 0;
  pairs_checked = 0;
  pairs_drift_checked = 0;
  provider_side: ProviderSideStats;
  ledger_side: LedgerSideStats = { transactions_in_window: 0, transactions_looked_up: 0, as_of: null };
  audit_as_of: string | null = null;
  conservation: ReportSummary['conservation'] = { checked: false, reason: 'not run' };
  heal: HealStats;
  resources: ReportSummary['resources'] = null;

  constructor(
    readonly run_id: string,
    readonly provider: string,
    readonly window: { since_ms: number; until_ms: number },
    readonly started_at_ms: number,
    statements_url: string,
    heal_requested: boolean,
  ) {
    this.provider_side = {
      statements_url,
      pages: 0,
      empty_pages: 0,
      retries: 0,
      items_received: 0,
      duplicates_dropped: 0,
      in_window: 0,
      before_window: 0,
      after_window: 0,
      as_of: null,
      fetched_at: null,
    };
    this.heal = { requested: heal_requested, injected: 0, not_healable: 0, events: [], refused: [] };
  }

  addComparison(c: Comparison): void {
    if (c.outcome === 'missing_in_ledger') this.missing_in_ledger += 1;
    else if (c.outcome === 'missing_at_provider') this.missing_at_provider += 1;
    else {
      this.compared += 1;
      if (c.outcome === 'matched') this.matched += 1;
      else this.mismatched += 1;
    }
    if (c.amount_drift) {
      const d = this.drift.get(c.amount_drift.asset) ?? { units: 0n, transactions: 0 };
      d.units += c.amount_drift.units;
      d.transactions += 1;
      this.drift.set(c.amount_drift.asset, d);
    }
    if (c.status_divergence) this.divergences.set(c.status_divergence, (this.divergences.get(c.status_divergence) ?? 0) + 1);
  }

  addFinding(f: Finding): void {
    this.counts[f.kind] += 1;
    if (this.kept.length < LIMITS.findings_kept_max) this.kept.push(f);
  }

  noteHeal(event: HealStats['events'][number]): void {
    this.heal.injected += 1;
    if (this.heal.events.length < LIMITS.findings_kept_max) this.heal.events.push(event);
  }

  noteNotHealable(transaction_id: string, reason: string): void {
    this.heal.not_healable += 1;
    if (this.heal.refused.length < LIMITS.findings_kept_max) this.heal.refused.push({ transaction_id, reason });
  }

  get discrepancies_total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  summary(finished_at_ms: number | null): ReportSummary {
    const total = this.discrepancies_total;
    const ok = total === 0;
    return {
      run_id: this.run_id,
      provider: this.provider,
      window: { since: iso(this.window.since_ms), until: iso(this.window.until_ms) },
      started_at: iso(this.started_at_ms),
      finished_at: finished_at_ms === null ? null : iso(finished_at_ms),
      duration_ms: finished_at_ms === null ? null : finished_at_ms - this.started_at_ms,
      as_of: { provider: this.provider_side.as_of, ledger: this.ledger_side.as_of, audit: this.audit_as_of },
      matching: { rule: MATCH_RULE, compared: this.compared, matched: this.matched, mismatched: this.mismatched },
      provider_side: { ...this.provider_side },
      ledger_side: { ...this.ledger_side },
      unmatched: {
        missing_in_ledger: this.missing_in_ledger,
        missing_at_provider: this.missing_at_provider,
        skipped_outside_window: this.skipped_outside_window,
      },
      amount_drift: Object.fromEntries(
        [...this.drift.entries()]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([asset, d]) => [asset, { ledger_minus_provider: formatUnits(d.units), transactions: d.transactions }]),
      ),
      status_divergences: Object.fromEntries([...this.divergences.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      balances: {
        rule: BALANCE_RULE,
        pairs_checked: this.pairs_checked,
        pairs_drift_checked: this.pairs_drift_checked,
        mismatched: this.counts.balance_mismatch,
      },
      conservation: this.conservation,
      heal: this.heal,
      resources: this.resources,
      discrepancy_counts: { ...this.counts },
      discrepancies_total: total,
      ok,
      verdict: ok ? 'OK' : 'NOT OK',
    };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The terminal rendering of a report (what an operator reads first). */
export function renderText(s: ReportSummary, findings: readonly Finding[], findings_shown_max = 50): string {
  const lines: string[] = [];
  const p = s.provider_side;
  lines.push(`Reconciliation ${s.run_id}  provider ${s.provider}  window [${s.window.since}, ${s.window.until})`);
  lines.push(`  verdict            ${s.verdict}  (${s.discrepancies_total} discrepancies)`);
  lines.push(`  as of              provider ${s.as_of.provider ?? '-'}   ledger ${s.as_of.ledger ?? '-'}   audit ${s.as_of.audit ?? '-'}`);
  lines.push(
    `  provider records   ${p.in_window} in window (${p.items_received} received over ${p.pages} pages, ${p.duplicates_dropped} duplicates dropped, ${p.empty_pages} empty pages, ${p.retries} retries; ${p.before_window + p.after_window} outside the window)`,
  );
  lines.push(
    `  ledger records     ${s.ledger_side.transactions_in_window} in window, ${s.ledger_side.transactions_looked_up} looked up by id`,
  );
  lines.push(`  matched            ${s.matching.matched} of ${s.matching.compared} compared (rule: ${s.matching.rule})`);
  lines.push(
    `  unmatched          ${s.unmatched.missing_in_ledger} missing in ledger, ${s.unmatched.missing_at_provider} missing at provider`,
  );
  const drift = Object.entries(s.amount_drift);
  lines.push(
    `  amount drift       ${drift.length === 0 ? 'none' : drift.map(([a, d]) => `${a} ${d.ledger_minus_provider} over ${d.transactions} tx (ledger - provider)`).join('; ')}`,
  );
  const div = Object.entries(s.status_divergences);
  lines.push(`  status divergence  ${div.length === 0 ? 'none' : div.map(([k, n]) => `${k} x${n}`).join('; ')}`);
  lines.push(`  balances           ${s.balances.pairs_checked} (wallet, asset) pairs checked, ${s.balances.mismatched} mismatched`);
  if (s.conservation.checked) {
    const c = s.conservation;
    lines.push(
      `  conservation       ${c.ok ? 'holds' : 'VIOLATED'}: ${c.events_entered} events entered (${c.deliveries} deliveries, ${c.duplicates} duplicates), ${c.projected} projected, ${c.rejected} rejected, ${c.dead_lettered} dead-lettered, ${c.in_flight} in flight, ${c.not_conserved} unaccounted, ${c.stuck_in_retry} stuck in retry`,
    );
  } else {
    lines.push(`  conservation       not checked (${s.conservation.reason})`);
  }
  if (s.resources)
    lines.push(
      `  resources          ${s.duration_ms ?? '-'} ms, peak RSS ${s.resources.peak_rss_mb} MB, peak heap ${s.resources.peak_heap_used_mb} MB`,
    );
  if (s.heal.requested) lines.push(`  heal               ${s.heal.injected} events injected, ${s.heal.not_healable} need an operator`);
  const counts = Object.entries(s.discrepancy_counts).filter(([, n]) => n > 0);
  if (counts.length > 0) lines.push(`  by kind            ${counts.map(([k, n]) => `${k}=${n}`).join(' ')}`);
  for (const f of findings.slice(0, findings_shown_max)) {
    const sides =
      f.ledger_value !== null || f.provider_value !== null
        ? ` [ledger: ${f.ledger_value ?? '-'} | provider: ${f.provider_value ?? '-'}]`
        : '';
    lines.push(`  - ${f.kind}: ${f.detail}${sides}`);
  }
  if (s.discrepancies_total > Math.min(findings.length, findings_shown_max)) {
    lines.push(`  ... ${s.discrepancies_total - Math.min(findings.length, findings_shown_max)} more in the JSON report`);
  }
  return lines.join('\n');
}
