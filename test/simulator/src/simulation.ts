/**
 * One simulator run: the generator feeds the provider's outbox (the delivery scheduler),
 * a bounded number of deliveries are in flight through a transport (HTTP in practice),
 * outcomes flow back into the scheduler (retries, duplicates) and the ground truth
 * (acknowledged / abandoned). Pacing is the scenario's (realtime or asap) or, in load
 * mode, a target rate with a linear ramp for a fixed duration.
 */
import { DeliveryScheduler, type Delivery, type DeliveryStats } from './core/delivery.js';
import { ScenarioGenerator, defaultNamespace } from './core/generate.js';
import { Rng } from './core/rng.js';
import type { SanctionsSnapshot } from './core/sanctions.js';
import type { ProviderId, Scenario, StatementKnobs } from './core/scenario.js';
import { statementKnobsSchema } from './core/scenario.js';
import { decodeCursor, statementsPage, type Page } from './core/statements.js';
import { GroundTruth } from './core/truth.js';
import type { SendResult } from './adapters/http-sender.js';
import { LatencyRecorder, type LatencySummary } from './load/latency.js';

export type Transport = (delivery: Delivery) => Promise<SendResult>;

export interface RatePlan {
  /** Target rate of new events per second once ramped up. */
  rate_per_s: number;
  /** Linear ramp from 0 to the target rate. */
  ramp_ms: number;
  /** New events stop after this long; retries then drain. */
  duration_ms: number;
}

export interface SimulationOptions {
  /** Counterparty risk scores as screening's risk API gives them (see GeneratorOptions.risk_score). */
  risk_score?: (address: string) => number | null;
  scenario: Scenario;
  sanctions: SanctionsSnapshot;
  /** Simulated time of the first event; default: the clock now (realtime pacing needs that). */
  start_ms?: number;
  namespace?: string;
  /** How deliveries reach the receiver; without one the simulator only generates. */
  transport?: Transport;
  now_ms?: () => number;
  /** Keep the ground truth (off in long load runs to bound memory). */
  record_truth?: boolean;
  rate?: RatePlan;
  /** After generation ends, wait at most this long for retries and duplicates (default: see defaultDrainTimeout_ms). */
  drain_timeout_ms?: number;
  on_progress?: (status: SimulationStatus) => void;
  progress_interval_ms?: number;
}

export interface SimulationStatus {
  name: string;
  seed: number;
  namespace: string;
  phase: 'idle' | 'running' | 'draining' | 'done' | 'stopped';
  started_at: string | null;
  elapsed_ms: number;
  generated_events: number;
  started_transactions: number;
  generation_done: boolean;
  queued: number;
  in_flight: number;
  delivery: DeliveryStats;
  /** Request sent → 2xx received. */
  ack_latency: LatencySummary;
  /** Delivery due → 2xx received (adds time spent queued behind the concurrency limit; ms resolution). */
  due_to_ack_latency: LatencySummary;
  /** Acknowledged deliveries per second over the run so far. */
  ack_rate_per_s: number;
}

export type StatementsResponse =
  | { status: 200; body: Page; delay_ms: number }
  | { status: 400 | 429 | 500 | 503; body: { error: string; message: string }; headers: Record<string, string>; delay_ms: number };

const WAIT_MS_MAX = 250;
const FEED_BATCH_MAX = 1_000;

export class Simulation {
  readonly scenario: Scenario;
  readonly namespace: string;
  readonly start_ms: number;
  readonly generator: ScenarioGenerator;
  readonly scheduler: DeliveryScheduler;
  readonly truth = new GroundTruth();
  readonly latency = new LatencyRecorder();
  /** From when a delivery was due (queued by the rate plan, or its retry time) to its ack: includes queueing. */
  readonly due_to_ack = new LatencyRecorder();
  private statement_knobs: StatementKnobs;
  private readonly statements_rng: Rng;
  private readonly now_ms: () => number;
  private phase: SimulationStatus['phase'] = 'idle';
  private run_started_ms: number | null = null;
  private run_ended_ms: number | null = null;
  private generated = 0;
  private wake: (() => void) | null = null;

  constructor(private readonly options: SimulationOptions) {
    this.scenario = options.scenario;
    this.now_ms = options.now_ms ?? Date.now;
    this.start_ms = options.start_ms ?? this.now_ms();
    this.namespace = options.namespace ?? defaultNamespace(this.scenario.seed, this.start_ms);
    this.generator = new ScenarioGenerator(this.scenario, {
      start_ms: this.start_ms,
      namespace: this.namespace,
      sanctions: options.sanctions,
      risk_score: options.risk_score,
    });
    this.scheduler = new DeliveryScheduler(this.scenario.delivery, this.scenario.seed);
    this.statement_knobs = { ...this.scenario.statements };
    this.statements_rng = Rng.derive(this.scenario.seed, 'statements');
  }

  // --- generation without delivery ----------------------------------------------------------

  /** Generates every remaining event into the ground truth without sending anything. */
  generateAll(): number {
    let n = 0;
    for (let g = this.generator.next(); g !== null; g = this.generator.next()) {
      this.truth.record(g);
      n++;
    }
    this.generated += n;
    return n;
  }

  // --- delivery loop ------------------------------------------------------------------------

  /** Runs until everything is delivered (or given up), `signal` aborts, or the rate plan ends and drains. */
  async run(signal?: AbortSignal): Promise<SimulationStatus> {
    const transport = this.options.transport;
    if (!transport) throw new Error('Simulation.run needs a transport (use generateAll() to generate only)');
    if (this.phase !== 'idle') throw new Error(`simulation already ${this.phase}`);
    const { delivery } = this.scenario;
    const record_truth = this.options.record_truth ?? true;
    const drain_timeout_ms = this.options.drain_timeout_ms ?? Simulation.defaultDrainTimeout_ms(this.scenario);
    this.phase = 'running';
    this.run_started_ms = this.now_ms();
    let feed_closed_at: number | null = null;
    let last_progress = this.run_started_ms;
    const progress_interval_ms = this.options.progress_interval_ms ?? 5_000;
    const abort = () => this.wake?.();
    signal?.addEventListener('abort', abort);

    try {
      for (;;) {
        if (signal?.aborted) {
          this.phase = 'stopped';
          break;
        }
        const now = this.now_ms();
        const feeding = this.feedOpen(now);
        if (feeding) this.feed(now, record_truth);
        else if (feed_closed_at === null) {
          feed_closed_at = now;
          this.phase = 'draining';
        }

        while (this.scheduler.in_flight < delivery.concurrency) {
          const d = this.scheduler.takeDue(now);
          if (!d) break;
          void this.dispatch(transport, d, record_truth);
        }

        if (this.options.on_progress && now - last_progress >= progress_interval_ms) {
          last_progress = now;
          this.options.on_progress(this.status());
        }

        const generation_over = !feeding;
        if (generation_over && this.scheduler.idle) {
          this.phase = 'done';
          break;
        }
        if (generation_over && feed_closed_at !== null && now - feed_closed_at > drain_timeout_ms) {
          this.phase = 'stopped';
          break;
        }
        await this.waitForWork(now, feeding);
      }
      // Let in-flight requests finish so their outcomes are counted.
      while (this.scheduler.in_flight > 0) await this.waitForWork(this.now_ms(), false, 50);
    } finally {
      signal?.removeEventListener('abort', abort);
      this.run_ended_ms = this.now_ms();
    }
    return this.status();
  }

  /**
   * Long enough for the last event to exhaust its retries (every attempt timing out at the
   * longest backoff) after being late and duplicated; at most one hour.
   */
  static defaultDrainTimeout_ms(scenario: Scenario): number {
    const d = scenario.delivery;
    const retries_ms = d.retry.attempts_max * (d.retry.delay_ms_max + d.timeout_ms);
    return Math.min(3_600_000, retries_ms + d.late_delay_ms[1] + d.duplicate_delay_ms[1]);
  }

  /** Is the generator still allowed to produce new events? */
  private feedOpen(now: number): boolean {
    if (this.generator.done) return false;
    const rate = this.options.rate;
    if (rate && now - this.run_started_ms! >= rate.duration_ms) return false;
    return true;
  }

  /** Events the rate plan allows by `elapsed_ms` (integral of a linear ramp, then flat). */
  static allowedByRate(rate: RatePlan, elapsed_ms: number): number {
    const t = Math.max(0, Math.min(elapsed_ms, rate.duration_ms)) / 1000;
    const ramp = rate.ramp_ms / 1000;
    if (ramp > 0 && t < ramp) return Math.floor((rate.rate_per_s * t * t) / (2 * ramp));
    return Math.floor(rate.rate_per_s * (ramp / 2 + (t - ramp)));
  }

  private feed(now: number, record_truth: boolean): void {
    const { delivery } = this.scenario;
    let budget = FEED_BATCH_MAX;
    const rate = this.options.rate;
    if (rate) budget = Math.min(budget, Simulation.allowedByRate(rate, now - this.run_started_ms!) - this.generated);
    while (budget > 0 && this.scheduler.queued < delivery.queue_max) {
      if (delivery.pace === 'realtime' && !rate) {
        const next_ms = this.generator.peekTime();
        if (next_ms === null || next_ms > now) break;
      }
      const g = this.generator.next();
      if (!g) break;
      if (record_truth) this.truth.record(g);
      this.scheduler.offer(g.event, now);
      this.generated++;
      budget--;
    }
  }

  private async dispatch(transport: Transport, d: Delivery, record_truth: boolean): Promise<void> {
    let result: SendResult;
    try {
      result = await transport(d);
    } catch (err) {
      result = { outcome: { kind: 'error', error: 'transport_error' }, latency_us: 0 };
      void err;
    }
    const completed_ms = this.now_ms();
    if (result.outcome.kind === 'ack') {
      this.latency.record_us(result.latency_us);
      this.due_to_ack.record_us(Math.max(0, completed_ms - d.time_ms) * 1000);
    }
    const completion = this.scheduler.complete(d, result.outcome, completed_ms);
    if (record_truth) {
      if (completion.first_ack) this.truth.markAcknowledged(completion.first_ack.id);
      if (completion.abandoned) this.truth.markAbandoned(completion.abandoned.id);
    }
    this.wake?.();
  }

  private waitForWork(now: number, feeding: boolean, cap_ms = WAIT_MS_MAX): Promise<void> {
    let wait_ms = cap_ms;
    const due = this.scheduler.nextDueAt();
    const can_dispatch = this.scheduler.in_flight < this.scenario.delivery.concurrency;
    if (due !== null && can_dispatch) wait_ms = Math.min(wait_ms, Math.max(0, due - now));
    if (feeding && this.scheduler.queued < this.scenario.delivery.queue_max) {
      const rate = this.options.rate;
      if (rate) wait_ms = Math.min(wait_ms, 2);
      else if (this.scenario.delivery.pace === 'asap') wait_ms = 0;
      else {
        const next_ms = this.generator.peekTime();
        if (next_ms !== null) wait_ms = Math.min(wait_ms, Math.max(0, next_ms - now));
      }
    }
    if (wait_ms <= 0) return new Promise((resolve) => setImmediate(resolve));
    return new Promise((resolve) => {
      const timer = setTimeout(done, wait_ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  // --- statements API -----------------------------------------------------------------------

  get statementKnobs(): StatementKnobs {
    return { ...this.statement_knobs };
  }

  /** Changes statement knobs at run time (validated; unknown keys rejected). */
  setStatementKnobs(patch: Partial<StatementKnobs>): StatementKnobs {
    const next = statementKnobsSchema.parse({ ...this.statement_knobs, ...patch });
    this.statement_knobs = next;
    return { ...next };
  }

  /** Answers `GET /v1/transactions` for one provider (DESIGN 3.5). */
  statements(provider: ProviderId, query: { updated_since?: string; cursor?: string; limit?: string }): StatementsResponse {
    const knobs = this.statement_knobs;
    const delay_ms = knobs.delay_ms;
    const bad = (error: string, message: string): StatementsResponse => ({ status: 400, body: { error, message }, headers: {}, delay_ms });
    if (this.statements_rng.chance(knobs.transient_failure_rate)) {
      const pick = this.statements_rng.int(0, 2);
      if (pick === 0)
        return {
          status: 503,
          body: { error: 'unavailable', message: 'statements temporarily unavailable; retry later' },
          headers: { 'retry-after': '1' },
          delay_ms,
        };
      if (pick === 1)
        return {
          status: 429,
          body: { error: 'rate_limited', message: 'too many requests; retry later' },
          headers: { 'retry-after': '1' },
          delay_ms,
        };
      return { status: 500, body: { error: 'internal', message: 'internal error; retry later' }, headers: {}, delay_ms };
    }
    let updated_since_ms: number | null = null;
    if (query.updated_since !== undefined && query.updated_since !== '') {
      if (!/^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(query.updated_since)) {
        return bad('invalid_updated_since', 'updated_since must be an ISO-8601 date-time');
      }
      updated_since_ms = Date.parse(query.updated_since);
      if (Number.isNaN(updated_since_ms)) return bad('invalid_updated_since', 'updated_since must be an ISO-8601 date-time');
    }
    let limit = knobs.limit_default;
    if (query.limit !== undefined && query.limit !== '') {
      if (!/^[0-9]{1,7}$/.test(query.limit)) return bad('invalid_limit', `limit must be an integer in 1..${knobs.limit_max}`);
      limit = Number(query.limit);
      if (limit < 1 || limit > knobs.limit_max) return bad('invalid_limit', `limit must be an integer in 1..${knobs.limit_max}`);
    }
    let cursor = null;
    if (query.cursor !== undefined && query.cursor !== '') {
      cursor = decodeCursor(query.cursor);
      if (!cursor) return bad('invalid_cursor', 'cursor is not one this API returned');
    }
    const records = this.truth.statementRecords(provider);
    return { status: 200, body: statementsPage(records, { updated_since_ms, cursor, limit }, knobs, this.statements_rng), delay_ms };
  }

  // --- status ---------------------------------------------------------------------------------

  status(): SimulationStatus {
    const now = this.run_ended_ms ?? this.now_ms();
    const elapsed_ms = this.run_started_ms === null ? 0 : now - this.run_started_ms;
    const stats = this.scheduler.stats;
    return {
      name: this.scenario.name,
      seed: this.scenario.seed,
      namespace: this.namespace,
      phase: this.phase,
      started_at: this.run_started_ms === null ? null : new Date(this.run_started_ms).toISOString(),
      elapsed_ms,
      generated_events: this.generated,
      started_transactions: this.generator.started,
      generation_done: this.generator.done,
      queued: this.scheduler.queued,
      in_flight: this.scheduler.in_flight,
      delivery: { ...stats, status_counts: { ...stats.status_counts } },
      ack_latency: this.latency.summary(),
      due_to_ack_latency: this.due_to_ack.summary(),
      ack_rate_per_s: elapsed_ms > 0 ? Math.round((stats.acknowledged * 1000 * 10) / elapsed_ms) / 10 : 0,
    };
  }
}
