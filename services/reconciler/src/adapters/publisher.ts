/**
 * Everything a run writes to Kafka, Avro-encoded through the registry with the
 * idempotent producer (acks=all): one Discrepancy per finding on
 * reconciliation.discrepancies.v1 (key: wallet id), heal events on webhooks.received.v1
 * (key: wallet id, the normal pipeline's entry after ingress verification), and audit
 * records on audit.v1. Writes are buffered and flushed in bounded batches.
 */
import type { Producer } from 'kafkajs';
import {
  type AuditRecord,
  type AvroCodec,
  type CanonicalEvent,
  type Discrepancy,
  auditKey,
  buildAudit,
  injectTraceHeaders,
  SpanKind,
  topicName,
  withSpan,
} from '@tidemark/common';
import type { Finding } from '../core/model.js';

export const DISCREPANCIES_TOPIC = 'reconciliation.discrepancies.v1';
export const HEAL_TOPIC = 'webhooks.received.v1';
export const AUDIT_TOPIC = 'audit.v1';
export const STAGE = 'reconciler';
/** Records buffered before a flush. */
export const PUBLISH_BATCH_MAX = 500;

interface Pending {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export class Publisher {
  private buffer: Pending[] = [];
  published = { discrepancies: 0, heal_events: 0, audit: 0 };

  constructor(
    private readonly producer: Producer,
    private readonly codec: AvroCodec,
    private readonly prefix: string,
    private readonly ack_timeout_ms: number,
  ) {}

  async discrepancy(run: { run_id: string; provider: string; detected_at_ms: number }, f: Finding): Promise<void> {
    const value: Discrepancy = {
      run_id: run.run_id,
      provider: run.provider,
      kind: f.kind,
      transaction_id: f.transaction_id,
      wallet_id: f.wallet_id,
      asset: f.asset,
      ledger_value: f.ledger_value,
      provider_value: f.provider_value,
      detail: f.detail,
      detected_at_ms: run.detected_at_ms,
    };
    // Key: the wallet id (DESIGN 2); conservation findings may not know one, then the event key.
    const key = f.wallet_id ?? f.event_key ?? `${run.provider}:${run.run_id}`;
    await this.push(DISCREPANCIES_TOPIC, key, await this.codec.encode(DISCREPANCIES_TOPIC, value));
    this.published.discrepancies += 1;
  }

  /** A heal event and its `healed` audit record (the entry the conservation check counts). */
  async heal(event: CanonicalEvent, run_id: string): Promise<void> {
    // Each injected event gets its own span (child of the run's), whose context travels in the headers.
    const headers = await withSpan(
      'reconcile.heal',
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'tidemark.event_id': event.event_id,
          'tidemark.transaction_id': event.transaction_id ?? '',
          'tidemark.run_id': run_id,
        },
      },
      async () => injectTraceHeaders({}),
    );
    await this.push(HEAL_TOPIC, event.partition_key, await this.codec.encode(HEAL_TOPIC, event), headers);
    this.published.heal_events += 1;
    await this.audit(
      buildAudit({
        stage: STAGE,
        action: 'healed',
        audit_id: `${STAGE}:healed:${event.provider}:${event.event_id}:${run_id}`,
        provider: event.provider,
        event_id: event.event_id,
        event_type: event.event_type,
        key: event.partition_key,
        details: {
          run_id,
          transaction_id: event.transaction_id ?? '',
          amount: event.amount ?? '',
          source: event.source,
          ingress_id: event.ingress_id,
        },
      }),
    );
  }

  async audit(record: AuditRecord): Promise<void> {
    await this.push(AUDIT_TOPIC, auditKey(record), await this.codec.encode(AUDIT_TOPIC, record));
    this.published.audit += 1;
  }

  private async push(base: string, key: string, value: Buffer, headers: Record<string, string> = {}): Promise<void> {
    this.buffer.push({ topic: topicName(base, this.prefix), key, value, headers });
    if (this.buffer.length >= PUBLISH_BATCH_MAX) await this.flush();
  }

  /** Drops what a failed run buffered, so the next scheduled run does not publish it. */
  discard(): void {
    this.buffer = [];
  }

  /** Sends everything buffered, acks=all; throws when the cluster does not acknowledge. */
  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    const byTopic = new Map<string, Array<{ key: string; value: Buffer; headers: Record<string, string> }>>();
    for (const p of batch) {
      const list = byTopic.get(p.topic) ?? [];
      list.push({ key: p.key, value: p.value, headers: p.headers });
      byTopic.set(p.topic, list);
    }
    await this.producer.sendBatch({
      acks: -1,
      timeout: this.ack_timeout_ms,
      topicMessages: [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages })),
    });
  }
}
