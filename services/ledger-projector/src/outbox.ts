/**
 * Publishes ledger.outbox rows (records produced by the release API, written in the same
 * database transaction as their effect) to Kafka with the idempotent producer (acks=all),
 * then marks them published. At-least-once: a crash between send and mark re-sends;
 * consumers keep the highest balance version and audit ids are deterministic.
 */
import type { Pool } from 'pg';
import type { Producer } from 'kafkajs';
import { type AvroCodec, type Logger, topicName } from '@tidemark/common';

export const OUTBOX_BATCH_SIZE_MAX = 500;
export const OUTBOX_INTERVAL_MS = 1_000;

export interface OutboxPublisherOptions {
  pool: Pool;
  producer: Producer;
  codec: AvroCodec;
  logger: Logger;
  prefix?: string;
  interval_ms?: number;
}

export class OutboxPublisher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(private readonly opts: OutboxPublisherOptions) {}

  /** Publishes pending rows; returns how many were published. Concurrent calls share one run. */
  flush(): Promise<number> {
    if (!this.running) {
      this.running = this.flushOnce().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async flushOnce(): Promise<number> {
    const { pool, producer, codec } = this.opts;
    let published = 0;
    for (;;) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const rows = await client.query<{ outbox_id: string; topic: string; key: string; value: unknown }>(
          `SELECT outbox_id::text, topic, key, value FROM ledger.outbox WHERE published_at IS NULL
            ORDER BY outbox_id LIMIT ${OUTBOX_BATCH_SIZE_MAX} FOR UPDATE SKIP LOCKED`,
        );
        if (rows.rows.length === 0) {
          await client.query('COMMIT');
          return published;
        }
        const byTopic = new Map<string, Array<{ key: string; value: Buffer }>>();
        for (const row of rows.rows) {
          const list = byTopic.get(row.topic) ?? [];
          list.push({ key: row.key, value: await codec.encode(row.topic, row.value) });
          byTopic.set(row.topic, list);
        }
        await producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic: topicName(topic, this.opts.prefix), messages })),
        });
        await client.query(`UPDATE ledger.outbox SET published_at = now() WHERE outbox_id = ANY($1::bigint[])`, [
          rows.rows.map((r) => r.outbox_id),
        ]);
        await client.query('COMMIT');
        published += rows.rows.length;
        if (rows.rows.length < OUTBOX_BATCH_SIZE_MAX) return published;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    }
  }

  start(): void {
    const interval_ms = this.opts.interval_ms ?? OUTBOX_INTERVAL_MS;
    const tick = () => {
      this.flush()
        .catch((err: unknown) =>
          this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'ledger outbox: publish failed; will retry'),
        )
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, interval_ms);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
