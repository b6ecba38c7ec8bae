/**
 * A scenario file describes one simulator run: the world (customers, wallets, networks),
 * the traffic (how many transactions, how fast), lifecycle odds, compliance-relevant
 * shares, provider-like delivery behaviour, injected discrepancies and statements-API
 * knobs. Validated once with zod; unknown keys are errors so a typo never goes unnoticed.
 */
import { z } from 'zod';
import { NETWORK_IDS, type NetworkId } from './assets.js';

export const PROVIDER_IDS = ['generic', 'ledgerpay', 'custodian-x'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

const rate = z.number().min(0).max(1);
const msRange = z
  .tuple([z.number().int().min(0).max(86_400_000), z.number().int().min(0).max(86_400_000)])
  .refine(([a, b]) => a <= b, 'range must be [min, max] with min <= max');

/** Hard limits: a scenario can never ask for an unbounded run. */
export const TRANSACTIONS_MAX = 10_000_000;
export const CUSTOMERS_MAX = 1_000_000;

const worldSchema = z.strictObject({
  customers: z.number().int().min(1).max(CUSTOMERS_MAX).default(20),
  wallets_per_customer: z.tuple([z.number().int().min(1).max(20), z.number().int().min(1).max(20)]).default([1, 3]),
  networks: z
    .array(z.enum(NETWORK_IDS as [NetworkId, ...NetworkId[]]))
    .min(1)
    .default([...NETWORK_IDS]),
  /** Share of customers per provider profile (each customer's wallets live at one provider). */
  providers: z.partialRecord(z.enum(PROVIDER_IDS), z.number().min(0)).default({ generic: 1 }),
  high_risk_countries: z.array(z.string().regex(/^[A-Z]{2}$/)).default(['KP', 'IR', 'MM']),
});

const trafficSchema = z.strictObject({
  /** Transactions (and KYC changes) to start; the run ends when all their lifecycles have been emitted. */
  transactions: z.number().int().min(0).max(TRANSACTIONS_MAX).default(200),
  /** Mean rate at which new transactions start, in simulated time. */
  transactions_per_s: z.number().positive().max(1_000_000).default(10),
  kind_weights: z
    .strictObject({ deposit: z.number().min(0), withdrawal: z.number().min(0), kyc: z.number().min(0) })
    .default({ deposit: 6, withdrawal: 3, kyc: 1 }),
  /**
   * Fault scenario: share of institution-initiated withdrawals that spend more than the
   * wallet's available funds (an overdraft; `tidemark ledger check` reports negative_available).
   * 0 in every normal scenario.
   */
  overdraft_rate: rate.default(0),
});

const lifecycleSchema = z.strictObject({
  deposit_fail_rate: rate.default(0.05),
  deposit_reversal_rate: rate.default(0.03),
  withdrawal_fail_rate: rate.default(0.08),
  /** Of failed withdrawals, the share that fail before being broadcast. */
  withdrawal_fail_before_broadcast_rate: rate.default(0.4),
  /** Extra `deposit.detected` events (distinct ids, growing confirmations) per deposit, at most. */
  detected_updates_max: z.number().int().min(0).max(10).default(0),
  /** Multiplies real block times; 0.001 makes a 3-block BTC confirmation take ~1.8 s. */
  block_time_scale: z.number().min(0).max(10).default(0.001),
  /** Delay between a confirmation and a later reversal, simulated ms. */
  reversal_delay_ms: msRange.default([500, 5_000]),
});

const amountsSchema = z.strictObject({
  /** Share of transfers above the 1000 USD travel-rule line (the rest are 1–999 USD). */
  large_rate: rate.default(0.15),
  /** Share of very large transfers (1M–100M USD). */
  whale_rate: rate.default(0.01),
  /** Share of absurdly large 18-decimal amounts (30–40 digit base units) to exercise big-number paths. */
  huge_rate: rate.default(0.002),
});

/**
 * The simulator's conservative model of screening rules it cannot see (DESIGN 3.4), used
 * only to decide which confirmed deposits later withdrawals may spend: a deposit is
 * spendable when the simulator expects ALLOW *and* none of these could flag it. A
 * flagged deposit sits in `held`, so spending it would drive `available` negative.
 */
const spendGuardSchema = z.strictObject({
  /**
   * Wallet velocity windows: a deposit is not spent when its wallet had more than
   * `count_max` transactions or more than `usd_max` USD around it (transactions whose
   * lifetime overlaps the window). Empty: not modelled (and no per-wallet history kept).
   */
  velocity: z
    .array(
      z.strictObject({
        window_ms: z
          .number()
          .int()
          .min(1)
          .max(30 * 86_400_000),
        count_max: z.number().int().min(0).max(1_000_000),
        usd_max: z.number().int().min(0).max(1_000_000_000_000),
      }),
    )
    .max(8)
    .default([]),
  /** Counterparty risk score (0-100) at or above which screening may REVIEW; used when a risk scorer is given. */
  risk_review_at_or_above: z.number().min(0).max(100).default(50),
  /** Funds become spendable this long after the event that makes them so (covers late and reordered delivery). */
  settle_delay_ms: z.number().int().min(0).max(86_400_000).default(0),
});

const complianceSchema = z.strictObject({
  /** Share of transfers whose counterparty address is on the OFAC SDN list. */
  sanctioned_rate: rate.default(0.03),
  /** Share of transfers whose counterparty sits in a high-risk jurisdiction. */
  high_risk_country_rate: rate.default(0.04),
  /** Share of transfers that carry counterparty (travel-rule) data at all. */
  counterparty_rate: rate.default(0.85),
  spend_guard: spendGuardSchema.default(spendGuardSchema.parse({})),
});

const retrySchema = z.strictObject({
  attempts_max: z.number().int().min(1).max(50).default(8),
  delay_ms_min: z.number().int().min(1).max(3_600_000).default(200),
  delay_ms_max: z.number().int().min(1).max(86_400_000).default(30_000),
  factor: z.number().min(1).max(10).default(2),
  jitter: rate.default(0.2),
});

const deliverySchema = z.strictObject({
  /** realtime: send each event when the wall clock reaches its occurred_at; asap: as fast as concurrency allows. */
  pace: z.enum(['realtime', 'asap']).default('realtime'),
  concurrency: z.number().int().min(1).max(4_096).default(8),
  /** Deliveries waiting to be sent, at most (the generator pauses beyond it). */
  queue_max: z.number().int().min(1).max(1_000_000).default(10_000),
  timeout_ms: z.number().int().min(50).max(120_000).default(5_000),
  duplicate_rate: rate.default(0.05),
  duplicate_delay_ms: msRange.default([50, 3_000]),
  /** Share of events held back until after the next event of the same transaction. */
  reorder_rate: rate.default(0.05),
  late_rate: rate.default(0.02),
  late_delay_ms: msRange.default([1_000, 10_000]),
  retry: retrySchema.default(retrySchema.parse({})),
  /** Sign with every configured secret (rotation) instead of the first only. */
  sign_with_all_secrets: z.boolean().default(false),
});

const discrepanciesSchema = z.strictObject({
  /** Never send any webhook of the transaction; statements report it (→ missing_in_ledger). */
  drop_all_rate: rate.default(0),
  /** Never send the transaction's final webhook (→ status_mismatch). */
  drop_last_rate: rate.default(0),
  /** Statements report a different amount than the webhooks (→ amount_mismatch). */
  alter_amount_rate: rate.default(0),
  /** Statements report a different status than the webhooks (→ status_mismatch). */
  alter_status_rate: rate.default(0),
  /** Statements leave the transaction out although its webhooks were sent (→ missing_at_provider). */
  omit_from_statements_rate: rate.default(0),
});

export const statementKnobsSchema = z.strictObject({
  /** Largest `limit` accepted; larger requests are answered with 400. */
  limit_max: z.number().int().min(1).max(100_000).default(1_000),
  limit_default: z.number().int().min(1).max(100_000).default(100),
  /** Return at most this many items per page whatever `limit` says (odd pagination). */
  page_size_cap: z.number().int().min(1).max(100_000).nullable().default(null),
  /** Share of pages returned empty with a non-null cursor at the same position. */
  empty_page_rate: rate.default(0),
  /** Share of pages that repeat the previous page's last item first (at-least-once paging). */
  repeat_last_item_rate: rate.default(0),
  delay_ms: z.number().int().min(0).max(120_000).default(0),
  /** Share of requests answered 503 (with Retry-After), 500 or 429. */
  transient_failure_rate: rate.default(0),
});
export type StatementKnobs = z.infer<typeof statementKnobsSchema>;

export const scenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().min(1).max(100),
  description: z.string().max(2_000).default(''),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(1),
  world: worldSchema.default(worldSchema.parse({})),
  traffic: trafficSchema.default(trafficSchema.parse({})),
  lifecycle: lifecycleSchema.default(lifecycleSchema.parse({})),
  amounts: amountsSchema.default(amountsSchema.parse({})),
  compliance: complianceSchema.default(complianceSchema.parse({})),
  delivery: deliverySchema.default(deliverySchema.parse({})),
  discrepancies: discrepanciesSchema.default(discrepanciesSchema.parse({})),
  statements: statementKnobsSchema.default(statementKnobsSchema.parse({})),
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type DeliverySettings = Scenario['delivery'];
export type RetrySettings = DeliverySettings['retry'];

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

/** Validates a parsed scenario document; the error names every bad key. */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  const result = scenarioSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ScenarioError(`${source} is invalid:\n${problems.join('\n')}`);
  }
  const scenario = result.data;
  const [w_min, w_max] = scenario.world.wallets_per_customer;
  if (w_min > w_max) throw new ScenarioError(`${source}: world.wallets_per_customer must be [min, max] with min <= max`);
  if (!Object.values(scenario.world.providers).some((w) => (w ?? 0) > 0)) {
    throw new ScenarioError(`${source}: world.providers needs at least one provider with a positive share`);
  }
  if (scenario.delivery.retry.delay_ms_min > scenario.delivery.retry.delay_ms_max) {
    throw new ScenarioError(`${source}: delivery.retry.delay_ms_min must not exceed delay_ms_max`);
  }
  const d = scenario.discrepancies;
  const discrepancy_total = d.drop_all_rate + d.drop_last_rate + d.alter_amount_rate + d.alter_status_rate + d.omit_from_statements_rate;
  if (discrepancy_total > 1) throw new ScenarioError(`${source}: discrepancy rates add up to more than 1`);
  return scenario;
}
