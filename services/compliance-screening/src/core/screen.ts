/**
 * screen(event, context) → ScreeningDecision. Pure: no I/O, no clock (the caller
 * passes screened_at_ms), no randomness. Everything it needs from the outside
 * world — the wallet's recent history and the external risk scores — is fetched
 * by adapters first and handed in through the context.
 *
 * The decision is the most severe outcome among the reasons; reasons are listed
 * in a fixed order (sanctions, names, risk, jurisdiction, travel rule, amount,
 * velocity, structuring) so the same inputs always give the same decision.
 */
import { TRANSACTION_EVENT_TYPES as COMMON_TRANSACTION_EVENT_TYPES } from '@tidemark/common/events';
import type { CanonicalEvent, ScreeningDecision, ScreeningReason } from '@tidemark/common/records';
import { Decimal, amountProblem, formatAmount } from '@tidemark/common/money';
import { lookupSanctionedAddress, type SanctionsList } from './addresses.js';
import { formatScore, matchName, type NamesList } from './names.js';
import type { Outcome, Rules } from './rules.js';

/** Event types that move money and get the full screening. Others pass trivially. */
export const TRANSACTION_EVENT_TYPES: ReadonlySet<string> = new Set(COMMON_TRANSACTION_EVENT_TYPES);

/** One earlier screened transaction event of the same wallet (from the window store). */
export interface HistoryEntry {
  provider: string;
  event_id: string;
  transaction_id: string;
  occurred_at_ms: number;
  /** Value in the reference currency (decimal string); null when the asset had no price. */
  amount_ref: string | null;
}

export type RiskAssessment =
  | { address: string; status: 'scored'; risk_score: string; category: string | null }
  | { address: string; status: 'unscoreable'; detail: string };

export interface ScreeningContext {
  rules: Rules;
  sanctions: SanctionsList;
  names: NamesList;
  /** The wallet's transaction events with occurred_at in (t - rules.history_window_ms, t]. */
  history: readonly HistoryEntry[];
  /** True when the store hit rules.history_rows_max: velocity counts are then at least that high. */
  history_truncated: boolean;
  /** External risk assessments, one per address from riskAddresses(event). */
  risk: readonly RiskAssessment[];
  screened_at_ms: number;
}

const SEVERITY: Record<Outcome, number> = { ALLOW: 0, REVIEW: 1, BLOCK: 2 };

export function mostSevere(outcomes: Iterable<Outcome>): Outcome {
  let worst: Outcome = 'ALLOW';
  for (const o of outcomes) if (SEVERITY[o] > SEVERITY[worst]) worst = o;
  return worst;
}

export function isTransactionEvent(event: CanonicalEvent): boolean {
  return TRANSACTION_EVENT_TYPES.has(event.event_type) && event.transaction_id !== null;
}

/** Wallet whose window the event counts in: the wallet, else the partition key. */
export function windowKey(event: CanonicalEvent): string {
  return event.wallet_id ?? event.partition_key;
}

/** Why the event cannot be screened at all (content that will never become valid), or null. */
export function eventProblem(event: CanonicalEvent): string | null {
  if (!event.provider || !event.event_id) return 'event has no provider or event_id';
  if (!Number.isSafeInteger(event.occurred_at_ms) || event.occurred_at_ms < 0)
    return `occurred_at_ms ${event.occurred_at_ms} is not a valid timestamp`;
  if (event.amount !== null) {
    const problem = amountProblem(event.amount);
    if (problem) return `amount: ${problem}`;
  }
  return null;
}

/**
 * The counterparty's ISO 3166-1 alpha-2 country in upper case, or null when absent
 * or not a two-letter code ("Germany" is treated as missing travel-rule data rather
 * than failing the event).
 */
export function counterpartyCountry(event: CanonicalEvent): string | null {
  const raw = event.counterparty_country?.trim() ?? '';
  return /^[A-Za-z]{2}$/.test(raw) ? raw.toUpperCase() : null;
}

/**
 * Addresses the external risk API is asked about: the counterparty side — where
 * deposits come from and where withdrawals go. Our own custody addresses are not scored.
 */
export function riskAddresses(event: CanonicalEvent): string[] {
  if (!isTransactionEvent(event)) return [];
  const candidates = event.event_type.startsWith('deposit.') ? [event.from_address] : [event.to_address];
  return [...new Set(candidates.filter((a): a is string => a !== null && a.trim() !== ''))];
}

/** The event's value in the reference currency, or null when the asset has no price or the event no amount. */
export function amountInReference(event: CanonicalEvent, rules: Rules): string | null {
  if (event.amount === null || event.asset === null) return null;
  const price = rules.prices.per_asset[event.asset.toUpperCase()];
  if (price === undefined) return null;
  return formatAmount(new Decimal(event.amount).times(price));
}

function reason(r: Omit<ScreeningReason, 'matched_value' | 'score' | 'list_version'> & Partial<ScreeningReason>): ScreeningReason {
  return { matched_value: null, score: null, list_version: null, ...r };
}

export function trivialDecision(ctx: Pick<ScreeningContext, 'rules' | 'sanctions' | 'screened_at_ms'>): ScreeningDecision {
  return {
    decision: 'ALLOW',
    reasons: [],
    sanctions_list_version: ctx.sanctions.version,
    rules_version: ctx.rules.rules_version,
    screened_at_ms: ctx.screened_at_ms,
  };
}

export function screen(event: CanonicalEvent, ctx: ScreeningContext): ScreeningDecision {
  if (!isTransactionEvent(event)) return trivialDecision(ctx);
  const problem = eventProblem(event);
  if (problem) throw new Error(`cannot screen ${event.provider}:${event.event_id}: ${problem}`);
  const { rules } = ctx;
  const reasons: ScreeningReason[] = [
    ...sanctionedAddressReasons(event, ctx),
    ...sanctionedNameReasons(event, ctx),
    ...riskReasons(event, ctx),
    ...jurisdictionReasons(event, rules),
  ];
  const amount_ref = amountInReference(event, rules);
  if (event.amount !== null && amount_ref === null) {
    reasons.push(
      reason({
        code: 'UNPRICED_ASSET',
        rule_id: rules.unpriced_asset.rule_id,
        outcome: rules.unpriced_asset.outcome,
        message: `no ${rules.reference_currency} price for asset ${event.asset ?? '(none)'} in price table ${rules.prices.as_of}; value-based rules cannot be assessed`,
        matched_value: event.asset,
      }),
    );
  }
  if (amount_ref !== null) {
    const value = new Decimal(amount_ref);
    reasons.push(...travelRuleReasons(event, rules, value));
    reasons.push(...amountThresholdReasons(event, rules, value));
  }
  if (event.amount !== null) {
    const window = transactionsInWindow(event, amount_ref, ctx.history);
    reasons.push(...velocityReasons(window, ctx, event));
    if (amount_ref !== null) reasons.push(...structuringReasons(window, rules, event, new Decimal(amount_ref)));
  }
  const decision: ScreeningDecision = {
    decision: mostSevere(reasons.map((r) => r.outcome)),
    reasons,
    sanctions_list_version: ctx.sanctions.version,
    rules_version: rules.rules_version,
    screened_at_ms: ctx.screened_at_ms,
  };
  // Invariant: every reason asks for REVIEW or BLOCK, and the decision is the most severe of them.
  for (const r of reasons) {
    if (r.outcome === 'ALLOW' || SEVERITY[r.outcome] > SEVERITY[decision.decision])
      throw new Error(`invariant violated: reason ${r.rule_id} (${r.outcome}) vs decision ${decision.decision}`);
  }
  return decision;
}

function sanctionedAddressReasons(event: CanonicalEvent, ctx: ScreeningContext): ScreeningReason[] {
  const out: ScreeningReason[] = [];
  const rule = ctx.rules.sanctioned_addresses;
  for (const [side, address] of [
    ['from', event.from_address],
    ['to', event.to_address],
  ] as const) {
    const match = lookupSanctionedAddress(ctx.sanctions, address);
    if (!match) continue;
    out.push(
      reason({
        code: 'SANCTIONED_ADDRESS',
        rule_id: rule.rule_id,
        outcome: rule.outcome,
        message: `${side}_address is on the OFAC SDN digital currency address list (${match.entry.tickers.join(', ')}) as ${match.entry.listed}`,
        matched_value: match.address,
        list_version: ctx.sanctions.version,
      }),
    );
  }
  return out;
}

function sanctionedNameReasons(event: CanonicalEvent, ctx: ScreeningContext): ScreeningReason[] {
  const rule = ctx.rules.sanctioned_names;
  const match = matchName(ctx.names, event.counterparty_name, {
    score_min: rule.review_score_min,
    token_score_min: rule.token_score_min,
    containment_token_score_min: rule.containment_token_score_min,
  });
  if (!match) return [];
  // Only a whole-name match can BLOCK; a name found inside a longer one asks for a human.
  const outcome: Outcome = match.method === 'whole' && match.score >= rule.block_score_min ? 'BLOCK' : 'REVIEW';
  return [
    reason({
      code: 'SANCTIONED_NAME',
      rule_id: rule.rule_id,
      outcome,
      message: `counterparty name matches sanctioned ${match.entry_id} (${match.listed}) by ${match.method} match`,
      matched_value: match.listed,
      score: formatScore(match.score),
      list_version: `${ctx.names.list_id}@${ctx.names.version}`,
    }),
  ];
}

function riskReasons(event: CanonicalEvent, ctx: ScreeningContext): ScreeningReason[] {
  const rule = ctx.rules.risk_score;
  const expected = riskAddresses(event);
  const out: ScreeningReason[] = [];
  for (const address of expected) {
    const assessment = ctx.risk.find((r) => r.address === address);
    // A screening that could not complete must never ALLOW: a missing assessment is a caller bug.
    if (!assessment) throw new Error(`no risk assessment for ${address}; the adapter must fetch one per riskAddresses(event)`);
    if (assessment.status === 'unscoreable') {
      out.push(
        reason({
          code: 'RISK_SCORE_UNAVAILABLE',
          rule_id: rule.rule_id,
          outcome: rule.unscoreable_outcome,
          message: `risk API could not score the address: ${assessment.detail}`,
          matched_value: address,
        }),
      );
      continue;
    }
    const score = new Decimal(assessment.risk_score);
    const outcome: Outcome | null = score.gte(rule.block_at_or_above) ? 'BLOCK' : score.gte(rule.review_at_or_above) ? 'REVIEW' : null;
    if (outcome === null) continue;
    out.push(
      reason({
        code: 'RISK_SCORE',
        rule_id: rule.rule_id,
        outcome,
        message: `external risk score ${assessment.risk_score} (${assessment.category ?? 'uncategorized'}) is at or above ${outcome === 'BLOCK' ? rule.block_at_or_above : rule.review_at_or_above}`,
        matched_value: address,
        score: assessment.risk_score,
      }),
    );
  }
  return out;
}

function jurisdictionReasons(event: CanonicalEvent, rules: Rules): ScreeningReason[] {
  const country = counterpartyCountry(event);
  if (country === null || !rules.high_risk_country_set.has(country)) return [];
  const rule = rules.high_risk_jurisdictions;
  return [
    reason({
      code: 'HIGH_RISK_JURISDICTION',
      rule_id: rule.rule_id,
      outcome: rule.outcome,
      message: `counterparty country ${country} is on the high-risk jurisdictions list`,
      matched_value: country,
      list_version: rule.list_version,
    }),
  ];
}

function travelRuleReasons(event: CanonicalEvent, rules: Rules, value: Decimal): ScreeningReason[] {
  const rule = rules.travel_rule;
  if (value.lt(rule.at_or_above)) return [];
  const missing = rule.required_fields.filter((field) =>
    field === 'counterparty_country' ? counterpartyCountry(event) === null : (event.counterparty_name ?? '').trim() === '',
  );
  if (missing.length === 0) return [];
  return [
    reason({
      code: 'TRAVEL_RULE_INCOMPLETE',
      rule_id: rule.rule_id,
      outcome: rule.outcome,
      message: `value ${formatAmount(value)} ${rules.reference_currency} is at or above ${rule.at_or_above}; missing ${missing.join(', ')}`,
      matched_value: formatAmount(value),
    }),
  ];
}

function amountThresholdReasons(event: CanonicalEvent, rules: Rules, value: Decimal): ScreeningReason[] {
  const asset = event.asset?.toUpperCase() ?? '';
  const specific = rules.amount_thresholds.filter((r) => r.asset === asset);
  const applicable = specific.length > 0 ? specific : rules.amount_thresholds.filter((r) => r.asset === '*');
  return applicable
    .filter((r) => value.gte(r.at_or_above))
    .map((r) =>
      reason({
        code: 'AMOUNT_THRESHOLD',
        rule_id: r.rule_id,
        outcome: r.outcome,
        message: `value ${formatAmount(value)} ${rules.reference_currency} is at or above ${r.at_or_above} (${r.asset})`,
        matched_value: formatAmount(value),
      }),
    );
}

interface WindowTransaction {
  key: string;
  occurred_at_ms: number;
  amount_ref: Decimal | null;
}

/**
 * The wallet's distinct transactions (one per provider transaction, so a deposit's
 * detected + confirmed events count once), including the one being screened.
 * History rows of the same event (a replay) or the same transaction are folded in.
 */
function transactionsInWindow(event: CanonicalEvent, amount_ref: string | null, history: readonly HistoryEntry[]): WindowTransaction[] {
  const current_key = `${event.provider}\u0000${event.transaction_id}`;
  const by_key = new Map<string, WindowTransaction>();
  for (const h of history) {
    if (h.occurred_at_ms > event.occurred_at_ms) continue;
    const key = `${h.provider}\u0000${h.transaction_id}`;
    if (key === current_key) continue;
    const existing = by_key.get(key);
    // The transaction's earliest event in the window stands for it.
    if (!existing || h.occurred_at_ms < existing.occurred_at_ms) {
      by_key.set(key, { key, occurred_at_ms: h.occurred_at_ms, amount_ref: h.amount_ref === null ? null : new Decimal(h.amount_ref) });
    }
  }
  const current: WindowTransaction = {
    key: current_key,
    occurred_at_ms: event.occurred_at_ms,
    amount_ref: amount_ref === null ? null : new Decimal(amount_ref),
  };
  return [...by_key.values(), current];
}

function inWindow(tx: WindowTransaction, t_ms: number, window_ms: number): boolean {
  return tx.occurred_at_ms > t_ms - window_ms && tx.occurred_at_ms <= t_ms;
}

function velocityReasons(window: WindowTransaction[], ctx: ScreeningContext, event: CanonicalEvent): ScreeningReason[] {
  const { rules } = ctx;
  const out: ScreeningReason[] = [];
  for (const rule of rules.velocity) {
    const txs = window.filter((tx) => inWindow(tx, event.occurred_at_ms, rule.window_ms));
    const count = txs.length;
    const sum = txs.reduce((acc, tx) => (tx.amount_ref === null ? acc : acc.plus(tx.amount_ref)), new Decimal(0));
    const count_exceeded = rule.count_max !== undefined && (count > rule.count_max || ctx.history_truncated);
    const sum_exceeded = rule.sum_max !== undefined && sum.gt(rule.sum_max);
    if (!count_exceeded && !sum_exceeded) continue;
    const parts: string[] = [];
    if (count_exceeded) parts.push(`${count}${ctx.history_truncated ? '+' : ''} transactions > ${rule.count_max}`);
    if (sum_exceeded) parts.push(`sum ${formatAmount(sum)} ${rules.reference_currency} > ${rule.sum_max}`);
    out.push(
      reason({
        code: 'VELOCITY',
        rule_id: rule.rule_id,
        outcome: rule.outcome,
        message: `wallet ${windowKey(event)} in ${rule.window_ms} ms: ${parts.join('; ')}`,
        matched_value: `count=${count};sum=${formatAmount(sum)}`,
      }),
    );
  }
  return out;
}

function structuringReasons(window: WindowTransaction[], rules: Rules, event: CanonicalEvent, value: Decimal): ScreeningReason[] {
  const out: ScreeningReason[] = [];
  for (const rule of rules.structuring) {
    const low = new Decimal(rule.threshold).times(rule.band_min_ratio);
    const high = new Decimal(rule.threshold).times(rule.band_max_ratio);
    const inBand = (v: Decimal) => v.gte(low) && v.lt(high);
    // Only the transaction that completes a pattern is flagged, and only if it is part of it.
    if (!inBand(value)) continue;
    const txs = window.filter(
      (tx) => tx.amount_ref !== null && inWindow(tx, event.occurred_at_ms, rule.window_ms) && inBand(tx.amount_ref),
    );
    const sum = txs.reduce((acc, tx) => acc.plus(tx.amount_ref as Decimal), new Decimal(0));
    if (txs.length < rule.count_min || !sum.gt(rule.threshold)) continue;
    out.push(
      reason({
        code: 'STRUCTURING',
        rule_id: rule.rule_id,
        outcome: rule.outcome,
        message: `${txs.length} transactions at ${rule.band_min_ratio}–${rule.band_max_ratio} of ${rule.threshold} ${rules.reference_currency} within ${rule.window_ms} ms sum to ${formatAmount(sum)}`,
        matched_value: `count=${txs.length};sum=${formatAmount(sum)}`,
      }),
    );
  }
  return out;
}
