/** Test fixtures: real default rules, names and sanctions list from data/, and event builders. */
import type { CanonicalEvent } from '@tidemark/common';
import type { SanctionsList } from '../core/addresses.js';
import type { NamesList } from '../core/names.js';
import type { Rules } from '../core/rules.js';
import { riskAddresses, type HistoryEntry, type RiskAssessment, type ScreeningContext } from '../core/screen.js';
import { DEFAULT_NAMES_FILE, DEFAULT_RULES_FILE, DEFAULT_SANCTIONS_SOURCE, loadNames, loadRules } from '../reference/rules-source.js';
import { loadSanctionsList } from '../reference/sanctions-source.js';
import { RiskApiClient, type RiskClientOptions } from '../risk/risk-client.js';

export interface Reference {
  rules: Rules;
  names: NamesList;
  sanctions: SanctionsList;
}

export async function loadDefaultReference(): Promise<Reference> {
  return {
    rules: await loadRules(DEFAULT_RULES_FILE),
    names: await loadNames(DEFAULT_NAMES_FILE),
    sanctions: await loadSanctionsList(DEFAULT_SANCTIONS_SOURCE, { now_ms: Date.UTC(2026, 10, 23) }),
  };
}

export const T0_MS = Date.UTC(2026, 10, 23, 10, 0, 0);
/** A counterparty address that is on no list. */
export const CLEAN_BTC_ADDRESS = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq';

let seq = 0;
export function makeEvent(overrides: Partial<CanonicalEvent> = {}): CanonicalEvent {
  seq++;
  return {
    ingress_id: `ing_${seq}`,
    provider: 'generic',
    event_id: `evt_${seq}`,
    event_type: 'deposit.confirmed',
    occurred_at_ms: T0_MS,
    received_at_ms: T0_MS + 50,
    partition_key: 'wal_1',
    transaction_id: `tx_${seq}`,
    wallet_id: 'wal_1',
    customer_id: null,
    asset: 'USDT',
    network: 'ethereum',
    amount: '100',
    tx_hash: null,
    from_address: CLEAN_BTC_ADDRESS,
    to_address: null,
    confirmations: 3,
    counterparty_name: 'ACME GmbH',
    counterparty_country: 'DE',
    kyc_status: null,
    source: 'WEBHOOK',
    body_sha256: '0'.repeat(64),
    ...overrides,
  };
}

/** Low risk scores for every address the event needs scored. */
export function lowRisk(event: CanonicalEvent, risk_score = '1.00'): RiskAssessment[] {
  return riskAddresses(event).map((address) => ({ address, status: 'scored' as const, risk_score, category: 'exchange' }));
}

export function makeContext(ref: Reference, event: CanonicalEvent, overrides: Partial<ScreeningContext> = {}): ScreeningContext {
  return {
    rules: ref.rules,
    sanctions: ref.sanctions,
    names: ref.names,
    history: [],
    history_truncated: false,
    risk: lowRisk(event),
    screened_at_ms: T0_MS + 100,
    ...overrides,
  };
}

export function historyEntry(overrides: Partial<HistoryEntry> & { occurred_at_ms: number }): HistoryEntry {
  seq++;
  return { provider: 'generic', event_id: `hist_evt_${seq}`, transaction_id: `hist_tx_${seq}`, amount_ref: '100', ...overrides };
}

/** A client of the fake risk API at `base_url`, uncached, with the timeout and breaker settings a test needs. */
export function testRiskClient(
  base_url: string,
  opts: Pick<RiskClientOptions, 'timeout_ms' | 'breaker_volume_threshold' | 'breaker_reset_ms' | 'cache_entries_max'>,
): RiskApiClient {
  return new RiskApiClient({ base_url, breaker_error_threshold_pct: 50, breaker_rolling_window_ms: 10_000, cache_ttl_ms: 0, ...opts });
}
