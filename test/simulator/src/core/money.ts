/**
 * Amounts are bigint base units in memory and decimal strings on the wire — never a
 * JavaScript number. Providers send amounts with the asset's full number of decimals
 * ("0.50000000" for BTC); the ground truth reports canonical strings ("0.5").
 */

export const AMOUNT_DECIMALS_MAX = 18;
export const AMOUNT_SIGNIFICANT_DIGITS_MAX = 78;

function assertDecimals(decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > AMOUNT_DECIMALS_MAX) {
    throw new Error(`decimals must be an integer in 0..${AMOUNT_DECIMALS_MAX}, got ${decimals}`);
  }
}

/** Base units → decimal string with exactly `decimals` fraction digits (provider style). */
export function formatFixed(units: bigint, decimals: number): string {
  assertDecimals(decimals);
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, '0');
  const int_part = digits.slice(0, digits.length - decimals);
  const frac_part = digits.slice(digits.length - decimals);
  const text = decimals === 0 ? int_part : `${int_part}.${frac_part}`;
  return negative ? `-${text}` : text;
}

/** Base units → canonical decimal string: no trailing fractional zeros, "0" for zero. */
export function formatCanonical(units: bigint, decimals: number): string {
  const fixed = formatFixed(units, decimals);
  if (!fixed.includes('.')) return fixed === '-0' ? '0' : fixed;
  const trimmed = fixed.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '-0' ? '0' : trimmed;
}

const DECIMAL_PATTERN = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** Non-negative decimal string → base units; throws when it has more than `decimals` decimals. */
export function parseUnits(text: string, decimals: number): bigint {
  assertDecimals(decimals);
  if (!DECIMAL_PATTERN.test(text)) throw new Error(`not a plain non-negative decimal string: ${JSON.stringify(text)}`);
  const [int_part, frac_part = ''] = text.split('.') as [string, string?];
  const frac = frac_part.replace(/0+$/, '');
  if (frac.length > decimals) throw new Error(`${text} has more than ${decimals} decimals`);
  return BigInt(int_part) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
}

/** Significant digits of a base-unit amount as the wire string would carry them. */
export function significantDigits(units: bigint): number {
  const text = (units < 0n ? -units : units).toString().replace(/0+$/, '');
  return text === '' ? 0 : text.length;
}
