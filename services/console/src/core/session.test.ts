import { describe, expect, it } from 'vitest';
import { SessionStore, may, safeEqual } from './session.js';

describe('sessions', () => {
  it('random ids and CSRF tokens; idle and absolute expiry; bounded size', () => {
    let now = 0;
    const store = new SessionStore({ idle_ttl_ms: 100, lifetime_ms: 250, sessions_max: 2 }, () => now);
    const a = store.create({ name: 'alice', role: 'reader', token: 't'.repeat(20) });
    const b = store.create({ name: 'bob', role: 'compliance', token: 'u'.repeat(20) });
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.csrf).not.toBe(a.id);
    now = 90;
    expect(store.get(a.id)?.name).toBe('alice');
    now = 180;
    expect(store.get(a.id)?.name).toBe('alice'); // seen at 90: idle 90 < 100
    expect(store.get(b.id)).toBeNull(); // idle since 0
    now = 260;
    expect(store.get(a.id)).toBeNull(); // lifetime over
    const c = store.create({ name: 'c', role: 'operator', token: 'v'.repeat(20) });
    store.create({ name: 'd', role: 'operator', token: 'w'.repeat(20) });
    store.create({ name: 'e', role: 'operator', token: 'x'.repeat(20) });
    expect(store.size).toBe(2);
    expect(store.get(c.id)).toBeNull(); // evicted, oldest first
    expect(store.get(undefined)).toBeNull();
  });

  it('roles: everyone reads, compliance decides, operator operates', () => {
    expect(may('reader', 'read')).toBe(true);
    expect(may('reader', 'compliance')).toBe(false);
    expect(may('reader', 'operate')).toBe(false);
    expect(may('compliance', 'compliance')).toBe(true);
    expect(may('compliance', 'operate')).toBe(false);
    expect(may('operator', 'operate')).toBe(true);
    expect(may('operator', 'compliance')).toBe(false);
  });

  it('safeEqual compares any lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});
