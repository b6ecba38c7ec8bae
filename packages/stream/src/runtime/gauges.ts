/**
 * Gauges refreshed on a timer: parked keys (Postgres), ladder depth per rung and DLQ depth
 * (watermarks against the group's committed offsets; read-only admin calls).
 */
import { topicName, type Logger } from '@tidemark/common';
import { dlqTopicBase } from '../core/ladder.js';
import { errorMessage } from '../errors.js';
import type { KafkaTransport } from '../kafka/transport.js';
import type { ParkingStore } from '../parking/store.js';
import type { StreamMetrics } from './metrics.js';

export interface StreamGaugesOptions {
  service: string;
  prefix: string;
  group_id: string;
  rung_topics: string[];
  transport: KafkaTransport;
  store: ParkingStore;
  m: StreamMetrics;
  log: Logger;
  isStopping(): boolean;
}

export class StreamGauges {
  private readonly service: string;
  private readonly prefix: string;
  private readonly group_id: string;
  private readonly rung_topics: string[];
  private readonly transport: KafkaTransport;
  private readonly store: ParkingStore;
  private readonly m: StreamMetrics;
  private readonly log: Logger;
  private readonly isStopping: () => boolean;
  private refreshingDepth = false;

  constructor(o: StreamGaugesOptions) {
    this.service = o.service;
    this.prefix = o.prefix;
    this.group_id = o.group_id;
    this.rung_topics = o.rung_topics;
    this.transport = o.transport;
    this.store = o.store;
    this.m = o.m;
    this.log = o.log;
    this.isStopping = o.isStopping;
  }

  async refresh(): Promise<void> {
    try {
      this.m.parked_keys.set(await this.store.parkedKeyCount());
    } catch {
      // Postgres unreachable: the chunk loop reports it; the gauge keeps its last value.
    }
    await this.refreshDepthGauges();
  }

  /** Ladder and DLQ depth from watermarks and the group's committed offsets (read-only admin calls). */
  private async refreshDepthGauges(): Promise<void> {
    if (this.refreshingDepth || this.isStopping()) return;
    this.refreshingDepth = true;
    try {
      for (const [i, topic] of this.rung_topics.entries()) {
        const marks = await this.transport.watermarks(topic);
        const committed = await this.transport.committedOffsets(this.group_id, topic);
        let depth = 0n;
        for (const [partition, { low, high }] of marks) {
          const from = committed.get(partition) ?? low;
          if (high > from) depth += high - (from > low ? from : low);
        }
        this.m.ladder_depth.set({ rung: String(i + 1) }, Number(depth));
      }
      let dlq = 0n;
      for (const { low, high } of (await this.transport.watermarks(topicName(dlqTopicBase(this.service), this.prefix))).values()) {
        if (high > low) dlq += high - low;
      }
      this.m.dlq_depth.set(Number(dlq));
    } catch (err) {
      // Kafka unreachable: the chunk loop reports it; the gauges keep their last values.
      this.log.debug({ err: errorMessage(err) }, 'refreshing ladder/DLQ depth failed');
    } finally {
      this.refreshingDepth = false;
    }
  }
}
