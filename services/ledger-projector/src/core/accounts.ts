/**
 * Chart of accounts, per asset.
 *
 * Sign convention: an account's balance is sum(debits) - sum(credits) ("debit-positive").
 *
 *   wallet/<wallet>/<asset>/pending    money seen on its way into the wallet (deposit detected)
 *   wallet/<wallet>/<asset>/available  money the wallet may use
 *   wallet/<wallet>/<asset>/held       money the wallet owns but may not use (REVIEW/BLOCK
 *                                      deposits, withdrawals in flight)
 *   external/<provider>/<asset>        the provider's custody clearing account: the contra
 *                                      account of every movement across the custody boundary
 *                                      (deposits in, withdrawals out). Its balance is the
 *                                      negative of what the ledger says that provider holds
 *                                      for all wallets.
 *
 * Every posting debits one account and credits another of the same asset with the same
 * positive amount, so the sum of all account balances per asset is zero by construction,
 * and the three wallet buckets are simply the balances of the three wallet accounts.
 */

export const WALLET_BUCKETS = ['pending', 'available', 'held'] as const;
export type WalletBucket = (typeof WALLET_BUCKETS)[number];

/** An account; `id` is its stable text id (computed once: ids are used many times per event). */
export type AccountRef =
  | { kind: 'wallet'; wallet_id: string; asset: string; bucket: WalletBucket; id: string }
  | { kind: 'external'; provider: string; asset: string; id: string };

export type AccountKind = 'wallet_pending' | 'wallet_available' | 'wallet_held' | 'external';

const e = encodeURIComponent;

/** Ids are stable and unambiguous: components are URI-encoded, so '/' never appears inside one. */
export function walletAccount(wallet_id: string, asset: string, bucket: WalletBucket): AccountRef {
  return { kind: 'wallet', wallet_id, asset, bucket, id: `wallet/${e(wallet_id)}/${e(asset)}/${bucket}` };
}

export function externalAccount(provider: string, asset: string): AccountRef {
  return { kind: 'external', provider, asset, id: `external/${e(provider)}/${e(asset)}` };
}

export function accountId(ref: AccountRef): string {
  return ref.id;
}

export function accountKind(ref: AccountRef): AccountKind {
  return ref.kind === 'wallet' ? `wallet_${ref.bucket}` : 'external';
}
