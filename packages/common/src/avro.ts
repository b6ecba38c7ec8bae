/**
 * Avro encoding/decoding through the registry (Confluent wire format: magic byte,
 * 4-byte schema id, Avro binary). Writers look up the latest id registered under
 * `<topic>-value` (registration is `topics apply`'s job); readers resolve the id.
 *
 * Each subject's id and each id's schema are fetched from the registry once per process,
 * however many records are encoded or decoded concurrently before the first answer
 * arrives (the registry client alone would fetch and parse the schema once per waiting
 * record — thousands of requests when a service starts under load). Once known, encoding
 * and decoding run without a registry round trip.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Type } from 'avsc';
import { topicName } from './topics.js';

/** Where the codec gets schema ids and schemas; the registry client in production. */
export interface SchemaSource {
  latestSchemaId(subject: string): Promise<number>;
  /** The Avro type registered under `id`. */
  schema(id: number): Promise<Type>;
}

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;
const SCRATCH_BYTES_INITIAL = 16 * 1024;

export class AvroValidationError extends Error {
  override readonly name = 'AvroValidationError';
  constructor(
    readonly subject: string,
    readonly paths: string[][],
    options?: ErrorOptions,
  ) {
    super(
      `value does not match the schema of ${subject} at ${paths.map((p) => p.join('.') || '(root)').join(', ') || '(unknown)'}`,
      options,
    );
  }
}

/** Memoises an async lookup per key: one call in flight per key, forgotten when it fails. */
class SingleFlight<K, V> {
  readonly done = new Map<K, V>();
  private readonly pending = new Map<K, Promise<V>>();

  constructor(private readonly load: (key: K) => Promise<V>) {}

  get(key: K): Promise<V> {
    const known = this.done.get(key);
    if (known !== undefined) return Promise.resolve(known);
    let p = this.pending.get(key);
    if (!p) {
      p = this.load(key).then(
        (v) => {
          this.done.set(key, v);
          this.pending.delete(key);
          return v;
        },
        (err: unknown) => {
          this.pending.delete(key);
          throw err;
        },
      );
      this.pending.set(key, p);
    }
    return p;
  }
}

function registrySource(registry_url: string): SchemaSource {
  const registry = new SchemaRegistry({ host: registry_url });
  return {
    latestSchemaId: (subject) => registry.getLatestSchemaId(subject),
    schema: async (id) => (await registry.getSchema(id)) as unknown as Type,
  };
}

export class AvroCodec {
  private readonly ids: SingleFlight<string, number>;
  private readonly types: SingleFlight<number, Type>;
  /** Where records are encoded before their exact-size copy (grows to the largest record). */
  private scratch = Buffer.allocUnsafe(SCRATCH_BYTES_INITIAL);

  constructor(
    readonly registry_url: string,
    readonly prefix: string = process.env.TIDEMARK_TOPIC_PREFIX ?? '',
    source: SchemaSource = registrySource(registry_url),
  ) {
    this.ids = new SingleFlight((subject) => source.latestSchemaId(subject));
    this.types = new SingleFlight((id) => source.schema(id));
  }

  private subject(baseTopic: string): string {
    return `${topicName(baseTopic, this.prefix)}-value`;
  }

  /** Schema id for a base topic name (prefix applied). Cached for the process's life. */
  schemaId(baseTopic: string): Promise<number> {
    return this.ids.get(this.subject(baseTopic));
  }

  async encode(baseTopic: string, value: unknown): Promise<Buffer> {
    const subject = this.subject(baseTopic);
    const id = this.ids.done.get(subject) ?? (await this.ids.get(subject));
    const type = this.types.done.get(id) ?? (await this.types.get(id));
    let end: number;
    try {
      end = type.encode(value, this.scratch, HEADER_BYTES);
      if (end < 0) {
        // `encode` answers how many bytes were missing: grow the scratch buffer and write again.
        this.scratch = Buffer.allocUnsafe(Math.max(2 * this.scratch.length, this.scratch.length - end));
        end = type.encode(value, this.scratch, HEADER_BYTES);
      }
    } catch (err) {
      const paths: string[][] = [];
      type.isValid(value, { errorHook: (path) => paths.push(path) });
      throw new AvroValidationError(subject, paths, { cause: err });
    }
    this.scratch.writeUInt8(MAGIC_BYTE, 0);
    this.scratch.writeInt32BE(id, 1);
    // One exact-size copy out of the scratch buffer (synchronous: no other encode runs in between).
    return Buffer.from(this.scratch.subarray(0, end));
  }

  async decode<T>(buffer: Buffer): Promise<T> {
    if (!Buffer.isBuffer(buffer) || buffer.length < HEADER_BYTES || buffer[0] !== MAGIC_BYTE) {
      throw new Error('not a registry-framed Avro record (expected magic byte 0 and a 4-byte schema id)');
    }
    const id = buffer.readInt32BE(1);
    const type = this.types.done.get(id) ?? (await this.types.get(id));
    return type.fromBuffer(buffer.subarray(HEADER_BYTES)) as T;
  }
}
