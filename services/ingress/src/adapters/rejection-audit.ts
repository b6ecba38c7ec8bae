/**
 * The audit trail of rejected requests (DESIGN 3.1): every rejection — by the core, by a
 * limit, by Kafka being unavailable, or at the protocol level — becomes one `rejected`
 * audit record, written detached (the answer never waits for it; a full queue drops and counts).
 */
import { auditKey, buildAudit, type Logger } from '@tidemark/common';
import type { BatchWriter } from './batch-writer.js';
import type { RecordEncoder } from './http-server.js';
import type { IngressMetrics } from './metrics.js';

const STAGE = 'ingress';

/** A rejection as audited: the core's codes plus the adapter's own (overloaded, kafka_unavailable, ...). */
export interface AuditedRejection {
  status: number;
  error: string;
  event_id?: string;
  event_type?: string;
}

export interface RejectionInput {
  provider: string | null;
  rejection: AuditedRejection;
  source_ip: string;
  request_id: string;
  body_sha256?: string;
  body_bytes?: number;
  trace_id: string | null;
}

export type AuditRejection = (input: RejectionInput) => void;

export function createRejectionAudit(deps: {
  encoder: RecordEncoder;
  writer: BatchWriter;
  logger: Logger;
  ingress_metrics: IngressMetrics;
}): AuditRejection {
  const { encoder, writer, logger, ingress_metrics: im } = deps;
  return (input) => {
    const details: Record<string, string> = {
      status: String(input.rejection.status),
      source_ip: input.source_ip,
      request_id: input.request_id,
    };
    if (input.body_sha256 !== undefined) details.body_sha256 = input.body_sha256;
    if (input.body_bytes !== undefined) details.body_bytes = String(input.body_bytes);
    const record = buildAudit({
      stage: STAGE,
      action: 'rejected',
      audit_id: `${STAGE}:rejected:${input.request_id}`,
      provider: input.provider,
      event_id: input.rejection.event_id ?? null,
      event_type: input.rejection.event_type ?? null,
      reason: input.rejection.error,
      details,
      trace_id: input.trace_id,
    });
    encoder.encodeAudit(record).then(
      (value) => writer.writeDetached({ topic: encoder.audit_topic, message: { key: auditKey(record), value } }),
      (error: unknown) => {
        im.auditDropped(1);
        logger.error(
          { err: { message: (error as Error).message }, request_id: input.request_id },
          'could not encode the audit record of a rejected request',
        );
      },
    );
  };
}
