// Generated from schemas/avro by packages/common/src/schemas/codegen.ts. Do not edit.
/* eslint-disable */

/** One thing a stage did with one event or request. Long retention, never compacted. Never contains secrets, signatures or raw bodies of rejected requests. */
export interface AuditRecord {
  /** Unique id (deterministic where the action is replayable: '<stage>:<action>:<provider>:<event_id>'). */
  audit_id: string;
  /** When it happened. */
  at_ms: number;
  /** Service: ingress, dedupe, compliance-screening, ledger-projector, reconciler, operator. */
  stage: string;
  /** What happened, e.g. 'accepted', 'rejected', 'duplicate', 'passed', 'screened', 'projected', 'retried', 'dead_lettered', 'replayed', 'released', 'healed'. */
  action: string;
  /** Provider profile id, where known. */
  provider: null | string;
  /** Provider event id, where known. */
  event_id: null | string;
  /** Event type, where known. */
  event_type: null | string;
  /** Partition key (wallet or customer id), where known. */
  key: null | string;
  /** Machine-readable reason for a rejection or failure. */
  reason: null | string;
  /** Further non-secret facts (source_ip, body_sha256, status, decision, attempts...). */
  details: Record<string, string>;
  /** OpenTelemetry trace id. */
  trace_id: null | string;
}

export type AlertSeverity = "REVIEW" | "BLOCK";
export const AlertSeverityValues = ["REVIEW", "BLOCK"] as const;

/** A REVIEW or BLOCK decision for case management. */
export interface ComplianceAlert {
  /** Deterministic id: 'alert:<provider>:<event_id>'. */
  alert_id: string;
  /** Severity equals the decision. */
  severity: AlertSeverity;
  /** The screened event. */
  event: CanonicalEvent;
  /** The full decision with reasons. */
  screening: ScreeningDecision;
}

export type Decision = "ALLOW" | "REVIEW" | "BLOCK";
export const DecisionValues = ["ALLOW", "REVIEW", "BLOCK"] as const;

/** Outcome of screening one event. */
export interface ScreeningDecision {
  /** ALLOW passes; REVIEW holds funds for a compliance officer; BLOCK holds funds and raises a case. */
  decision: Decision;
  /** Machine-readable reasons; empty for a clean ALLOW. */
  reasons: Array<ScreeningReason>;
  /** Version (content hash and load time) of the sanctioned-address list used. */
  sanctions_list_version: string;
  /** Version of the rules file used. */
  rules_version: string;
  /** When the decision was made. */
  screened_at_ms: number;
}

export interface ScreeningReason {
  /** Reason code, e.g. 'SANCTIONED_ADDRESS', 'SANCTIONED_NAME', 'AMOUNT_THRESHOLD', 'VELOCITY', 'STRUCTURING', 'TRAVEL_RULE_INCOMPLETE', 'HIGH_RISK_JURISDICTION', 'RISK_SCORE'. */
  code: string;
  /** Id of the rule or list that produced the reason. */
  rule_id: string;
  /** Decision this reason alone asks for. */
  outcome: Decision;
  /** Human-readable explanation. */
  message: string;
  /** The value that matched (address, name, amount). */
  matched_value: null | string;
  /** Match or risk score as a decimal string, where the rule scores. */
  score: null | string;
  /** Version of the list the match came from. */
  list_version: null | string;
}

/** A provider webhook, verified by ingress and normalized to Tidemark's canonical shape. Money is a decimal string, never a float. */
export interface CanonicalEvent {
  /** Id ingress gave this delivery (UUIDv7). Differs between redeliveries of the same provider event. */
  ingress_id: string;
  /** Provider profile id, e.g. 'generic'. */
  provider: string;
  /** The provider's event id; stable across redeliveries. (provider, event_id) is the dedupe key. */
  event_id: string;
  /** Canonical event type, e.g. 'deposit.confirmed'. Unknown types are carried as received and are not projected. */
  event_type: string;
  /** When the provider says the event happened. */
  occurred_at_ms: number;
  /** When ingress accepted the request. */
  received_at_ms: number;
  /** Kafka key: wallet id, or customer id for events without a wallet. */
  partition_key: string;
  /** Provider transaction id; null for non-transaction events (KYC). */
  transaction_id: null | string;
  /** Wallet the event belongs to. */
  wallet_id: null | string;
  /** Customer the event belongs to (KYC events, and wallets' owners where known). */
  customer_id: null | string;
  /** Asset symbol, e.g. 'BTC', upper case. */
  asset: null | string;
  /** Chain / network, e.g. 'bitcoin', 'ethereum'. */
  network: null | string;
  /** Decimal string, up to 78 significant digits and 18 decimals, non-negative. Never a float. */
  amount: null | string;
  /** On-chain transaction hash. */
  tx_hash: null | string;
  /** Source address as sent by the provider. */
  from_address: null | string;
  /** Destination address as sent by the provider. */
  to_address: null | string;
  /** Block confirmations reported with the event. */
  confirmations: null | number;
  /** Counterparty's name (travel-rule originator/beneficiary). */
  counterparty_name: null | string;
  /** Counterparty's ISO 3166-1 alpha-2 country. */
  counterparty_country: null | string;
  /** New KYC status for kyc.status_changed events. */
  kyc_status: null | string;
  /** Where the event entered Tidemark: a provider webhook, a reconciler heal, or an operator replay. */
  source: EventSource;
  /** Hex SHA-256 of the raw request body (evidence; the body itself is not stored here). */
  body_sha256: string;
}

export type EventSource = "WEBHOOK" | "RECONCILIATION" | "REPLAY";
export const EventSourceValues = ["WEBHOOK", "RECONCILIATION", "REPLAY"] as const;

/** A unique event together with its compliance screening decision. Read by ledger-projector and downstream teams. */
export interface ScreenedEvent {
  /** The event as deduplicated. */
  event: CanonicalEvent;
  /** The screening decision. */
  screening: ScreeningDecision;
}

/** Balance of one (wallet, asset) after a change. Amounts are decimal strings. */
export interface BalanceChanged {
  /** Wallet id (also the Kafka key). */
  wallet_id: string;
  /** Asset symbol. */
  asset: string;
  /** Pending bucket, decimal string. */
  pending: string;
  /** Available bucket, decimal string. */
  available: string;
  /** Held bucket, decimal string. */
  held: string;
  /** Monotonic version of this (wallet, asset) balance; consumers keep the highest. */
  version: number;
  /** Provider of the event that caused the change. */
  provider: string;
  /** Provider event id that caused the change. */
  event_id: string;
  /** Provider transaction id that caused the change. */
  transaction_id: null | string;
  /** When the ledger committed the change. */
  changed_at_ms: number;
}

/** One difference between the ledger and a provider's records, or inside the platform. */
export interface Discrepancy {
  /** Reconciler run that found it. */
  run_id: string;
  /** Provider profile id. */
  provider: string;
  /** What kind of difference. */
  kind: DiscrepancyKind;
  /** Provider transaction id, where the discrepancy concerns one. */
  transaction_id: null | string;
  /** Wallet id (also the Kafka key). */
  wallet_id: null | string;
  /** Asset, where relevant. */
  asset: null | string;
  /** The ledger's side (amount, status or balance) as a string. */
  ledger_value: null | string;
  /** The provider's side as a string. */
  provider_value: null | string;
  /** Human-readable explanation. */
  detail: string;
  /** When the run found it. */
  detected_at_ms: number;
}

export type DiscrepancyKind = "missing_in_ledger" | "missing_at_provider" | "amount_mismatch" | "status_mismatch" | "balance_mismatch" | "not_conserved" | "stuck_in_retry";
export const DiscrepancyKindValues = ["missing_in_ledger", "missing_at_provider", "amount_mismatch", "status_mismatch", "balance_mismatch", "not_conserved", "stuck_in_retry"] as const;

/** A record a service gave up on, with everything needed to inspect and replay it. Written to <service>.dlq. */
export interface DeadLetter {
  /** Service that gave up. */
  service: string;
  /** Topic the record was first read from. */
  original_topic: string;
  /** Its partition. */
  original_partition: number;
  /** Its offset (decimal string; Kafka offsets are 64-bit). */
  original_offset: string;
  /** Record key. */
  key: null | string;
  /** Original record value bytes, unchanged (Confluent wire format when it was Avro). */
  payload: Buffer;
  /** Original record headers (string-valued). */
  headers: Record<string, string>;
  /** TRANSIENT: retries exhausted. PERMANENT: handler refused it. POISON: could not be decoded. */
  error_class: ErrorClass;
  /** Last error message. */
  error_message: string;
  /** Truncated stack trace of the last error. */
  error_stack: null | string;
  /** How many times processing was attempted. */
  attempts: number;
  /** First failure. */
  first_failure_at_ms: number;
  /** Last failure. */
  last_failure_at_ms: number;
  /** W3C trace context of the original record. */
  traceparent: null | string;
}

export type ErrorClass = "TRANSIENT" | "PERMANENT" | "POISON";
export const ErrorClassValues = ["TRANSIENT", "PERMANENT", "POISON"] as const;

