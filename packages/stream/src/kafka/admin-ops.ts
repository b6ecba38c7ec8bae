/**
 * What both clients share: their admin clients have the same KafkaJS-style shape, so the
 * transport's admin operations (committed offsets, watermarks, delete records/groups, topic
 * existence) are written once here, over a lazily connected admin. Also the grouping of
 * records and offsets by topic that both clients' send/sendOffsets calls take.
 */

/** The part of a KafkaJS-style admin client the transports use (kafkajs and librdkafka's compat API). */
export interface KafkaStyleAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  fetchOffsets(o: {
    groupId: string;
    topics: string[];
  }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
  fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>>;
  deleteTopicRecords(o: { topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<unknown>;
  deleteGroups(group_ids: string[]): Promise<unknown>;
  listTopics(): Promise<string[]>;
}

export class AdminOps {
  private admin: KafkaStyleAdmin | null = null;
  private connecting: Promise<KafkaStyleAdmin> | null = null;

  constructor(private readonly newAdmin: () => KafkaStyleAdmin) {}

  private async get(): Promise<KafkaStyleAdmin> {
    if (this.admin) return this.admin;
    if (!this.connecting) {
      const admin = this.newAdmin();
      this.connecting = admin.connect().then(
        () => {
          this.admin = admin;
          return admin;
        },
        (err: unknown) => {
          this.connecting = null;
          throw err;
        },
      );
    }
    return this.connecting;
  }

  async committedOffsets(group_id: string, topic: string): Promise<Map<number, bigint>> {
    const result = await (await this.get()).fetchOffsets({ groupId: group_id, topics: [topic] });
    const out = new Map<number, bigint>();
    for (const t of result) {
      for (const p of t.partitions) {
        const offset = BigInt(p.offset);
        if (offset >= 0n) out.set(p.partition, offset);
      }
    }
    return out;
  }

  async watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    const offsets = await (await this.get()).fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  }

  async deleteRecordsBefore(topic: string, partition: number, offset: bigint): Promise<void> {
    await (await this.get()).deleteTopicRecords({ topic, partitions: [{ partition, offset: offset.toString() }] });
  }

  async deleteGroup(group_id: string): Promise<void> {
    await (await this.get()).deleteGroups([group_id]);
  }

  async topicExists(topic: string): Promise<boolean> {
    return (await (await this.get()).listTopics()).includes(topic);
  }

  async close(): Promise<void> {
    const admin = this.admin ?? (this.connecting ? await this.connecting.catch(() => null) : null);
    this.admin = null;
    this.connecting = null;
    await admin?.disconnect();
  }
}

/** `items` grouped by `topic`, first-seen topic order kept (the shape of sendBatch and sendOffsets). */
export function byTopic<T extends { topic: string }, U>(items: T[], map: (item: T) => U): Array<{ topic: string; items: U[] }> {
  const groups = new Map<string, U[]>();
  for (const item of items) {
    let list = groups.get(item.topic);
    if (!list) {
      list = [];
      groups.set(item.topic, list);
    }
    list.push(map(item));
  }
  return [...groups].map(([topic, grouped]) => ({ topic, items: grouped }));
}
