import { describe, expect, it } from 'vitest';
import { loadSanctionsSnapshot } from '../adapters/files.js';
import { DeliveryScheduler, retryDelay_ms, type Delivery, type DeliveryOutcome } from './delivery.js';
import { ReferenceLedger } from './effects.js';
import { ScenarioGenerator, type Generated } from './generate.js';
import type { SimEvent } from './model.js';
import { Rng } from './rng.js';
import { parseScenario, type DeliverySettings, type ScenarioInput } from './scenario.js';
import { GroundTruth, expectedOrAllow, ledgerEventOf } from './truth.js';

const sanctions = loadSanctionsSnapshot();

function settings(overrides: Partial<ScenarioInput['delivery']> = {}): DeliverySettings {
  return parseScenario({ name: 'd', delivery: { duplicate_rate: 0, reorder_rate: 0, late_rate: 0, ...overrides } }).delivery;
}

function event(id: string, tx: string | null, has_next: boolean, extra: Partial<SimEvent> = {}): SimEvent {
  return { id, transaction_id: tx, has_next, withheld: false, provider: 'generic', type: 'deposit.detected', ...extra } as SimEvent;
}

describe('retry backoff', () => {
  const retry = settings().retry;
  it('grows exponentially from delay_ms_min, capped at delay_ms_max, jitter within ±jitter', () => {
    expect(retryDelay_ms({ ...retry, jitter: 0 }, 1, 0.5)).toBe(200);
    expect(retryDelay_ms({ ...retry, jitter: 0 }, 2, 0.5)).toBe(400);
    expect(retryDelay_ms({ ...retry, jitter: 0 }, 5, 0.5)).toBe(3_200);
    expect(retryDelay_ms({ ...retry, jitter: 0 }, 30, 0.5)).toBe(30_000);
    expect(retryDelay_ms(retry, 1, 0)).toBe(160);
    expect(retryDelay_ms(retry, 1, 0.999999)).toBe(240);
    expect(retryDelay_ms(retry, 40, 0.999999)).toBe(30_000);
  });
});

describe('delivery scheduler', () => {
  it('retries every non-2xx and error with backoff, honours Retry-After, gives up after attempts_max', () => {
    const s = new DeliveryScheduler(
      settings({ retry: { attempts_max: 4, delay_ms_min: 100, delay_ms_max: 10_000, factor: 2, jitter: 0 } }),
      1,
    );
    s.offer(event('e1', null, false), 0);
    const outcomes: DeliveryOutcome[] = [
      { kind: 'rejected', status: 500, retry_after_ms: null },
      { kind: 'error', error: 'timeout' },
      { kind: 'rejected', status: 503, retry_after_ms: 5_000 },
      { kind: 'rejected', status: 401, retry_after_ms: null },
    ];
    let now = 0;
    const due: number[] = [];
    let abandoned: SimEvent | null = null;
    for (const outcome of outcomes) {
      if (now > 0) expect(s.takeDue(now - 1)).toBeNull();
      const d = s.takeDue(now)!;
      expect(d.event.id).toBe('e1');
      due.push(now);
      abandoned = s.complete(d, outcome, now).abandoned;
      now = s.nextDueAt() ?? now;
    }
    expect(due).toEqual([0, 100, 300, 5_300]);
    expect(abandoned?.id).toBe('e1');
    expect(s.idle).toBe(true);
    expect(s.stats).toMatchObject({ attempts: 4, rejected: 3, errors: 1, retried: 3, abandoned: 1, acknowledged: 0 });
  });

  it('redelivers acknowledged events as duplicates, only once per first delivery', () => {
    const s = new DeliveryScheduler(settings({ duplicate_rate: 1, duplicate_delay_ms: [10, 10] }), 1);
    s.offer(event('e1', null, false), 0);
    const first = s.takeDue(0)!;
    expect(s.complete(first, { kind: 'ack', status: 202 }, 0).first_ack?.id).toBe('e1');
    expect(s.takeDue(9)).toBeNull();
    const dup = s.takeDue(10)!;
    expect(dup.kind).toBe('duplicate');
    expect(s.complete(dup, { kind: 'ack', status: 202 }, 10).first_ack).toBeNull();
    expect(s.idle).toBe(true);
    expect(s.stats).toMatchObject({ acknowledged: 2, duplicates: 1, events_acknowledged: 1 });
  });

  it('holds reordered events until the next event of the same transaction has been queued', () => {
    const s = new DeliveryScheduler(settings({ reorder_rate: 1 }), 1);
    s.offer(event('a1', 'txA', true), 0);
    s.offer(event('b1', 'txB', false), 0);
    s.offer(event('a2', 'txA', true), 0);
    expect(s.queued).toBe(3);
    s.offer(event('a3', 'txA', false), 0); // last event: never held, releases a1 and a2 behind it
    const order: string[] = [];
    for (let d = s.takeDue(0); d; d = s.takeDue(0)) {
      order.push(d.event.id);
      s.complete(d, { kind: 'ack', status: 202 }, 0);
    }
    expect(order).toEqual(['b1', 'a3', 'a1', 'a2']);
    expect(s.stats.reordered).toBe(2);
  });

  it('withheld events are never sent but still release held ones', () => {
    const s = new DeliveryScheduler(settings({ reorder_rate: 1 }), 1);
    s.offer(event('a1', 'txA', true), 0);
    s.offer(event('a2', 'txA', false, { withheld: true }), 0);
    const d = s.takeDue(0)!;
    expect(d.event.id).toBe('a1');
    s.complete(d, { kind: 'ack', status: 202 }, 0);
    expect(s.takeDue(0)).toBeNull();
    expect(s.idle).toBe(true);
    expect(s.stats.withheld).toBe(1);
  });

  it('late events are due later', () => {
    const s = new DeliveryScheduler(settings({ late_rate: 1, late_delay_ms: [500, 500] }), 1);
    s.offer(event('e1', null, false), 1_000);
    expect(s.takeDue(1_499)).toBeNull();
    expect(s.takeDue(1_500)?.event.id).toBe('e1');
  });
});

describe('provider misbehaviour does not change what a correct ledger ends with', () => {
  it('a full run with duplicates, reordering, lateness and flaky acks ends at the ground truth', () => {
    const scenario = parseScenario({
      name: 'flaky',
      seed: 3,
      world: { customers: 8, providers: { generic: 1 } },
      traffic: { transactions: 600, transactions_per_s: 50 },
      lifecycle: { detected_updates_max: 2, deposit_reversal_rate: 0.1, withdrawal_fail_rate: 0.2 },
      compliance: { sanctioned_rate: 0.1, high_risk_country_rate: 0.1 },
      delivery: {
        duplicate_rate: 0.4,
        reorder_rate: 0.4,
        late_rate: 0.2,
        late_delay_ms: [0, 5_000],
        retry: { attempts_max: 50, delay_ms_min: 10, delay_ms_max: 2_000 },
      },
    });
    const generator = new ScenarioGenerator(scenario, { start_ms: 0, namespace: 'fl', sanctions });
    const scheduler = new DeliveryScheduler(scenario.delivery, scenario.seed);
    const truth = new GroundTruth();
    const receiver_rng = new Rng(99);
    const txOf = new Map<string, Generated['transaction']>();
    const ledger = new ReferenceLedger((id) => expectedOrAllow(truth.transaction('generic', id)!.tx));
    const arrivals: string[] = [];

    // Discrete-time simulation: 1 ms steps; the receiver acks 70 %, answers 500 15 %, times out 15 %.
    let now = 0;
    let in_flight: { d: Delivery; at: number }[] = [];
    for (let step = 0; step < 2_000_000 && !(generator.done && scheduler.idle); step++) {
      // One new event per millisecond.
      const g = generator.next();
      if (g) {
        truth.record(g);
        txOf.set(g.event.id, g.transaction);
        scheduler.offer(g.event, now);
      }
      for (let d = scheduler.takeDue(now); d; d = in_flight.length < 8 ? scheduler.takeDue(now) : null)
        in_flight.push({ d, at: now + receiver_rng.int(0, 5) });
      const landing = in_flight.filter((f) => f.at <= now);
      in_flight = in_flight.filter((f) => f.at > now);
      for (const { d } of landing) {
        const roll = receiver_rng.float();
        // A timeout after the receiver durably took the event is still an arrival (at-least-once).
        if (roll < 0.85) {
          arrivals.push(d.event.id);
          ledger.apply(ledgerEventOf(d.event, txOf.get(d.event.id) ?? null));
        }
        const outcome: DeliveryOutcome =
          roll < 0.7
            ? { kind: 'ack', status: 202 }
            : roll < 0.85
              ? { kind: 'error', error: 'timeout' }
              : { kind: 'rejected', status: 500, retry_after_ms: null };
        const r = scheduler.complete(d, outcome, now);
        if (r.first_ack) truth.markAcknowledged(r.first_ack.id);
        if (r.abandoned) truth.markAbandoned(r.abandoned.id);
      }
      now++;
    }
    expect(generator.done && scheduler.idle).toBe(true);
    expect(scheduler.stats.abandoned).toBe(0);

    // The receiver saw duplicates and out-of-order events...
    expect(arrivals.length).toBeGreaterThan(new Set(arrivals).size * 1.2);
    const seqOf = new Map<string, number>();
    for (const { event } of truth.transactions().flatMap((r) => r.events.map((e) => ({ event: e }))))
      seqOf.set(event.id, event.occurred_at_ms);
    let inversions = 0;
    const first_seen = [...new Set(arrivals)];
    for (let i = 1; i < first_seen.length; i++) if (seqOf.get(first_seen[i]!)! < seqOf.get(first_seen[i - 1]!)!) inversions++;
    expect(inversions).toBeGreaterThan(50);

    // ...and still ends exactly at the truth.
    for (const wallet of truth.balances({ decide: expectedOrAllow })) {
      for (const line of wallet.balances) {
        const b = ledger.buckets(line.wallet_id, line.asset);
        expect(`${b.pending}/${b.available}/${b.held}`, `${line.wallet_id} ${line.asset}`).toBe(
          `${line.units.pending}/${line.units.available}/${line.units.held}`,
        );
      }
    }
  });
});
