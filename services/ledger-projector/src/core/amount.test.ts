import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AmountError, formatUnits, normalizeAmount, parseAmount, parseSignedUnits } from './amount.js';

describe('amounts', () => {
  it('parses and normalises decimal strings exactly', () => {
    expect(formatUnits(parseAmount('0.50000000'))).toBe('0.5');
    expect(formatUnits(parseAmount('007'))).toBe('7');
    expect(formatUnits(parseAmount('0'))).toBe('0');
    expect(formatUnits(parseAmount('0.000000000000000001'))).toBe('0.000000000000000001');
    expect(normalizeAmount('-12.3400')).toBe('-12.34');
    expect(parseSignedUnits('-0.000000000000000001')).toBe(-1n);
  });

  it('accepts 78 significant digits and 18 decimals', () => {
    const max = '9'.repeat(60) + '.' + '9'.repeat(18);
    expect(formatUnits(parseAmount(max))).toBe(max);
    expect(formatUnits(parseAmount('9'.repeat(78)))).toBe('9'.repeat(78));
  });

  it('rejects what the contract forbids', () => {
    for (const bad of ['', '-1', '1e3', '0x10', '1.', '.5', ' 1', '1,5', '0.' + '1'.repeat(19), '9'.repeat(79), 'NaN']) {
      expect(() => parseAmount(bad), bad).toThrow(AmountError);
    }
    expect(parseAmount('1.' + '0'.repeat(30))).toBe(10n ** 18n);
  });

  it('round-trips any units value (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 96n), max: 10n ** 96n }), (units) => {
        expect(parseSignedUnits(formatUnits(units))).toBe(units);
      }),
    );
  });
});
