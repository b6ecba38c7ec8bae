import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBaseUnits } from '@tidemark/common';
import { formatCanonical, formatFixed, parseUnits, significantDigits } from './money.js';

describe('money: bigint base units <-> decimal strings', () => {
  it('formats with the asset decimals, provider style', () => {
    expect(formatFixed(50_000_000n, 8)).toBe('0.50000000');
    expect(formatFixed(1n, 18)).toBe('0.000000000000000001');
    expect(formatFixed(123n, 0)).toBe('123');
    expect(formatFixed(-5n, 2)).toBe('-0.05');
    expect(formatCanonical(50_000_000n, 8)).toBe('0.5');
    expect(formatCanonical(0n, 18)).toBe('0');
    expect(formatCanonical(100n, 2)).toBe('1');
    expect(formatCanonical(-1_500n, 3)).toBe('-1.5');
  });

  it('round-trips any amount up to 78 digits at any decimals, and agrees with @tidemark/common', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 78n - 1n }), fc.integer({ min: 0, max: 18 }), (units, decimals) => {
        const fixed = formatFixed(units, decimals);
        expect(parseUnits(fixed, decimals)).toBe(units);
        expect(parseUnits(formatCanonical(units, decimals), decimals)).toBe(units);
        expect(formatCanonical(units, decimals)).toBe(fromBaseUnits(units, decimals));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what is not a plain decimal or has too many decimals', () => {
    for (const bad of ['-1', '1e3', ' 1', '01', '1.', '.5', '0x10']) expect(() => parseUnits(bad, 8), bad).toThrow();
    expect(() => parseUnits('0.123456789', 8)).toThrow(/more than 8 decimals/);
    expect(parseUnits('0.12345678000', 8)).toBe(12_345_678n);
  });

  it('counts significant digits', () => {
    expect(significantDigits(0n)).toBe(0);
    expect(significantDigits(1_000n)).toBe(1);
    expect(significantDigits(10n ** 40n + 7n)).toBe(41);
  });
});
