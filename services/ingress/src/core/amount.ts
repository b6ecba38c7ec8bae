/**
 * Money on the wire is a decimal string: non-negative, no sign, no exponent, up to 78
 * significant digits and 18 decimals (the range of a uint256 of base units with 18
 * decimals). It is validated as text and never converted to a JS number.
 */
export const AMOUNT_SIGNIFICANT_DIGITS_MAX = 78;
export const AMOUNT_DECIMALS_MAX = 18;

const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

export type AmountProblem = string;

/** Returns null when `text` is an acceptable amount, or what is wrong with it. */
export function amountProblem(text: string): AmountProblem | null {
  if (text.length > AMOUNT_SIGNIFICANT_DIGITS_MAX + AMOUNT_DECIMALS_MAX + 2) return 'amount is too long';
  if (!DECIMAL.test(text)) {
    return 'amount must be a non-negative decimal string like "0.5" (no sign, exponent, spaces or leading zeros)';
  }
  const dot = text.indexOf('.');
  const integer = dot < 0 ? text : text.slice(0, dot);
  const fraction = dot < 0 ? '' : text.slice(dot + 1);
  if (fraction.length > AMOUNT_DECIMALS_MAX) return `amount has more than ${AMOUNT_DECIMALS_MAX} decimals`;
  // Significant digits: from the first non-zero digit to the last digit written.
  const digits = (integer === '0' ? '' : integer) + fraction;
  const significant = digits.replace(/^0+/, '');
  if (significant.length > AMOUNT_SIGNIFICANT_DIGITS_MAX) {
    return `amount has more than ${AMOUNT_SIGNIFICANT_DIGITS_MAX} significant digits`;
  }
  return null;
}

/**
 * Converts an integer amount of base units with `decimals` decimals to a decimal string
 * without floating point: ("50000000", 8) → "0.50000000".
 */
export function baseUnitsToDecimal(base_units: string, decimals: number): string {
  if (!/^(0|[1-9][0-9]*)$/.test(base_units)) throw new Error('base units must be a non-negative integer string');
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > AMOUNT_DECIMALS_MAX) {
    throw new Error(`decimals must be an integer 0..${AMOUNT_DECIMALS_MAX}`);
  }
  if (decimals === 0) return base_units;
  const padded = base_units.padStart(decimals + 1, '0');
  return `${padded.slice(0, padded.length - decimals)}.${padded.slice(padded.length - decimals)}`;
}
