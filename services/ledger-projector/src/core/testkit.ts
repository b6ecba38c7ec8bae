/**
 * Helpers for the core's tests: build events and replay postings into account balances.
 * (Test support only; not exported from the package.)
 */
import { accountId } from './accounts.js';
import { parseAmount } from './amount.js';
import {
  type Decision,
  type Posting,
  type ScreeningInput,
  type TxEvent,
  type TxEventType,
  type TxState,
  applyEvent,
} from './transaction.js';

export function ev(event_type: TxEventType, amount: string, over: Partial<Omit<TxEvent, 'amount_units' | 'event_type'>> = {}): TxEvent {
  return {
    provider: 'generic',
    event_id: `${over.transaction_id ?? 'tx_1'}:${event_type}`,
    transaction_id: 'tx_1',
    wallet_id: 'wal_42',
    asset: 'BTC',
    ...over,
    event_type,
    amount_units: parseAmount(amount),
  };
}

export function screen(decision: Decision = 'ALLOW'): ScreeningInput {
  return {
    decision,
    reasons: decision === 'ALLOW' ? [] : [{ code: 'AMOUNT_THRESHOLD', rule_id: 'amount-btc', outcome: decision, message: 'large' }],
  };
}

/** Account balances (debit-positive) accumulated from postings. */
export class AccountBook {
  readonly balances = new Map<string, bigint>();
  readonly perAsset = new Map<string, bigint>();

  post(postings: Posting[]): void {
    for (const p of postings) {
      const d = accountId(p.debit);
      const c = accountId(p.credit);
      this.balances.set(d, (this.balances.get(d) ?? 0n) + p.amount_units);
      this.balances.set(c, (this.balances.get(c) ?? 0n) - p.amount_units);
    }
  }

  get(id: string): bigint {
    return this.balances.get(id) ?? 0n;
  }

  /** Sum over all accounts of one asset (must always be zero). */
  assetSum(asset: string): bigint {
    let sum = 0n;
    for (const [id, v] of this.balances)
      if (id.endsWith(`/${encodeURIComponent(asset)}`) || id.includes(`/${encodeURIComponent(asset)}/`)) sum += v;
    return sum;
  }

  /** Non-zero balances only, as plain strings (for deep equality). */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [id, v] of [...this.balances].sort(([a], [b]) => a.localeCompare(b))) if (v !== 0n) out[id] = v.toString();
    return out;
  }
}

export interface Delivery {
  event: TxEvent;
  screening: ScreeningInput;
}

/** Replays `steps` (event type, amount) of tx_1 in this order, each screened ALLOW. */
export function replayScreened(...steps: Array<[event_type: TxEventType, amount: string]>): ReturnType<typeof replay> {
  return replay(steps.map(([event_type, amount]) => ({ event: ev(event_type, amount), screening: screen() })));
}

/** Applies deliveries in the given order, keeping one state per transaction; `afterEach` sees the book after every delivery. */
export function replay(
  deliveries: Delivery[],
  afterEach: (book: AccountBook) => void = () => undefined,
): { book: AccountBook; states: Map<string, TxState> } {
  const book = new AccountBook();
  const states = new Map<string, TxState>();
  for (const d of deliveries) {
    const key = `${d.event.provider}\u0000${d.event.transaction_id}`;
    const { newState, postings } = applyEvent(states.get(key) ?? null, d.event, d.screening);
    states.set(key, newState);
    book.post(postings);
    afterEach(book);
  }
  return { book, states };
}
