/**
 * The contract between the shared stream runtime and a consuming service.
 *
 * A service is a handler: given input records (already decoded, in per-key order),
 * it performs its idempotent side effects and returns the records to publish. The
 * runtime owns everything else: consuming, per-key ordering, the retry ladder and
 * parking, dead letters, exactly-once publication (Kafka transactions: outputs +
 * input offsets commit atomically), trace context, metrics and audit.
 *
 * Exactly-once effect rests on two rules:
 *  1. Outputs are only visible once the runtime commits the Kafka transaction that
 *     also commits the input offsets (downstream reads with read_committed).
 *  2. Any side effect a handler makes outside Kafka (Postgres writes) must be
 *     idempotent and deterministic for the same input record: after a crash the
 *     runtime re-delivers records whose transaction did not commit, and the handler
 *     must then return the same outputs without applying the effect twice.
 */

import type { AuditInput } from '@tidemark/common';

/** Where a record was first read from (stays the same as it moves through the ladder). */
export interface SourceCoordinates {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (64-bit). */
  offset: string;
}

export interface InputRecord<V> {
  key: string;
  value: V;
  /** String-valued headers of the record as read (traceparent, tidemark-* ladder headers). */
  headers: Record<string, string>;
  /** Coordinates in the service's main input topic; identical for a record's retries. */
  source: SourceCoordinates;
  /** 1 on the first attempt, n on the n-th. */
  attempt: number;
  /** Kafka record timestamp (ms) of the record as read. */
  timestamp_ms: number;
}

export interface OutputRecord {
  /** Base topic name from the catalog (the runtime applies the namespace prefix). */
  topic: string;
  key: string;
  /** Plain object matching the topic's Avro schema; the runtime encodes it. */
  value: unknown;
  headers?: Record<string, string>;
}

/** Audit facts a handler wants recorded for a record (the runtime adds stage, time, trace). */
export type AuditNote = Omit<AuditInput, 'stage' | 'audit_id' | 'trace_id' | 'at_ms'>;

export interface HandlerResult {
  outputs: OutputRecord[];
  audit?: AuditNote[];
}

/** A failure worth retrying later through the ladder (e.g. the external risk API is down). */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A record the handler will never be able to process (invalid content): straight to the DLQ. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A failure of a dependency every key needs (e.g. Postgres unreachable): the runtime
 * does not ladder the record but pauses and retries in place with backoff, so a
 * database outage does not flood the retry topics. Handlers may throw it explicitly;
 * the runtime also treats connection-level errors (ECONNREFUSED, ECONNRESET,
 * ETIMEDOUT, '57P01' admin shutdown ...) this way.
 */
export class InfrastructureError extends Error {
  override readonly name = 'InfrastructureError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface Handler<V> {
  /** Service name: consumer group id, `<service>.retry.<n>`, `<service>.dlq`, audit stage. */
  service: string;
  /** Base name of the main input topic. */
  input_topic: string;
  /**
   * Process one record. Called for one key at a time, in order.
   * Throw TransientError / PermanentError / InfrastructureError to steer the runtime.
   */
  handle(record: InputRecord<V>): Promise<HandlerResult>;
  /**
   * Optional fast path: process many records (in per-key order) at once, e.g. in one
   * database transaction. All-or-nothing: if it throws, the runtime falls back to
   * `handle` record by record to isolate the failure. Returns one result per record.
   */
  handleBatch?(records: InputRecord<V>[]): Promise<HandlerResult[]>;
}
