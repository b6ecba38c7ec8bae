/**
 * What the runtime's parts share about one chunk's records: the per-record entry, the
 * failure that blocks a chunk in place, event facts for spans and audit, and small helpers.
 */
import type { Span } from '@tidemark/common';
import type { HandlerResult, InputRecord } from '../handler.js';
import type { PlanRecord } from '../core/plan.js';
import type { FetchedRecord, OutgoingRecord, TopicPartition } from '../kafka/transport.js';

export interface Entry {
  fetched: FetchedRecord;
  plan: PlanRecord;
  input: InputRecord<unknown> | null;
  poison: Error | null;
  replay_of: string | null;
  span: Span | null;
  result: HandlerResult | null;
  encoded: OutgoingRecord[] | null;
  error: unknown;
}

export class InfrastructureBlock extends Error {
  override readonly name = 'InfrastructureBlock';
}

export function msSince(start: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - start) / 1e5) / 10;
}

export function tpKey(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}

export function compareOffsets(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isRebalance(err: unknown): boolean {
  const e = err as { type?: string; name?: string } | null;
  return (
    e?.type === 'REBALANCE_IN_PROGRESS' ||
    e?.type === 'UNKNOWN_MEMBER_ID' ||
    e?.type === 'ILLEGAL_GENERATION' ||
    e?.name === 'KafkaJSRebalanceError'
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export async function forEachBounded<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

export interface EventFacts {
  provider: string | null;
  event_id: string | null;
  event_type: string | null;
  wallet_id: string | null;
}

/**
 * The runtime's per-record span of each input record handed to a handler. A batch
 * handler (handleBatch runs outside any single record's context) uses it to put its
 * own spans, e.g. a database write, into every record's trace.
 */
export const recordSpans = new WeakMap<object, Span>();

/** The stream runtime's span for `record` (as passed to handle/handleBatch), if it has one. */
export function recordSpan(record: InputRecord<unknown>): Span | undefined {
  return recordSpans.get(record);
}

/** Provider/event id/type of a CanonicalEvent-like value (or a record wrapping one in `event`). */
export function eventFacts(value: unknown): EventFacts {
  const v = value as Record<string, unknown> | null | undefined;
  const ev = (v && typeof v === 'object' && typeof v.event === 'object' && v.event !== null ? v.event : v) as
    Record<string, unknown> | null | undefined;
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  return { provider: str(ev?.provider), event_id: str(ev?.event_id), event_type: str(ev?.event_type), wallet_id: str(ev?.wallet_id) };
}

export function sourceDetails(e: Entry): Record<string, string> {
  return {
    source_topic: e.plan.source.topic,
    source_partition: String(e.plan.source.partition),
    source_offset: e.plan.source.offset.toString(),
    attempt: String(e.plan.attempts_made + 1),
  };
}

export function validTraceId(id: string | undefined): string | null {
  return id && !/^0+$/.test(id) ? id : null;
}

export function traceIdOf(headers: Record<string, string>): string | null {
  const tp = headers.traceparent;
  const m = tp ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(tp) : null;
  return m ? m[1]! : null;
}
