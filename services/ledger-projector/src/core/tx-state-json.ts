/**
 * A transaction's state as stored (ledger.transactions.state, JSONB): bigints travel as decimal
 * strings of units. Pure, like the state machine in transaction.ts.
 */
import { formatUnits, parseSignedUnits } from './amount.js';
import type { Position, TxEventType, TxState } from './transaction.js';

/** A TxState as stored: its amounts and position in decimal strings of units. */
export type TxStateJson = Omit<TxState, 'amounts' | 'position'> & {
  amounts: Partial<Record<TxEventType, string>>;
  position: Record<keyof Position, string>;
};

/** The facts (event types seen → amount of their first occurrence) as decimal strings. */
export function factsToJson(amounts: TxState['amounts']): Partial<Record<TxEventType, string>> {
  const out: Partial<Record<TxEventType, string>> = {};
  for (const [type, amount] of Object.entries(amounts) as Array<[TxEventType, bigint | undefined]>) {
    if (amount !== undefined) out[type] = formatUnits(amount);
  }
  return out;
}

export function stateToJson(state: TxState): TxStateJson {
  return {
    ...state,
    amounts: factsToJson(state.amounts),
    position: {
      pending: formatUnits(state.position.pending),
      available: formatUnits(state.position.available),
      held: formatUnits(state.position.held),
    },
  };
}

export function stateFromJson(json: TxStateJson): TxState {
  const amounts: Partial<Record<TxEventType, bigint>> = {};
  for (const [type, amount] of Object.entries(json.amounts) as Array<[TxEventType, string | undefined]>) {
    if (amount !== undefined) amounts[type] = parseSignedUnits(amount);
  }
  return {
    ...json,
    amounts,
    reasons: [...json.reasons],
    anomalies: [...json.anomalies],
    position: {
      pending: parseSignedUnits(json.position.pending),
      available: parseSignedUnits(json.position.available),
      held: parseSignedUnits(json.position.held),
    },
  };
}
