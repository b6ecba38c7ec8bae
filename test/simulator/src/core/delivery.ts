/**
 * How a provider delivers webhooks, as a pure scheduler with an injected clock:
 * holds some events back until after the next event of their transaction (out of
 * order), delays some (late), redelivers some after they were acknowledged
 * (duplicates), retries every non-2xx answer and timeout with capped exponential
 * backoff and jitter (honouring Retry-After), and gives up after `attempts_max`.
 * The HTTP adapter only asks "what is due?" and reports outcomes.
 */
import { MinHeap } from './heap.js';
import type { SimEvent } from './model.js';
import { Rng } from './rng.js';
import type { DeliverySettings, RetrySettings } from './scenario.js';

export type DeliveryKind = 'first' | 'duplicate';

export interface Delivery {
  /** Unique per delivery (retries of one delivery keep it). */
  delivery_no: number;
  event: SimEvent;
  kind: DeliveryKind;
  /** 1 for the first attempt of this delivery. */
  attempt: number;
  time_ms: number;
  order: number;
}

export type DeliveryOutcome =
  { kind: 'ack'; status: number } | { kind: 'rejected'; status: number; retry_after_ms: number | null } | { kind: 'error'; error: string };

export interface DeliveryStats {
  offered: number;
  withheld: number;
  reordered: number;
  late: number;
  attempts: number;
  acknowledged: number;
  rejected: number;
  errors: number;
  retried: number;
  duplicates: number;
  abandoned: number;
  /** Distinct events acknowledged at least once. */
  events_acknowledged: number;
  status_counts: Record<string, number>;
}

export interface CompletionResult {
  /** Set when the delivery of a never-acknowledged event was given up. */
  abandoned: SimEvent | null;
  /** Set when the event was acknowledged for the first time. */
  first_ack: SimEvent | null;
}

/** Capped exponential backoff with symmetric jitter; `u` in [0, 1). */
export function retryDelay_ms(retry: RetrySettings, attempt: number, u: number): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(retry.delay_ms_max, retry.delay_ms_min * retry.factor ** exponent);
  const jittered = base * (1 - retry.jitter + 2 * retry.jitter * u);
  return Math.max(1, Math.min(retry.delay_ms_max, Math.round(jittered)));
}

export class DeliveryScheduler {
  private readonly queue = new MinHeap<Delivery>();
  private readonly held = new Map<string, SimEvent[]>();
  private readonly rng: Rng;
  private order = 0;
  private delivery_counter = 0;
  private in_flight_count = 0;
  readonly stats: DeliveryStats = {
    offered: 0,
    withheld: 0,
    reordered: 0,
    late: 0,
    attempts: 0,
    acknowledged: 0,
    rejected: 0,
    errors: 0,
    retried: 0,
    duplicates: 0,
    abandoned: 0,
    events_acknowledged: 0,
    status_counts: {},
  };

  constructor(
    private readonly settings: DeliverySettings,
    seed: number,
  ) {
    this.rng = Rng.derive(seed, 'delivery');
  }

  /** Deliveries waiting (queued or held back), not counting those in flight. */
  get queued(): number {
    let held = 0;
    for (const list of this.held.values()) held += list.length;
    return this.queue.size + held;
  }

  get in_flight(): number {
    return this.in_flight_count;
  }

  /** Nothing queued, held or in flight. */
  get idle(): boolean {
    return this.queue.size === 0 && this.held.size === 0 && this.in_flight_count === 0;
  }

  /** Hands a newly generated event to the provider's outbox. */
  offer(event: SimEvent, now_ms: number): void {
    this.stats.offered++;
    const tx = event.transaction_id;
    if (event.withheld) {
      this.stats.withheld++;
    } else if (tx !== null && event.has_next && this.rng.chance(this.settings.reorder_rate)) {
      this.stats.reordered++;
      const list = this.held.get(tx) ?? [];
      list.push(event);
      this.held.set(tx, list);
      return;
    } else {
      this.enqueueNew(event, now_ms);
    }
    // The next event of the transaction releases those held back behind it.
    if (tx !== null) {
      const waiting = this.held.get(tx);
      if (waiting) {
        this.held.delete(tx);
        for (const held_event of waiting) this.enqueueNew(held_event, now_ms);
      }
    }
  }

  private enqueueNew(event: SimEvent, now_ms: number): void {
    let due_ms = now_ms;
    if (this.rng.chance(this.settings.late_rate)) {
      this.stats.late++;
      due_ms += this.rng.duration_ms(this.settings.late_delay_ms);
    }
    this.queue.push({ delivery_no: this.delivery_counter++, event, kind: 'first', attempt: 1, time_ms: due_ms, order: this.order++ });
  }

  /** Earliest due time of a queued delivery, or null. */
  nextDueAt(): number | null {
    return this.queue.peek()?.time_ms ?? null;
  }

  /** Takes the next delivery due at `now_ms`; the caller must `complete` it. */
  takeDue(now_ms: number): Delivery | null {
    const top = this.queue.peek();
    if (!top || top.time_ms > now_ms) return null;
    this.queue.pop();
    this.in_flight_count++;
    this.stats.attempts++;
    return top;
  }

  complete(delivery: Delivery, outcome: DeliveryOutcome, now_ms: number): CompletionResult {
    if (this.in_flight_count <= 0) throw new Error('invariant: complete() without a delivery in flight');
    this.in_flight_count--;
    const status_key = outcome.kind === 'error' ? outcome.error : String(outcome.status);
    this.stats.status_counts[status_key] = (this.stats.status_counts[status_key] ?? 0) + 1;
    const result: CompletionResult = { abandoned: null, first_ack: null };

    if (outcome.kind === 'ack') {
      this.stats.acknowledged++;
      // Duplicates are only scheduled after an ack, so a 'first' delivery's ack is the event's first.
      if (delivery.kind === 'first') {
        this.stats.events_acknowledged++;
        result.first_ack = delivery.event;
      }
      if (delivery.kind === 'first' && this.rng.chance(this.settings.duplicate_rate)) {
        this.stats.duplicates++;
        this.queue.push({
          delivery_no: this.delivery_counter++,
          event: delivery.event,
          kind: 'duplicate',
          attempt: 1,
          time_ms: now_ms + this.rng.duration_ms(this.settings.duplicate_delay_ms),
          order: this.order++,
        });
      }
      return result;
    }

    if (outcome.kind === 'rejected') this.stats.rejected++;
    else this.stats.errors++;
    const retry = this.settings.retry;
    if (delivery.attempt >= retry.attempts_max) {
      // A 'first' delivery is retried only while it was never acknowledged.
      if (delivery.kind === 'first') {
        this.stats.abandoned++;
        result.abandoned = delivery.event;
      }
      return result;
    }
    this.stats.retried++;
    let delay_ms = retryDelay_ms(retry, delivery.attempt, this.rng.float());
    if (outcome.kind === 'rejected' && outcome.retry_after_ms !== null) {
      delay_ms = Math.min(retry.delay_ms_max, Math.max(delay_ms, outcome.retry_after_ms));
    }
    this.queue.push({ ...delivery, attempt: delivery.attempt + 1, time_ms: now_ms + delay_ms, order: this.order++ });
    return result;
  }
}
