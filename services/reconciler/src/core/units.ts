/**
 * Amounts inside the reconciler's tallies are bigint units of 10^-18 (the ledger's own
 * scale, and the platform's 18-decimal limit), converted exactly from and to decimal
 * strings with @tidemark/common's money helpers.
 */
import { Decimal, fromBaseUnits, toBaseUnits } from '@tidemark/common/money';

export const UNIT_DECIMALS = 18;

export function formatUnits(units: bigint): string {
  return fromBaseUnits(units, UNIT_DECIMALS);
}

/** Signed decimal string ("-0.5", "12.000") to units; exact, throws beyond 18 decimals. */
export function parseSignedUnits(text: string): bigint {
  const negative = text.startsWith('-');
  const magnitude = negative ? text.slice(1) : text;
  const units = toBaseUnits(normalizePlain(magnitude), UNIT_DECIMALS);
  return negative ? -units : units;
}

/** "007.50" -> "7.50": Postgres and providers may pad; the strict parser wants canonical integers. */
function normalizePlain(text: string): string {
  const [int = '', frac] = text.split('.');
  const intPart = int.replace(/^0+(?=\d)/, '');
  return frac === undefined ? intPart : `${intPart}.${frac}`;
}

/** Exact decimal equality of two amount strings ("0.50000000" equals "0.5"). */
export function sameAmount(a: string, b: string): boolean {
  return new Decimal(a).eq(new Decimal(b));
}

/** a - b as a canonical decimal string. */
export function amountDifference(a: string, b: string): string {
  return new Decimal(a).minus(new Decimal(b)).toFixed();
}
