/**
 * Four-eyes release: a release whose value in USD is above a configured amount needs a
 * second, different compliance officer to confirm it. The value uses the screening
 * service's price table; an asset without a price always needs the second officer.
 */
import { Decimal } from '@tidemark/common/money';

export interface FourEyesPolicy {
  /** Releases worth more than this many USD need a second officer (decimal string). */
  threshold_usd: string;
  /** USD price of one unit per asset (decimal strings). */
  prices: Readonly<Record<string, string>>;
}

export function releaseNeedsSecondOfficer(policy: FourEyesPolicy | null, asset: string, amount: string): boolean {
  if (!policy) return false;
  const price = policy.prices[asset];
  if (price === undefined) return true;
  return new Decimal(amount).mul(new Decimal(price)).gt(new Decimal(policy.threshold_usd));
}
