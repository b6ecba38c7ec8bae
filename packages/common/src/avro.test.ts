import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import { AvroCodec, AvroValidationError, type SchemaSource } from './avro.js';

const BALANCE = avro.Type.forSchema({
  type: 'record',
  name: 'Balance',
  fields: [
    { name: 'wallet_id', type: 'string' },
    { name: 'available', type: 'string' },
    { name: 'version', type: 'long' },
  ],
});

/** A schema source that answers after a tick and counts its calls. */
function countingSource(id = 42): SchemaSource & { calls: { ids: number; schemas: number }; failNext: boolean } {
  const src = {
    calls: { ids: 0, schemas: 0 },
    failNext: false,
    async latestSchemaId(subject: string) {
      src.calls.ids++;
      await new Promise((r) => setTimeout(r, 5));
      if (src.failNext) {
        src.failNext = false;
        throw new Error(`registry unavailable for ${subject}`);
      }
      return id;
    },
    async schema(asked: number) {
      src.calls.schemas++;
      await new Promise((r) => setTimeout(r, 5));
      if (asked !== id) throw new Error(`no schema ${asked}`);
      return BALANCE;
    },
  };
  return src;
}

const value = { wallet_id: 'w-1', available: '123456789012345678901234567890.123456789012345678', version: 7 };

describe('AvroCodec', () => {
  it('frames records in the Confluent wire format (magic byte 0, schema id, Avro body) and reads them back', async () => {
    const codec = new AvroCodec('http://registry.invalid', 't1.', countingSource(42));
    const buf = await codec.encode('ledger.balances.v1', value);
    expect(buf[0]).toBe(0);
    expect(buf.readInt32BE(1)).toBe(42);
    expect(buf.subarray(5).equals(BALANCE.toBuffer(value))).toBe(true);
    expect(await codec.decode(buf)).toEqual(value);
  });

  it('asks the registry once per subject and once per schema id, however many records wait for the first answer', async () => {
    const src = countingSource();
    const codec = new AvroCodec('http://registry.invalid', 't1.', src);
    const encoded = await Promise.all(Array.from({ length: 500 }, (_, i) => codec.encode('ledger.balances.v1', { ...value, version: i })));
    const reader = new AvroCodec('http://registry.invalid', 't1.', src);
    const decoded = await Promise.all(encoded.map((b) => reader.decode<typeof value>(b)));
    expect(decoded.map((d) => d.version)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(src.calls).toEqual({ ids: 1, schemas: 2 });
  });

  it('retries a lookup that failed instead of caching the failure', async () => {
    const src = countingSource();
    src.failNext = true;
    const codec = new AvroCodec('http://registry.invalid', 't1.', src);
    await expect(codec.encode('ledger.balances.v1', value)).rejects.toThrow(/registry unavailable for t1\.ledger\.balances.v1-value/);
    await expect(codec.encode('ledger.balances.v1', value)).resolves.toBeInstanceOf(Buffer);
    expect(src.calls.ids).toBe(2);
  });

  it('rejects a value that does not match the schema, naming the subject and the field', async () => {
    const codec = new AvroCodec('http://registry.invalid', '', countingSource());
    const err = await codec.encode('ledger.balances.v1', { ...value, available: 12.5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AvroValidationError);
    expect((err as AvroValidationError).paths).toEqual([['available']]);
    expect((err as Error).message).toBe('value does not match the schema of ledger.balances.v1-value at available');
  });

  it('rejects bytes that are not a framed record, and a schema id the registry does not know', async () => {
    const codec = new AvroCodec('http://registry.invalid', '', countingSource(42));
    await expect(codec.decode(Buffer.from('{"json":true}'))).rejects.toThrow(/not a registry-framed Avro record/);
    await expect(codec.decode(Buffer.from([0, 0, 0]))).rejects.toThrow(/not a registry-framed Avro record/);
    const unknown = Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), BALANCE.toBuffer(value)]);
    await expect(codec.decode(unknown)).rejects.toThrow(/no schema 9/);
  });
});

describe('AvroCodec encoding buffer', () => {
  it('encodes records larger than its scratch buffer, and small ones after them, exactly', async () => {
    const codec = new AvroCodec('http://registry.invalid', '', countingSource(7));
    const big = { ...value, wallet_id: 'w'.repeat(100_000) };
    const small = { ...value, wallet_id: 'w-2' };
    const [a, b] = [await codec.encode('ledger.balances.v1', big), await codec.encode('ledger.balances.v1', small)];
    expect(a.length).toBe(5 + BALANCE.toBuffer(big).length);
    expect(await codec.decode(a)).toEqual(big);
    expect(b.subarray(5).equals(BALANCE.toBuffer(small))).toBe(true);
    expect(await codec.decode(a)).toEqual(big);
  });
});
