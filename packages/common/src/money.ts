/**
 * Money is a decimal string on the wire and a Decimal (decimal.js, precision far
 * above 78 significant digits + 18 decimals) or bigint base units in memory —
 * never a JavaScript number.
 */
import DecimalJs from 'decimal.js';

export const Decimal = DecimalJs.clone({ precision: 200, rounding: DecimalJs.ROUND_DOWN, toExpNeg: -100, toExpPos: 200 });
export type Decimal = InstanceType<typeof Decimal>;

export const AMOUNT_SIGNIFICANT_DIGITS_MAX = 78;
export const AMOUNT_DECIMALS_MAX = 18;

const AMOUNT_PATTERN = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

export class AmountError extends Error {
  override readonly name = 'AmountError';
}

/** Why `text` is not a valid non-negative amount, or null when it is. */
export function amountProblem(text: unknown): string | null {
  if (typeof text !== 'string') return 'amount must be a decimal string, not a ' + typeof text;
  if (!AMOUNT_PATTERN.test(text)) return 'amount must be a plain non-negative decimal string like "0.5" (no sign, exponent or spaces)';
  const [intPart, fracPart = ''] = text.split('.') as [string, string?];
  const fraction = fracPart.replace(/^\./, '');
  if (fraction.length > AMOUNT_DECIMALS_MAX) return `amount has ${fraction.length} decimals; at most ${AMOUNT_DECIMALS_MAX} are allowed`;
  const significant = (intPart === '0' ? '' : intPart) + fraction;
  const digits = significant.replace(/^0+/, '').length;
  if (digits > AMOUNT_SIGNIFICANT_DIGITS_MAX)
    return `amount has ${digits} significant digits; at most ${AMOUNT_SIGNIFICANT_DIGITS_MAX} are allowed`;
  return null;
}

export function parseAmount(text: string): Decimal {
  const problem = amountProblem(text);
  if (problem) throw new AmountError(problem);
  return new Decimal(text);
}

/** Canonical decimal string: no exponent, no trailing fractional zeros ("0.50000000" → "0.5"). */
export function formatAmount(value: Decimal | string | bigint): string {
  const d = typeof value === 'bigint' ? new Decimal(value.toString()) : new Decimal(value);
  return d.toFixed();
}

/** Decimal string → bigint units of 10^-decimals (exact; throws if it does not fit). */
export function toBaseUnits(text: string, decimals = AMOUNT_DECIMALS_MAX): bigint {
  const d = parseAmount(text).times(new Decimal(10).pow(decimals));
  if (!d.isInteger()) throw new AmountError(`amount ${text} has more than ${decimals} decimals`);
  return BigInt(d.toFixed(0));
}

export function fromBaseUnits(units: bigint, decimals = AMOUNT_DECIMALS_MAX): string {
  return formatAmount(new Decimal(units.toString()).div(new Decimal(10).pow(decimals)));
}
