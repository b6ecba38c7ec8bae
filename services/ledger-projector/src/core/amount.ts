/**
 * Amounts inside the ledger core are bigint base units scaled by 10^18 ("units").
 * Every amount that enters or leaves the core is a decimal string; a JS number never
 * carries money. Parsing is strict: the canonical event contract allows up to 78
 * significant digits and 18 decimals, non-negative.
 */

export const AMOUNT_DECIMALS = 18;
export const UNITS_PER_WHOLE = 10n ** BigInt(AMOUNT_DECIMALS);
export const AMOUNT_SIGNIFICANT_DIGITS_MAX = 78;
/** Longest amount string accepted (78 digits + point + padding zeros); bounds the work per parse. */
export const AMOUNT_STRING_LENGTH_MAX = 200;

const DECIMAL_RE = /^(\d+)(?:\.(\d+))?$/;
const SIGNED_DECIMAL_RE = /^(-?)(\d+)(?:\.(\d+))?$/;

export class AmountError extends Error {
  override readonly name = 'AmountError';
}

/** Parses a non-negative decimal string ("0.50000000", "12", "1e3" is rejected) into units. */
export function parseAmount(text: string): bigint {
  if (typeof text !== 'string') throw new AmountError('amount must be a decimal string');
  if (text.length === 0 || text.length > AMOUNT_STRING_LENGTH_MAX) {
    throw new AmountError(`amount must be 1..${AMOUNT_STRING_LENGTH_MAX} characters`);
  }
  const match = DECIMAL_RE.exec(text);
  if (!match) throw new AmountError(`amount ${JSON.stringify(text)} is not a non-negative decimal string`);
  const whole = (match[1] ?? '0').replace(/^0+(?=\d)/, '');
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > AMOUNT_DECIMALS) {
    throw new AmountError(`amount ${JSON.stringify(text)} has more than ${AMOUNT_DECIMALS} decimals`);
  }
  const significant = (whole === '0' ? '' : whole) + fraction;
  const significantDigits = significant.replace(/^0+/, '').length;
  if (significantDigits > AMOUNT_SIGNIFICANT_DIGITS_MAX) {
    throw new AmountError(`amount has more than ${AMOUNT_SIGNIFICANT_DIGITS_MAX} significant digits`);
  }
  return BigInt(whole) * UNITS_PER_WHOLE + BigInt(fraction.padEnd(AMOUNT_DECIMALS, '0') || '0');
}

/**
 * Parses a signed decimal string as stored by Postgres NUMERIC (balances can be
 * negative for the external clearing accounts). Same decimal limit, no digit limit
 * beyond the string length (sums of many amounts may exceed 78 digits).
 */
export function parseSignedUnits(text: string): bigint {
  if (typeof text !== 'string' || text.length === 0 || text.length > AMOUNT_STRING_LENGTH_MAX) {
    throw new AmountError('signed amount must be a non-empty decimal string');
  }
  const match = SIGNED_DECIMAL_RE.exec(text);
  if (!match) throw new AmountError(`${JSON.stringify(text)} is not a decimal string`);
  const fraction = (match[3] ?? '').replace(/0+$/, '');
  if (fraction.length > AMOUNT_DECIMALS) throw new AmountError(`${JSON.stringify(text)} has more than ${AMOUNT_DECIMALS} decimals`);
  const magnitude = BigInt(match[2] ?? '0') * UNITS_PER_WHOLE + BigInt(fraction.padEnd(AMOUNT_DECIMALS, '0') || '0');
  return match[1] === '-' ? -magnitude : magnitude;
}

/** Formats units as the shortest decimal string: 500000000000000000n → "0.5", 0n → "0". */
export function formatUnits(units: bigint): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString();
  // One toString and slicing (no bigint division): this runs several times per event.
  const padded = digits.length <= AMOUNT_DECIMALS ? digits.padStart(AMOUNT_DECIMALS + 1, '0') : digits;
  const whole = padded.slice(0, padded.length - AMOUNT_DECIMALS);
  let end = padded.length;
  while (end > whole.length && padded.charCodeAt(end - 1) === 48 /* '0' */) end -= 1;
  const text = end > whole.length ? `${whole}.${padded.slice(whole.length, end)}` : whole;
  return negative ? `-${text}` : text;
}

/** Normalises a decimal string ("0.50000000" → "0.5", "007" → "7"). */
export function normalizeAmount(text: string): string {
  return formatUnits(parseSignedUnits(text));
}
