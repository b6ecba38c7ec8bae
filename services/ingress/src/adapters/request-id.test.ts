import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { newRequestId } from './request-id.js';

describe('newRequestId', () => {
  it('makes RFC 9562 version-7 ids (variant 10) carrying the millisecond timestamp', () => {
    const now = Date.UTC(2026, 11, 7, 3, 0, 0, 123);
    const id = newRequestId(now);
    expect(validate(id)).toBe(true);
    expect(version(id)).toBe(7);
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('stays unique and strictly increasing across pool refills, within one millisecond and across them', () => {
    const now = Date.now() + 60_000; // later than any id the other tests made
    const ids = [
      ...Array.from({ length: 1_000 }, () => newRequestId(now)),
      ...Array.from({ length: 1_000 }, (_, i) => newRequestId(now + 1 + Math.floor(i / 10))),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(ids.every((id) => version(id) === 7)).toBe(true);
  });

  it('draws fresh random bits per id (the tails of consecutive ids differ)', () => {
    const tails = Array.from({ length: 600 }, () => newRequestId().slice(-12));
    expect(new Set(tails).size).toBe(tails.length);
  });
});
