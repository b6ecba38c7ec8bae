/**
 * Screening rules as data: a versioned JSON file validated with zod.
 *
 * Conventions, kept the same in every rule so edges are predictable:
 *  - `*_at_or_above` thresholds fire when the value is >= the threshold;
 *  - `*_max` limits fire when the value is > the limit;
 *  - windows are half-open (t - window_ms, t]: a transaction exactly window_ms
 *    older than the one being screened is outside.
 * Money values are decimal strings (never numbers) in the reference currency.
 */
import { z } from 'zod';
import { Decimal, amountProblem } from '@tidemark/common/money';

const flagSchema = z.enum(['REVIEW', 'BLOCK']);

const decimalString = z
  .string()
  .refine((v) => amountProblem(v) === null, { message: 'must be a non-negative decimal string like "1000" or "0.8"' });
const positiveDecimal = decimalString.refine((v) => new Decimal(v).gt(0), { message: 'must be greater than zero' });
const ruleId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case id of letters, digits, ".", "_" or "-"');
const assetSymbol = z.string().regex(/^(\*|[A-Z0-9]{1,16})$/, 'asset symbol in upper case, or "*" for every asset');
const WINDOW_MS_MAX = 31 * 24 * 3_600_000;
const windowMs = z.number().int().min(1_000).max(WINDOW_MS_MAX);

export const HISTORY_ROWS_MAX_LIMIT = 100_000;

export const rulesFileSchema = z
  .object({
    rules_id: z.string().min(1),
    version: z.string().min(1),
    description: z.string().optional(),
    reference_currency: z.string().regex(/^[A-Z]{3}$/),
    prices: z.object({
      as_of: z.string().min(1),
      source: z.string().min(1),
      /** Price of one unit of the asset in the reference currency. */
      per_asset: z.record(z.string().regex(/^[A-Z0-9]{1,16}$/), positiveDecimal),
    }),
    /** What an event in an asset without a price gets (its value cannot be assessed). */
    unpriced_asset: z.object({ rule_id: ruleId, outcome: flagSchema }),
    amount_thresholds: z
      .array(z.object({ rule_id: ruleId, asset: assetSymbol, at_or_above: positiveDecimal, outcome: flagSchema }))
      .max(1_000),
    travel_rule: z.object({
      rule_id: ruleId,
      at_or_above: positiveDecimal,
      outcome: flagSchema,
      required_fields: z.array(z.enum(['counterparty_name', 'counterparty_country'])).min(1),
    }),
    high_risk_jurisdictions: z.object({
      rule_id: ruleId,
      list_version: z.string().min(1),
      outcome: flagSchema,
      countries: z.array(z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2, upper case')).max(300),
    }),
    velocity: z
      .array(
        z
          .object({
            rule_id: ruleId,
            window_ms: windowMs,
            count_max: z.number().int().min(1).optional(),
            sum_max: positiveDecimal.optional(),
            outcome: flagSchema,
          })
          .refine((r) => r.count_max !== undefined || r.sum_max !== undefined, { message: 'needs count_max or sum_max' }),
      )
      .max(100),
    structuring: z
      .array(
        z
          .object({
            rule_id: ruleId,
            window_ms: windowMs,
            threshold: positiveDecimal,
            /** Band of "just below the threshold": band_min_ratio <= amount/threshold < band_max_ratio. */
            band_min_ratio: decimalString,
            band_max_ratio: decimalString,
            count_min: z.number().int().min(2).max(1_000),
            outcome: flagSchema,
          })
          .refine((r) => new Decimal(r.band_min_ratio).lt(r.band_max_ratio) && new Decimal(r.band_max_ratio).lte(1), {
            message: 'band_min_ratio < band_max_ratio <= 1',
          }),
      )
      .max(100),
    sanctioned_addresses: z.object({ rule_id: ruleId, outcome: flagSchema }),
    sanctioned_names: z
      .object({
        rule_id: ruleId,
        review_score_min: z.number().min(0.5).max(1),
        block_score_min: z.number().min(0.5).max(1),
        token_score_min: z.number().min(0.5).max(1),
        containment_token_score_min: z.number().min(0.5).max(1),
      })
      .refine((r) => r.review_score_min <= r.block_score_min, { message: 'review_score_min <= block_score_min' }),
    risk_score: z
      .object({
        rule_id: ruleId,
        review_at_or_above: decimalString,
        block_at_or_above: decimalString,
        /** What an address the risk API cannot score (it answered 4xx) gets. */
        unscoreable_outcome: flagSchema,
      })
      .refine((r) => new Decimal(r.review_at_or_above).lte(r.block_at_or_above) && new Decimal(r.block_at_or_above).lte(100), {
        message: 'review_at_or_above <= block_at_or_above <= 100',
      }),
    /** Most wallet history rows one screening loads; more means the velocity limits are blown anyway. */
    history_rows_max: z.number().int().min(10).max(HISTORY_ROWS_MAX_LIMIT),
  })
  .superRefine((rules, ctx) => {
    const ids = [
      rules.unpriced_asset.rule_id,
      ...rules.amount_thresholds.map((r) => r.rule_id),
      rules.travel_rule.rule_id,
      rules.high_risk_jurisdictions.rule_id,
      ...rules.velocity.map((r) => r.rule_id),
      ...rules.structuring.map((r) => r.rule_id),
      rules.sanctioned_addresses.rule_id,
      rules.sanctioned_names.rule_id,
      rules.risk_score.rule_id,
    ];
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', message: `rule_id ${id} is used twice` });
      seen.add(id);
    }
    for (const v of rules.velocity) {
      if (v.count_max !== undefined && v.count_max >= rules.history_rows_max) {
        ctx.addIssue({
          code: 'custom',
          message: `velocity ${v.rule_id}: count_max must be below history_rows_max (${rules.history_rows_max})`,
        });
      }
    }
  });

export type RulesFile = z.infer<typeof rulesFileSchema>;
export type Outcome = 'ALLOW' | 'REVIEW' | 'BLOCK';

export interface Rules extends RulesFile {
  /** '<rules_id>@<version>' — recorded in every decision. */
  rules_version: string;
  /** Longest velocity/structuring window: how much history one screening needs. */
  history_window_ms: number;
  high_risk_country_set: ReadonlySet<string>;
}

export class RulesError extends Error {
  override readonly name = 'RulesError';
}

/** Validates parsed JSON; throws RulesError naming every problem. */
export function parseRules(json: unknown, source = 'rules'): Rules {
  const result = rulesFileSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new RulesError(`invalid screening rules in ${source}:\n${problems}\nfix the file and reload`);
  }
  const file = result.data;
  const windows = [...file.velocity.map((r) => r.window_ms), ...file.structuring.map((r) => r.window_ms)];
  return {
    ...file,
    rules_version: `${file.rules_id}@${file.version}`,
    history_window_ms: windows.length > 0 ? Math.max(...windows) : 0,
    high_risk_country_set: new Set(file.high_risk_jurisdictions.countries),
  };
}
