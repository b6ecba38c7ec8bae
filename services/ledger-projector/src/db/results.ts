/**
 * Handler results of the projection and their stored form: what one projected event
 * publishes (BalanceChanged records, its audit note), the `ledger.processed_events` row
 * that remembers it, and the rebuild of exactly the same result from that row when a
 * redelivered event is replayed. Mapping only; the SQL is in statements.ts.
 */
import type { AuditNote, HandlerResult, OutputRecord } from '@tidemark/stream';
import type { RecordProjection } from '../core/batch.js';
import type { EventMeta } from '../core/validate.js';
import { LEDGER_BALANCES_TOPIC } from '../topics.js';

function auditNoteOf(p: RecordProjection): AuditNote {
  const m = p.meta;
  const details: Record<string, string> = { outcome: p.outcome, decision: m.decision };
  if (m.transaction_id) details.transaction_id = m.transaction_id;
  if (p.status) details.status = p.status;
  details.postings = String(p.postings_count);
  const change = p.balance_changes[0];
  if (change) details.balance_version = String(change.version);
  if (p.anomalies.length > 0) details.anomalies = p.anomalies.join(';').slice(0, 1000);
  const unknown = p.outcome === 'unknown_type';
  return {
    action: unknown ? 'rejected' : 'projected',
    provider: m.provider,
    event_id: m.event_id,
    event_type: m.event_type,
    key: m.partition_key,
    reason: unknown ? 'unknown_event_type' : null,
    details,
  };
}

export function resultOf(p: RecordProjection): HandlerResult {
  const outputs: OutputRecord[] = p.balance_changes.map((value) => ({ topic: LEDGER_BALANCES_TOPIC, key: value.wallet_id, value }));
  return { outputs, audit: [auditNoteOf(p)] };
}

/** Columns of ledger.processed_events a handler result is rebuilt from. */
export interface ProcessedRow {
  provider: string;
  event_id: string;
  event_type: string;
  transaction_id: string | null;
  wallet_id: string | null;
  partition_key: string;
  asset: string | null;
  decision: string;
  outcome: string;
  status_after: string | null;
  postings_count: number;
  anomalies: string | null;
  balance_pending: string | null;
  balance_available: string | null;
  balance_held: string | null;
  balance_version: string | null;
  changed_at_ms: string | null;
}

/** Rebuilds exactly the result `resultOf` returned when the event was first projected. */
export function resultFromRow(row: ProcessedRow): HandlerResult {
  const balance_changes =
    row.balance_version === null
      ? []
      : [
          {
            wallet_id: row.wallet_id ?? '',
            asset: row.asset ?? '',
            pending: row.balance_pending ?? '0',
            available: row.balance_available ?? '0',
            held: row.balance_held ?? '0',
            version: Number(row.balance_version),
            provider: row.provider,
            event_id: row.event_id,
            transaction_id: row.transaction_id,
            changed_at_ms: Number(row.changed_at_ms),
          },
        ];
  return resultOf({
    meta: {
      provider: row.provider,
      event_id: row.event_id,
      event_type: row.event_type,
      partition_key: row.partition_key,
      transaction_id: row.transaction_id,
      wallet_id: row.wallet_id,
      asset: row.asset,
      amount: null,
      occurred_at_ms: 0,
      received_at_ms: 0,
      source: '',
      decision: row.decision as EventMeta['decision'],
      reasons: [],
    },
    outcome: row.outcome as RecordProjection['outcome'],
    balance_changes,
    status: row.status_after as RecordProjection['status'],
    postings_count: row.postings_count,
    anomalies: row.anomalies ? row.anomalies.split(';') : [],
  });
}

export interface ProcessedInsert {
  meta: EventMeta;
  outcome: string;
  status: string | null;
  postings_count: number;
  anomalies: string[];
  balance: { pending: string; available: string; held: string; version: number; changed_at_ms: number } | null;
}

export function processedInsertOf(p: RecordProjection): ProcessedInsert {
  const change = p.balance_changes[0];
  return {
    meta: p.meta,
    outcome: p.outcome,
    status: p.status,
    postings_count: p.postings_count,
    anomalies: p.anomalies,
    balance: change
      ? {
          pending: change.pending,
          available: change.available,
          held: change.held,
          version: change.version,
          changed_at_ms: change.changed_at_ms,
        }
      : null,
  };
}
