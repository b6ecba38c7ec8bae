import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonDepthExceeds, parseJsonBody } from './json-guard.js';

/** Reference depth by full parse (only for small inputs). */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value !== null && typeof value === 'object') return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

describe('json guard', () => {
  it('depth scan agrees with the parsed depth, strings with brackets and escapes included (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 0, max: 14 }), (value, limit) => {
        const body = Buffer.from(JSON.stringify(value));
        expect(jsonDepthExceeds(body, limit)).toBe(depthOf(value) > limit);
      }),
      { numRuns: 500 },
    );
  });

  it('handles hostile nesting in one pass without recursion', () => {
    const deep = Buffer.from('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    expect(parseJsonBody(deep)).toMatchObject({ ok: false, reason: 'json_too_deep' });
    const ok32 = Buffer.from('['.repeat(32) + ']'.repeat(32));
    expect(parseJsonBody(ok32).ok).toBe(true);
    expect(parseJsonBody(Buffer.from('['.repeat(33) + ']'.repeat(33)))).toMatchObject({ ok: false, reason: 'json_too_deep' });
    expect(parseJsonBody(Buffer.from(JSON.stringify({ s: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["\\' })))).toMatchObject({ ok: true });
  });

  it('rejects malformed UTF-8 and malformed JSON', () => {
    expect(parseJsonBody(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]))).toMatchObject({
      ok: false,
      reason: 'invalid_utf8',
    });
    expect(parseJsonBody(Buffer.from([0xed, 0xa0, 0x80]))).toMatchObject({ ok: false, reason: 'invalid_utf8' }); // UTF-16 surrogate
    expect(parseJsonBody(Buffer.from('{"a":'))).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseJsonBody(Buffer.from(''))).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseJsonBody(Buffer.from('{"a":"ü"}'))).toMatchObject({ ok: true, value: { a: 'ü' } });
  });
});
