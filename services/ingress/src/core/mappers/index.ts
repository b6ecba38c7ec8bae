import type { DeliveryFacts, MapResult } from '../canonical.js';
import { mapCustodianX } from './custodian-x.js';
import { mapGeneric } from './generic.js';
import { mapLedgerpay } from './ledgerpay.js';

export type Mapper = (value: unknown, delivery: DeliveryFacts) => MapResult;

/** Mapper ids a provider profile may name. */
export const MAPPERS: Readonly<Record<string, Mapper>> = {
  generic: mapGeneric,
  ledgerpay: mapLedgerpay,
  'custodian-x': mapCustodianX,
};

export { mapGeneric, mapLedgerpay, mapCustodianX };
export { LEDGERPAY_EVENT_TYPES } from './ledgerpay.js';
export { CUSTODIAN_X_TRANSFER_TYPES } from './custodian-x.js';
