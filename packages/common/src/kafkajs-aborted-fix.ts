/**
 * Fix for kafkajs 2.2.4's read_committed filtering of aborted transactions.
 *
 * kafkajs (src/consumer/filterAbortedMessages.js) walks the fetch response's
 * `abortedTransactions` assuming they are sorted by first offset and activates at
 * most one per record. The broker lists them in the order of their abort markers, so
 * when several producers' transactions in one partition are aborted out of order —
 * exactly what happens when an instance is killed -9 and each input partition's new
 * producer aborts its predecessor's open transaction — aborted records leak to
 * read_committed consumers. Seen here on audit.v1 (written by every partition's
 * producer) in the dedupe crash test; the retry rungs are equally exposed.
 *
 * The fix wraps Broker.prototype.fetch: it computes the aborted records the way the
 * Java client does (aborted transactions ordered by first offset, a producer's records
 * skipped from its first offset until its abort marker), marks them as control
 * records (kafkajs hides those from handlers but still advances past their offsets)
 * and empties `abortedTransactions` so the buggy filter has nothing to do.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

export interface FetchedMessage {
  offset: string;
  key?: Buffer | null;
  isControlRecord?: boolean;
  batchContext?: { producerId?: string; inTransaction?: boolean };
}

export interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

/** Marks (in place) the records of aborted transactions as control records; returns how many. */
export function hideAbortedRecords(messages: FetchedMessage[], aborted: AbortedTransaction[]): number {
  if (aborted.length === 0) return 0;
  const queue = [...aborted].sort((a, b) => compare(BigInt(a.firstOffset), BigInt(b.firstOffset)));
  const active = new Set<string>();
  let hidden = 0;
  for (const m of messages) {
    const offset = BigInt(m.offset);
    while (queue.length > 0 && BigInt(queue[0]!.firstOffset) <= offset) active.add(String(queue.shift()!.producerId));
    const producerId = String(m.batchContext?.producerId ?? '');
    if (m.isControlRecord) {
      if (m.key && Buffer.from(m.key).equals(ABORT_MARKER_KEY)) active.delete(producerId);
      continue;
    }
    if (m.batchContext?.inTransaction && active.has(producerId)) {
      m.isControlRecord = true;
      hidden++;
    }
  }
  return hidden;
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

let installed = false;

export function installAbortedTransactionFix(): void {
  if (installed) return;
  installed = true;
  const Broker = require('kafkajs/src/broker/index.js') as { prototype: { fetch: (...args: unknown[]) => Promise<unknown> } };
  const original = Broker.prototype.fetch;
  Broker.prototype.fetch = async function patchedFetch(this: unknown, ...args: unknown[]) {
    const response = (await original.apply(this, args)) as {
      responses?: Array<{ partitions?: Array<{ abortedTransactions?: AbortedTransaction[] | null; messages?: FetchedMessage[] }> }>;
    };
    for (const topic of response.responses ?? []) {
      for (const p of topic.partitions ?? []) {
        if (p.abortedTransactions && p.abortedTransactions.length > 0) {
          hideAbortedRecords(p.messages ?? [], p.abortedTransactions);
          p.abortedTransactions = [];
        }
      }
    }
    return response;
  };
}
