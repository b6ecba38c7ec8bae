import { describe, expect, it } from 'vitest';
import { clientAddress, ipAllowed, parseCidr } from './ip.js';

describe('source address', () => {
  const proxies = [parseCidr('10.0.0.0/8'), parseCidr('::1')];
  it('ignores X-Forwarded-For unless the peer is a trusted proxy', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', [])).toBe('203.0.113.9');
    expect(clientAddress('203.0.113.9', '198.51.100.1', proxies)).toBe('203.0.113.9');
    expect(clientAddress('10.1.2.3', '198.51.100.1', proxies)).toBe('198.51.100.1');
  });
  it('walks right to left past trusted hops only; spoofed left entries do not win', () => {
    expect(clientAddress('10.1.2.3', '1.1.1.1, 198.51.100.1, 10.9.9.9', proxies)).toBe('198.51.100.1');
    expect(clientAddress('10.1.2.3', 'garbage, 10.9.9.9', proxies)).toBe('10.9.9.9');
    expect(clientAddress('::ffff:10.1.2.3', '198.51.100.7', proxies)).toBe('198.51.100.7');
  });
  it('answers the same for a peer seen before (memoized normal form), over more peers than the memo holds', () => {
    for (let round = 0; round < 2; round++) {
      expect(clientAddress('::ffff:203.0.113.9', undefined, [])).toBe('203.0.113.9');
      expect(clientAddress('10.1.2.3', '198.51.100.1', proxies)).toBe('198.51.100.1');
      expect(clientAddress('10.1.2.3', undefined, proxies)).toBe('10.1.2.3');
      expect(clientAddress('2001:0db8:0000::0001', undefined, [])).toBe('2001:db8::1');
      expect(clientAddress('not-an-ip', undefined, [])).toBe('not-an-ip');
      for (let i = 0; i < 1_100; i++)
        expect(clientAddress(`::ffff:10.0.${i >> 8}.${i & 255}`, undefined, [])).toBe(`10.0.${i >> 8}.${i & 255}`);
    }
  });
  it('allowlists by CIDR, IPv4-mapped IPv6 included; empty list allows all', () => {
    const allow = [parseCidr('198.51.100.0/24'), parseCidr('2001:db8::/32')];
    expect(ipAllowed('198.51.100.200', allow)).toBe(true);
    expect(ipAllowed('::ffff:198.51.100.200', allow)).toBe(true);
    expect(ipAllowed('198.51.101.1', allow)).toBe(false);
    expect(ipAllowed('2001:db8::5', allow)).toBe(true);
    expect(ipAllowed('not-an-ip', allow)).toBe(false);
    expect(ipAllowed('198.51.101.1', [])).toBe(true);
    expect(() => parseCidr('300.1.1.1/8')).toThrow(/not an IP/);
  });
});
