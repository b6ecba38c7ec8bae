import { describe, expect, it } from 'vitest';
import { releaseNeedsSecondOfficer } from './four-eyes.js';

describe('four-eyes release', () => {
  const policy = { threshold_usd: '10000', prices: { BTC: '65800', USDC: '1' } };
  it('needs a second officer only above the USD amount, and always for unpriced assets', () => {
    expect(releaseNeedsSecondOfficer(null, 'BTC', '1000')).toBe(false);
    expect(releaseNeedsSecondOfficer(policy, 'USDC', '10000')).toBe(false);
    expect(releaseNeedsSecondOfficer(policy, 'USDC', '10000.000001')).toBe(true);
    expect(releaseNeedsSecondOfficer(policy, 'BTC', '0.15')).toBe(false); // 9,870 USD
    expect(releaseNeedsSecondOfficer(policy, 'BTC', '0.16')).toBe(true); // 10,528 USD
    expect(releaseNeedsSecondOfficer(policy, 'XMR', '0.000001')).toBe(true);
    expect(releaseNeedsSecondOfficer(policy, 'USDC', '123456789012345678901234567890.123456789012345678')).toBe(true);
  });
});
