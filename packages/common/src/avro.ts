/**
 * Avro encoding/decoding through the registry (Confluent wire format: magic byte,
 * 4-byte schema id, Avro binary). Writers look up the latest id registered under
 * `<topic>-value` (registration is `topics apply`'s job); readers resolve the id.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { topicName } from './topics.js';

export class AvroCodec {
  private readonly registry: SchemaRegistry;
  private readonly ids = new Map<string, Promise<number>>();

  constructor(
    readonly registry_url: string,
    readonly prefix: string = process.env.TIDEMARK_TOPIC_PREFIX ?? '',
  ) {
    this.registry = new SchemaRegistry({ host: registry_url });
  }

  /** Schema id for a base topic name (prefix applied). Cached for the process's life. */
  schemaId(baseTopic: string): Promise<number> {
    const subject = `${topicName(baseTopic, this.prefix)}-value`;
    let id = this.ids.get(subject);
    if (!id) {
      id = this.registry.getLatestSchemaId(subject);
      id.catch(() => this.ids.delete(subject));
      this.ids.set(subject, id);
    }
    return id;
  }

  async encode(baseTopic: string, value: unknown): Promise<Buffer> {
    return this.registry.encode(await this.schemaId(baseTopic), value);
  }

  async decode<T>(buffer: Buffer): Promise<T> {
    return (await this.registry.decode(buffer)) as T;
  }
}
