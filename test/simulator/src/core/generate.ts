/**
 * Deterministic provider world and event stream. Given a scenario, a start time, an id
 * namespace and the sanctions snapshot, `ScenarioGenerator` yields the same events in the
 * same order every time: transactions start as Poisson arrivals in simulated time, each
 * lifecycle is planned completely when the transaction starts, and events come out in
 * occurrence order from a heap. Memory is bounded by the transactions in flight.
 */
import { ASSETS, NETWORKS, approxUsdMicro, unitsForUsdMicro, type AssetSpec, type AssetSymbol, type NetworkId } from './assets.js';
import { ORDINARY_COUNTRIES, randomCounterparty } from './counterparties.js';
import { MinHeap } from './heap.js';
import type { Counterparty, Customer, Decision, DiscrepancyKind, EventType, KycStatus, SimEvent, SimTransaction, Wallet } from './model.js';
import { formatFixed } from './money.js';
import { Rng } from './rng.js';
import { sanctionedAddressesByNetwork, type SanctionsSnapshot } from './sanctions.js';
import type { ProviderId, Scenario } from './scenario.js';

/** 1000 USD/EUR: the travel-rule line (FATF); below it and clean, the simulator expects ALLOW. */
export const TRAVEL_RULE_USD_MICRO = 1_000_000_000n;

const NAMESPACE_PATTERN = /^[a-z0-9]{1,24}$/;

export interface GeneratorOptions {
  /** Simulated time of the first transaction (ms since epoch). */
  start_ms: number;
  /** Makes ids unique across runs that share a broker and a ledger: `wal_<ns>_…`, `evt_<ns>_…`. */
  namespace: string;
  sanctions: SanctionsSnapshot;
  /**
   * The counterparty risk score (0-100) screening's risk API will give `address`, when the
   * simulator knows it (the demo runs against the fake risk API, whose scores are a pure
   * function of the address). Deposits from addresses at or above the spend guard's
   * threshold are never spent by later withdrawals.
   */
  risk_score?: (address: string) => number | null;
}

/** Per-wallet velocity history kept by the spend guard, at most (beyond it the wallet counts as flagged). */
export const VELOCITY_HISTORY_MAX = 10_000;
/** Lifecycles longer than this may escape the spend guard's velocity history. */
const VELOCITY_LIFETIME_MARGIN_MS = 3_600_000;

interface VelocityEntry {
  start_ms: number;
  end_ms: number;
  usd_micro: bigint;
}

export interface Generated {
  event: SimEvent;
  /** The transaction the event belongs to (null for KYC events). */
  transaction: SimTransaction | null;
}

interface PlannedEvent {
  time_ms: number;
  order: number;
  event: Omit<SimEvent, 'seq'>;
  transaction: SimTransaction | null;
}

interface Credit {
  time_ms: number;
  order: number;
  key: string;
  units: bigint;
  /** The deposit that funds it (checked by the spend guard on release), or null for a returned withdrawal. */
  deposit: { tx: SimTransaction; settle_ms: number } | null;
}

const KYC_NEXT: Readonly<Record<KycStatus, readonly KycStatus[]>> = {
  pending: ['approved', 'approved', 'approved', 'review', 'rejected'],
  review: ['approved', 'rejected'],
  approved: ['review', 'suspended', 'approved'],
  rejected: ['review'],
  suspended: ['approved', 'review'],
};

export function defaultNamespace(seed: number, start_ms: number): string {
  return `${seed.toString(36)}${start_ms.toString(36)}`.slice(-16);
}

export class ScenarioGenerator {
  readonly customers: Customer[] = [];
  readonly wallets = new Map<string, Wallet>();
  /** Wallets grouped by provider, for picking. */
  private readonly wallet_list: Wallet[] = [];
  private readonly kyc_status = new Map<string, KycStatus>();
  private readonly sanctioned: Record<NetworkId, string[]>;

  private readonly world_rng: Rng;
  private readonly traffic_rng: Rng;
  private readonly discrepancy_rng: Rng;

  private readonly heap = new MinHeap<PlannedEvent>();
  private readonly credits = new MinHeap<Credit>();
  /** Spendable base units per `${wallet_id}|${asset}` (confirmed, clean, not to be reversed). */
  private readonly spendable = new Map<string, bigint>();
  private readonly spendable_keys: string[] = [];
  /** Spend guard: transactions per wallet (start, end, USD) within the velocity windows. */
  private readonly velocity = new Map<string, VelocityEntry[]>();
  private readonly velocity_window_max_ms: number;

  private order = 0;
  private seq = 0;
  private created = 0;
  private event_counter = 0;
  private tx_counter = 0;
  private next_start_ms: number;
  private readonly mean_interarrival_ms: number;

  constructor(
    readonly scenario: Scenario,
    readonly options: GeneratorOptions,
  ) {
    if (!NAMESPACE_PATTERN.test(options.namespace)) {
      throw new Error(`namespace must match ${NAMESPACE_PATTERN} (got ${JSON.stringify(options.namespace)})`);
    }
    if (!Number.isSafeInteger(options.start_ms) || options.start_ms < 0) throw new Error('start_ms must be a non-negative integer');
    this.world_rng = Rng.derive(scenario.seed, 'world');
    this.traffic_rng = Rng.derive(scenario.seed, 'traffic');
    this.discrepancy_rng = Rng.derive(scenario.seed, 'discrepancies');
    this.sanctioned = sanctionedAddressesByNetwork(options.sanctions);
    this.next_start_ms = options.start_ms;
    this.mean_interarrival_ms = 1000 / scenario.traffic.transactions_per_s;
    this.velocity_window_max_ms = Math.max(0, ...scenario.compliance.spend_guard.velocity.map((v) => v.window_ms));
    this.buildWorld();
  }

  /** Transactions (and KYC changes) started so far. */
  get started(): number {
    return this.created;
  }

  /** Events waiting in planned lifecycles. */
  get in_flight(): number {
    return this.heap.size;
  }

  /** True when every planned event has been emitted. */
  get done(): boolean {
    return this.created >= this.scenario.traffic.transactions && this.heap.size === 0;
  }

  /** Occurrence time of the next event, or null when done. */
  peekTime(): number | null {
    this.startDueTransactions();
    return this.heap.peek()?.time_ms ?? null;
  }

  next(): Generated | null {
    this.startDueTransactions();
    const planned = this.heap.pop();
    if (!planned) return null;
    const event: SimEvent = { ...planned.event, seq: this.seq++ };
    return { event, transaction: planned.transaction };
  }

  *[Symbol.iterator](): Iterator<Generated> {
    for (let g = this.next(); g !== null; g = this.next()) yield g;
  }

  // --- world -------------------------------------------------------------------------

  private buildWorld(): void {
    const { world } = this.scenario;
    const rng = this.world_rng;
    const ns = this.options.namespace;
    const provider_weights = Object.fromEntries(Object.entries(world.providers).filter(([, w]) => (w ?? 0) > 0)) as Record<
      ProviderId,
      number
    >;
    let wallet_counter = 0;
    for (let c = 0; c < world.customers; c++) {
      const customer: Customer = {
        customer_id: `cus_${ns}_${c.toString(36).padStart(4, '0')}`,
        provider: rng.weighted(provider_weights),
        wallet_ids: [],
      };
      const wallet_count = rng.int(world.wallets_per_customer[0], world.wallets_per_customer[1]);
      for (let w = 0; w < wallet_count; w++) {
        const network = rng.pick(world.networks);
        const wallet: Wallet = {
          wallet_id: `wal_${ns}_${(wallet_counter++).toString(36).padStart(5, '0')}`,
          customer_id: customer.customer_id,
          provider: customer.provider,
          network,
          address: NETWORKS[network].randomAddress(rng),
        };
        customer.wallet_ids.push(wallet.wallet_id);
        this.wallets.set(wallet.wallet_id, wallet);
        this.wallet_list.push(wallet);
      }
      this.customers.push(customer);
      this.kyc_status.set(customer.customer_id, 'pending');
    }
  }

  // --- traffic -----------------------------------------------------------------------

  /** Starts every transaction whose start time is not after the earliest planned event. */
  private startDueTransactions(): void {
    const total = this.scenario.traffic.transactions;
    while (this.created < total) {
      const top = this.heap.peek();
      if (top && top.time_ms < this.next_start_ms) return;
      const now_ms = this.next_start_ms;
      this.releaseCredits(now_ms);
      this.startOne(now_ms);
      this.created++;
      this.next_start_ms = now_ms + Math.max(0, this.traffic_rng.exponential_ms(this.mean_interarrival_ms));
    }
  }

  private startOne(now_ms: number): void {
    const kind = this.traffic_rng.weighted(this.scenario.traffic.kind_weights);
    if (kind === 'kyc') return this.startKyc(now_ms);
    if (kind === 'withdrawal' && this.spendable_keys.length > 0) return this.startWithdrawal(now_ms);
    return this.startDeposit(now_ms);
  }

  private nextEventId(): string {
    return `evt_${this.options.namespace}_${(this.event_counter++).toString(36).padStart(7, '0')}`;
  }

  private nextTransactionId(): string {
    return `tx_${this.options.namespace}_${(this.tx_counter++).toString(36).padStart(6, '0')}`;
  }

  private plan(time_ms: number, event: Omit<SimEvent, 'seq'>, transaction: SimTransaction | null): void {
    this.heap.push({ time_ms, order: this.order++, event, transaction });
  }

  private startKyc(now_ms: number): void {
    const rng = this.traffic_rng;
    const customer = rng.pick(this.customers);
    const current = this.kyc_status.get(customer.customer_id) ?? 'pending';
    const status = rng.pick(KYC_NEXT[current]);
    this.kyc_status.set(customer.customer_id, status);
    this.plan(
      now_ms,
      {
        id: this.nextEventId(),
        provider: customer.provider,
        type: 'kyc.status_changed',
        occurred_at_ms: now_ms,
        transaction_id: null,
        wallet_id: customer.wallet_ids[0]!,
        customer_id: customer.customer_id,
        asset: null,
        network: null,
        amount: null,
        tx_hash: null,
        from_address: null,
        to_address: null,
        confirmations: null,
        counterparty: null,
        kyc_status: status,
        step: 0,
        has_next: false,
        withheld: false,
      },
      null,
    );
  }

  private pickAmount(asset: AssetSpec): bigint {
    const rng = this.traffic_rng;
    const { amounts } = this.scenario;
    let units: bigint;
    if (rng.chance(amounts.huge_rate)) {
      // Far beyond any real supply: exercises 30–40 digit integers end to end.
      return rng.logUniformBigInt(10n ** 30n, 10n ** 40n - 1n);
    } else if (rng.chance(amounts.whale_rate)) {
      units = unitsForUsdMicro(asset, rng.logUniformBigInt(1_000_000n * 1_000_000n, 100_000_000n * 1_000_000n));
    } else if (rng.chance(amounts.large_rate)) {
      units = unitsForUsdMicro(asset, rng.logUniformBigInt(1_000n * 1_000_000n, 999_999n * 1_000_000n));
    } else {
      units = unitsForUsdMicro(asset, rng.logUniformBigInt(1_000_000n, 999n * 1_000_000n));
    }
    // Real amounts use every decimal: add noise below 1 % of the amount.
    const noise_max = units / 100n;
    if (noise_max > 0n) units += rng.bigint(0n, noise_max);
    return units > 0n ? units : 1n;
  }

  private pickCounterparty(force_high_risk: boolean): Counterparty | null {
    const rng = this.traffic_rng;
    const { compliance, world } = this.scenario;
    if (force_high_risk && world.high_risk_countries.length > 0) {
      return randomCounterparty(rng, rng.pick(world.high_risk_countries));
    }
    if (!rng.chance(compliance.counterparty_rate)) return null;
    return randomCounterparty(rng, rng.pick(ORDINARY_COUNTRIES));
  }

  private pickDiscrepancy(): DiscrepancyKind | null {
    const d = this.scenario.discrepancies;
    const roll = this.discrepancy_rng.float();
    let edge = 0;
    const kinds: [DiscrepancyKind, number][] = [
      ['drop_all', d.drop_all_rate],
      ['drop_last', d.drop_last_rate],
      ['alter_amount', d.alter_amount_rate],
      ['alter_status', d.alter_status_rate],
      ['omit_from_statements', d.omit_from_statements_rate],
    ];
    for (const [kind, rate] of kinds) {
      edge += rate;
      if (roll < edge) return kind;
    }
    return null;
  }

  /** Builds the fields shared by deposits and withdrawals. */
  private newTransaction(
    kind: 'deposit' | 'withdrawal',
    wallet: Wallet,
    asset_symbol: AssetSymbol,
    amount_units: bigint,
    now_ms: number,
  ): SimTransaction {
    const rng = this.traffic_rng;
    const { compliance } = this.scenario;
    const network = NETWORKS[wallet.network];
    const asset = ASSETS[asset_symbol];
    const listed = this.sanctioned[wallet.network];
    const sanctioned_address = listed.length > 0 && rng.chance(compliance.sanctioned_rate) ? rng.pick(listed) : null;
    const high_risk_country = rng.chance(compliance.high_risk_country_rate);
    const counterparty = this.pickCounterparty(high_risk_country);
    // Providers often send EVM addresses lower-cased while the SDN list has EIP-55 mixed case:
    // screening must compare them case-insensitively.
    const sent_sanctioned =
      sanctioned_address && network.addresses_case_insensitive && rng.chance(0.5) ? sanctioned_address.toLowerCase() : sanctioned_address;
    const external = sent_sanctioned ?? network.randomAddress(rng);
    const approx_usd_micro = approxUsdMicro(asset, amount_units);

    const hints: string[] = [];
    let expected: Decision | null;
    if (sanctioned_address) hints.push('sanctioned_address');
    if (high_risk_country) hints.push('high_risk_country');
    if (approx_usd_micro >= TRAVEL_RULE_USD_MICRO) hints.push('travel_rule_threshold');
    if (!counterparty) hints.push('no_counterparty');
    if (sanctioned_address) expected = 'BLOCK';
    else if (high_risk_country) expected = 'REVIEW';
    else if (approx_usd_micro < TRAVEL_RULE_USD_MICRO) expected = 'ALLOW';
    else expected = null;

    return {
      provider: wallet.provider,
      transaction_id: this.nextTransactionId(),
      kind,
      wallet_id: wallet.wallet_id,
      customer_id: wallet.customer_id,
      asset: asset_symbol,
      network: wallet.network,
      decimals: asset.decimals,
      amount_units,
      amount: formatFixed(amount_units, asset.decimals),
      tx_hash: network.randomTxHash(rng),
      from_address: kind === 'deposit' ? external : wallet.address,
      to_address: kind === 'deposit' ? wallet.address : external,
      counterparty,
      sanctioned_address,
      high_risk_country,
      approx_usd_micro,
      expected_screening: expected,
      screening_hints: hints,
      planned_event_ids: [],
      final_type: kind === 'deposit' ? 'deposit.confirmed' : 'withdrawal.confirmed',
      discrepancy: this.pickDiscrepancy(),
      created_at_ms: now_ms,
    };
  }

  private blockInterval_ms(network: NetworkId): number {
    return Math.max(1, Math.round(NETWORKS[network].block_time_ms * this.scenario.lifecycle.block_time_scale));
  }

  /** Schedules a transaction's planned lifecycle; applies drop discrepancies. */
  private schedule(tx: SimTransaction, steps: { time_ms: number; type: EventType; confirmations: number | null }[]): void {
    tx.final_type = steps[steps.length - 1]!.type;
    this.recordVelocity(tx, steps[0]!.time_ms, steps[steps.length - 1]!.time_ms);
    steps.forEach((step, index) => {
      const id = this.nextEventId();
      tx.planned_event_ids.push(id);
      const is_last = index === steps.length - 1;
      const withheld = tx.discrepancy === 'drop_all' || (tx.discrepancy === 'drop_last' && is_last);
      const carries_hash = step.type !== 'withdrawal.requested' && !(step.type === 'withdrawal.failed' && index === 1);
      this.plan(
        step.time_ms,
        {
          id,
          provider: tx.provider,
          type: step.type,
          occurred_at_ms: step.time_ms,
          transaction_id: tx.transaction_id,
          wallet_id: tx.wallet_id,
          customer_id: tx.customer_id,
          asset: tx.asset,
          network: tx.network,
          amount: tx.amount,
          tx_hash: carries_hash ? tx.tx_hash : null,
          from_address: tx.from_address,
          to_address: tx.to_address,
          confirmations: step.confirmations,
          counterparty: tx.counterparty,
          kyc_status: null,
          step: index,
          has_next: !is_last,
          withheld,
        },
        tx,
      );
    });
  }

  private startDeposit(now_ms: number): void {
    const rng = this.traffic_rng;
    const { lifecycle } = this.scenario;
    const wallet = rng.pick(this.wallet_list);
    const asset_symbol = rng.pick(NETWORKS[wallet.network].assets);
    const tx = this.newTransaction('deposit', wallet, asset_symbol, this.pickAmount(ASSETS[asset_symbol]), now_ms);
    const block_ms = this.blockInterval_ms(wallet.network);
    const required = NETWORKS[wallet.network].confirmations_required;

    const first_confirmations = rng.int(0, 1);
    const steps: { time_ms: number; type: EventType; confirmations: number | null }[] = [
      { time_ms: now_ms, type: 'deposit.detected', confirmations: first_confirmations },
    ];
    const updates = Math.min(rng.int(0, lifecycle.detected_updates_max), Math.max(0, required - 1 - first_confirmations));
    for (let u = 1; u <= updates; u++) {
      steps.push({ time_ms: now_ms + u * block_ms, type: 'deposit.detected', confirmations: first_confirmations + u });
    }
    const settle_ms = now_ms + (required - first_confirmations) * block_ms + rng.int(0, block_ms);
    if (rng.chance(lifecycle.deposit_fail_rate)) {
      steps.push({ time_ms: settle_ms, type: 'deposit.failed', confirmations: null });
    } else {
      steps.push({ time_ms: settle_ms, type: 'deposit.confirmed', confirmations: required });
      if (rng.chance(lifecycle.deposit_reversal_rate)) {
        steps.push({ time_ms: settle_ms + rng.duration_ms(lifecycle.reversal_delay_ms), type: 'deposit.reversed', confirmations: null });
      }
    }
    this.schedule(tx, steps);

    // Only funds the ledger will surely show as available may be withdrawn later, so
    // truth balances stay non-negative whatever the screening of doubtful deposits says.
    const credited_for_sure =
      tx.final_type === 'deposit.confirmed' &&
      tx.expected_screening === 'ALLOW' &&
      tx.discrepancy !== 'drop_all' &&
      tx.discrepancy !== 'drop_last';
    const risk = this.options.risk_score?.(tx.from_address) ?? null;
    const risky = risk !== null && risk >= this.scenario.compliance.spend_guard.risk_review_at_or_above;
    tx.spendable = false;
    if (credited_for_sure && !risky) {
      this.credits.push({
        time_ms: settle_ms + this.scenario.compliance.spend_guard.settle_delay_ms,
        order: this.order++,
        key: `${tx.wallet_id}|${tx.asset}`,
        units: tx.amount_units,
        deposit: { tx, settle_ms },
      });
    }
  }

  private startWithdrawal(now_ms: number): void {
    const rng = this.traffic_rng;
    const { lifecycle } = this.scenario;
    const key_index = rng.int(0, this.spendable_keys.length - 1);
    const key = this.spendable_keys[key_index]!;
    const available = this.spendable.get(key)!;
    const [wallet_id, asset_symbol] = key.split('|') as [string, AssetSymbol];
    const wallet = this.wallets.get(wallet_id)!;
    const overdraft_rate = this.scenario.traffic.overdraft_rate;
    // Fault scenario only: spend more than the wallet has (the RNG is not consulted at rate 0).
    const overdraft = overdraft_rate > 0 && rng.chance(overdraft_rate);
    const amount_units = overdraft
      ? available + available / 2n + 1n
      : available <= 10n
        ? available
        : rng.bigint(available / 10n, available);
    this.debit(key, key_index, overdraft ? available : amount_units);

    const tx = this.newTransaction('withdrawal', wallet, asset_symbol, amount_units, now_ms);
    if (overdraft) tx.overdraft = true;
    const block_ms = this.blockInterval_ms(wallet.network);
    const required = NETWORKS[wallet.network].confirmations_required;
    const steps: { time_ms: number; type: EventType; confirmations: number | null }[] = [
      { time_ms: now_ms, type: 'withdrawal.requested', confirmations: null },
    ];
    const broadcast_ms = now_ms + rng.int(1, Math.max(1, block_ms));
    const fails = rng.chance(lifecycle.withdrawal_fail_rate);
    if (fails && rng.chance(lifecycle.withdrawal_fail_before_broadcast_rate)) {
      steps.push({ time_ms: broadcast_ms, type: 'withdrawal.failed', confirmations: null });
    } else {
      steps.push({ time_ms: broadcast_ms, type: 'withdrawal.broadcast', confirmations: 0 });
      const settle_ms = broadcast_ms + required * block_ms + rng.int(0, block_ms);
      steps.push(
        fails
          ? { time_ms: settle_ms, type: 'withdrawal.failed', confirmations: null }
          : { time_ms: settle_ms, type: 'withdrawal.confirmed', confirmations: required },
      );
    }
    this.schedule(tx, steps);
    const last = steps[steps.length - 1]!;
    // A failed withdrawal gives the funds back, but only if the ledger hears about the failure.
    if (last.type === 'withdrawal.failed' && tx.discrepancy !== 'drop_last' && !overdraft) {
      this.credits.push({
        time_ms: last.time_ms + this.scenario.compliance.spend_guard.settle_delay_ms,
        order: this.order++,
        key,
        units: amount_units,
        deposit: null,
      });
    }
  }

  private releaseCredits(now_ms: number): void {
    for (let top = this.credits.peek(); top && top.time_ms <= now_ms; top = this.credits.peek()) {
      this.credits.pop();
      if (top.deposit) {
        if (this.velocityFlagged(top.deposit.tx, top.deposit.settle_ms)) continue;
        top.deposit.tx.spendable = true;
      }
      const before = this.spendable.get(top.key);
      if (before === undefined) {
        this.spendable.set(top.key, top.units);
        this.spendable_keys.push(top.key);
      } else {
        this.spendable.set(top.key, before + top.units);
      }
    }
  }

  /** Remembers a transaction's lifetime for the velocity model (only when the spend guard models velocity). */
  private recordVelocity(tx: SimTransaction, start_ms: number, end_ms: number): void {
    if (this.velocity_window_max_ms === 0) return;
    const list = this.velocity.get(tx.wallet_id) ?? [];
    const horizon_ms =
      start_ms - this.velocity_window_max_ms - VELOCITY_LIFETIME_MARGIN_MS - this.scenario.compliance.spend_guard.settle_delay_ms;
    let drop = 0;
    while (drop < list.length && list[drop]!.end_ms < horizon_ms) drop++;
    if (drop > 0) list.splice(0, drop);
    if (list.length >= VELOCITY_HISTORY_MAX) list.shift();
    list.push({ start_ms, end_ms, usd_micro: tx.approx_usd_micro });
    this.velocity.set(tx.wallet_id, list);
  }

  /**
   * True when a velocity rule could have flagged the deposit: screening looks at the
   * windows ending at each of its events (detected at creation ... confirmed at settle),
   * so every wallet transaction whose lifetime overlaps (created - window, settle] counts.
   * Conservative: one transaction of margin on counts, 25 % on USD sums (the screening's
   * price table is not the simulator's).
   */
  private velocityFlagged(tx: SimTransaction, settle_ms: number): boolean {
    const rules = this.scenario.compliance.spend_guard.velocity;
    if (rules.length === 0) return false;
    const list = this.velocity.get(tx.wallet_id) ?? [];
    if (list.length >= VELOCITY_HISTORY_MAX) return true;
    for (const rule of rules) {
      let count = 0;
      let usd_micro = 0n;
      for (const e of list) {
        if (e.start_ms <= settle_ms && e.end_ms > tx.created_at_ms - rule.window_ms) {
          count++;
          usd_micro += e.usd_micro;
        }
      }
      if (count >= rule.count_max || (usd_micro * 5n) / 4n > BigInt(rule.usd_max) * 1_000_000n) return true;
    }
    return false;
  }

  private debit(key: string, key_index: number, units: bigint): void {
    const left = this.spendable.get(key)! - units;
    if (left < 0n) throw new Error(`invariant: withdrawal of ${units} exceeds spendable funds of ${key}`);
    if (left === 0n) {
      this.spendable.delete(key);
      const last = this.spendable_keys.pop()!;
      if (key_index < this.spendable_keys.length) this.spendable_keys[key_index] = last;
    } else {
      this.spendable.set(key, left);
    }
  }
}
