/**
 * The registry client fetches a schema on every call until the first answer is cached, so
 * the first chunks after a start would send thousands of identical requests. The first use
 * of each schema id (decode) / topic (encode) runs alone; later ones wait for it.
 */
import type { AvroCodec } from '@tidemark/common';

export class WarmCodec {
  private readonly warmed = new Map<string, Promise<unknown>>();

  constructor(private readonly codec: AvroCodec) {}

  decode<V>(value: Buffer): Promise<V> {
    const id = value.length >= 5 && value[0] === 0 ? value.readInt32BE(1) : -1;
    return this.once(`decode:${id}`, () => this.codec.decode<V>(value));
  }

  encode(base_topic: string, value: unknown): Promise<Buffer> {
    return this.once(`encode:${base_topic}`, () => this.codec.encode(base_topic, value));
  }

  private async once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const first = this.warmed.get(key);
    if (first) {
      await first.catch(() => undefined);
      return fn();
    }
    const p = fn();
    this.warmed.set(key, p);
    p.catch(() => this.warmed.delete(key));
    return p;
  }
}
