import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { amountProblem, formatAmount, fromBaseUnits, parseAmount, toBaseUnits } from './money.js';

describe('money', () => {
  it('accepts plain decimal strings up to 18 decimals and 78 significant digits', () => {
    expect(amountProblem('0')).toBeNull();
    expect(amountProblem('0.50000000')).toBeNull();
    expect(amountProblem('0.000000000000000001')).toBeNull();
    expect(amountProblem('9'.repeat(60) + '.' + '9'.repeat(18))).toBeNull();
  });

  it('rejects floats, exponents, signs, too many decimals or digits', () => {
    expect(amountProblem(0.5)).toMatch(/decimal string/);
    expect(amountProblem('1e5')).toMatch(/plain/);
    expect(amountProblem('-1')).toMatch(/plain/);
    expect(amountProblem('01')).toMatch(/plain/);
    expect(amountProblem('1.')).toMatch(/plain/);
    expect(amountProblem('0.0000000000000000001')).toMatch(/19 decimals/);
    expect(amountProblem('9'.repeat(61) + '.' + '9'.repeat(18))).toMatch(/79 significant/);
  });

  it('formats without trailing zeros or exponent', () => {
    expect(formatAmount('0.50000000')).toBe('0.5');
    expect(formatAmount('100')).toBe('100');
    expect(formatAmount(parseAmount('0.000000000000000001'))).toBe('0.000000000000000001');
    expect(formatAmount(10n ** 70n)).toBe('1' + '0'.repeat(70));
  });

  it('round-trips base units exactly for any 18-decimal amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 78n - 1n }), (units) => {
        const text = fromBaseUnits(units);
        expect(amountProblem(text)).toBeNull();
        expect(toBaseUnits(text)).toBe(units);
      }),
    );
  });

  it('adds huge amounts exactly', () => {
    const a = parseAmount('123456789012345678901234567890123456789012345678901234567890.123456789012345678');
    const b = parseAmount('0.000000000000000001');
    expect(formatAmount(a.plus(b))).toBe('123456789012345678901234567890123456789012345678901234567890.123456789012345679');
  });
});
