/** Builds audit.v1 records. Never put secrets, signatures or raw rejected bodies in one. */
import { randomUUID } from 'node:crypto';
import type { AuditRecord } from './generated/records.js';
import { currentTraceId } from './telemetry.js';

export interface AuditInput {
  stage: string;
  action: string;
  audit_id?: string;
  provider?: string | null;
  event_id?: string | null;
  event_type?: string | null;
  key?: string | null;
  reason?: string | null;
  details?: Record<string, string>;
  trace_id?: string | null;
  at_ms?: number;
}

export function buildAudit(input: AuditInput): AuditRecord {
  return {
    audit_id: input.audit_id ?? `${input.stage}:${input.action}:${randomUUID()}`,
    at_ms: input.at_ms ?? Date.now(),
    stage: input.stage,
    action: input.action,
    provider: input.provider ?? null,
    event_id: input.event_id ?? null,
    event_type: input.event_type ?? null,
    key: input.key ?? null,
    reason: input.reason ?? null,
    details: input.details ?? {},
    trace_id: input.trace_id ?? currentTraceId(),
  };
}

/** Kafka key of an audit record: `provider:event_id` when known, else the audit id. */
export function auditKey(record: AuditRecord): string {
  return record.provider && record.event_id ? `${record.provider}:${record.event_id}` : record.audit_id;
}
