/**
 * Batches Kafka writes across concurrent requests while keeping the ingress promise:
 * a request is answered 202 only after ITS records are acknowledged (acks=all, idempotent
 * producer). Records queue for at most `linger_ms` (or until `batch_records_max`), then go
 * out in one sendBatch; while a batch is in flight the next one accumulates, so batch size
 * grows with load and one broker round trip serves many requests.
 *
 * Failure rules ("nothing half-accepted"):
 *  - A write that is not acknowledged within `ack_timeout_ms` rejects with WriteTimeout; if
 *    it was still queued it is withdrawn and never sent. (One already on the wire may still
 *    land; the provider retries and dedupe downstream absorbs the duplicate.)
 *  - The queue is bounded (`queue_records_max`): beyond it writes fail at once (WriteRejected).
 *  - Detached writes (audit records of rejected requests) never block a response; they ride
 *    along in the next batch and, when the queue is full, the oldest are dropped and counted.
 */
import type { Message } from 'kafkajs';

export interface TopicMessage {
  /** Full topic name (prefix applied). */
  topic: string;
  message: Message;
}

export interface BatchProducer {
  sendBatch(batch: { topicMessages: Array<{ topic: string; messages: Message[] }>; acks: number; timeout: number }): Promise<unknown>;
}

const FAILURE_BACKOFF_MS = 250;

export class WriteTimeout extends Error {
  override readonly name = 'WriteTimeout';
}
export class WriteRejected extends Error {
  override readonly name = 'WriteRejected';
}

export interface BatchWriterOptions {
  /**
   * One batch is in flight per producer (each has its own broker connection). Several let a
   * batch go out while others await their acks. Ordering is unaffected where it matters: a
   * request's records travel in one batch, and a provider that waits for its 202 before
   * sending the next event never has two of them in flight at once.
   */
  producers: BatchProducer[];
  linger_ms: number;
  batch_records_max: number;
  queue_records_max: number;
  ack_timeout_ms: number;
  detached_records_max: number;
  /** Called after every batch with its size, duration and outcome (metrics). */
  on_batch?: (info: { records: number; duration_ms: number; ok: boolean; error?: unknown }) => void;
  on_detached_dropped?: (count: number) => void;
}

interface Pending {
  records: TopicMessage[];
  resolve: () => void;
  reject: (error: Error) => void;
  settled: boolean;
  sent: boolean;
  timer: NodeJS.Timeout | null;
}

export class BatchWriter {
  private readonly opts: BatchWriterOptions;
  private queue: Pending[] = [];
  private queued_records = 0;
  private detached: TopicMessage[] = [];
  private readonly idle: BatchProducer[];
  private readonly in_flight = new Set<Promise<void>>();
  private linger_timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** After a failed batch, the next one waits this long so an unreachable broker is not hammered. */
  private backoff_until_ms = 0;

  constructor(opts: BatchWriterOptions) {
    if (opts.batch_records_max < 2) throw new Error('batch_records_max must be at least 2');
    if (opts.queue_records_max < opts.batch_records_max) throw new Error('queue_records_max must be >= batch_records_max');
    if (opts.producers.length === 0) throw new Error('at least one producer is needed');
    this.opts = opts;
    this.idle = [...opts.producers];
  }

  /** Resolves once every record is acknowledged by Kafka; rejects on timeout or error. */
  write(records: TopicMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new WriteRejected('writer is closed'));
    if (records.length === 0 || records.length > this.opts.batch_records_max) {
      return Promise.reject(new WriteRejected(`a write holds 1..${this.opts.batch_records_max} records`));
    }
    if (this.queued_records + records.length > this.opts.queue_records_max) {
      return Promise.reject(new WriteRejected(`write queue full (${this.opts.queue_records_max} records)`));
    }
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { records, resolve, reject, settled: false, sent: false, timer: null };
      pending.timer = setTimeout(() => this.expire(pending), this.opts.ack_timeout_ms);
      this.queue.push(pending);
      this.queued_records += records.length;
      this.schedule();
    });
  }

  /** Fire-and-forget write (bounded; oldest dropped when full). */
  writeDetached(record: TopicMessage): void {
    if (this.closed) {
      this.opts.on_detached_dropped?.(1);
      return;
    }
    this.detached.push(record);
    if (this.detached.length > this.opts.detached_records_max) {
      const excess = this.detached.length - this.opts.detached_records_max;
      this.detached.splice(0, excess);
      this.opts.on_detached_dropped?.(excess);
    }
    this.schedule();
  }

  get queued(): { records: number; detached: number } {
    return { records: this.queued_records, detached: this.detached.length };
  }

  /** Sends whatever is queued (detached records included) and waits for it; then refuses new writes. */
  async close(timeout_ms: number): Promise<void> {
    const deadline = Date.now() + timeout_ms;
    while ((this.queue.length > 0 || this.detached.length > 0 || this.in_flight.size > 0) && Date.now() < deadline) {
      if (this.idle.length > 0 && (this.queue.length > 0 || this.detached.length > 0)) {
        const backoff_ms = this.backoff_until_ms - Date.now();
        if (backoff_ms > 0) {
          await sleep(Math.min(backoff_ms, deadline - Date.now()));
          continue;
        }
        this.flush();
      }
      if (this.in_flight.size > 0) await Promise.race([...this.in_flight, sleep(Math.max(1, deadline - Date.now()))]);
    }
    this.closed = true;
    if (this.linger_timer) clearTimeout(this.linger_timer);
    for (const p of this.queue) this.settle(p, new WriteRejected('writer closed before the write was sent'));
    this.queue = [];
    this.queued_records = 0;
  }

  private expire(pending: Pending): void {
    if (pending.settled) return;
    if (!pending.sent) {
      const index = this.queue.indexOf(pending);
      if (index >= 0) {
        this.queue.splice(index, 1);
        this.queued_records -= pending.records.length;
      }
    }
    this.settle(pending, new WriteTimeout(`not acknowledged within ${this.opts.ack_timeout_ms} ms`));
  }

  private settle(pending: Pending, error?: Error): void {
    if (pending.settled) return;
    pending.settled = true;
    if (pending.timer) clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve();
  }

  private schedule(): void {
    if (this.idle.length === 0) return; // a batch completing flushes the next one
    if (this.queued_records >= this.opts.batch_records_max && Date.now() >= this.backoff_until_ms) {
      this.flush();
      return;
    }
    if (this.linger_timer === null) {
      const delay_ms = Math.max(this.opts.linger_ms, this.backoff_until_ms - Date.now());
      this.linger_timer = setTimeout(() => {
        this.linger_timer = null;
        this.flush();
      }, delay_ms);
    }
  }

  private flush(): void {
    const producer = this.idle.pop();
    if (producer === undefined) return;
    if (this.linger_timer) {
      clearTimeout(this.linger_timer);
      this.linger_timer = null;
    }
    const batch: Pending[] = [];
    let records = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (records > 0 && records + next.records.length > this.opts.batch_records_max) break;
      this.queue.shift();
      this.queued_records -= next.records.length;
      next.sent = true;
      batch.push(next);
      records += next.records.length;
    }
    const detached = this.detached.splice(0, Math.max(0, this.opts.batch_records_max - records));
    if (batch.length === 0 && detached.length === 0) {
      this.idle.push(producer);
      return;
    }

    const by_topic = new Map<string, Message[]>();
    for (const record of [...batch.flatMap((p) => p.records), ...detached]) {
      let messages = by_topic.get(record.topic);
      if (!messages) by_topic.set(record.topic, (messages = []));
      messages.push(record.message);
    }
    const started = performance.now();
    const total = records + detached.length;
    const sending: Promise<void> = producer
      .sendBatch({
        topicMessages: [...by_topic].map(([topic, messages]) => ({ topic, messages })),
        acks: -1,
        timeout: this.opts.ack_timeout_ms,
      })
      .then(
        () => {
          this.opts.on_batch?.({ records: total, duration_ms: performance.now() - started, ok: true });
          this.backoff_until_ms = 0;
          for (const p of batch) this.settle(p);
        },
        (error: unknown) => {
          this.opts.on_batch?.({ records: total, duration_ms: performance.now() - started, ok: false, error });
          this.backoff_until_ms = Date.now() + FAILURE_BACKOFF_MS;
          const failure = new WriteRejected(`Kafka write failed: ${error instanceof Error ? error.message : String(error)}`);
          for (const p of batch) this.settle(p, failure);
          // Detached audit records are retried with the next batch (bounded by detached_records_max).
          if (!this.closed) this.detached.unshift(...detached.slice(0, Math.max(0, this.opts.detached_records_max - this.detached.length)));
        },
      )
      .finally(() => {
        this.in_flight.delete(sending);
        this.idle.push(producer);
        if (this.queue.length > 0 || this.detached.length > 0) this.schedule();
      });
    this.in_flight.add(sending);
    // More queued than one batch holds and another producer is idle: send that too.
    if (this.queue.length > 0 && this.queued_records >= this.opts.batch_records_max) this.schedule();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
