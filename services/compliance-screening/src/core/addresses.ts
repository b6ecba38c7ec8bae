/**
 * Sanctioned crypto addresses: normalization per address family and an exact-match
 * index built from the OFAC SDN "Digital Currency Address - <TICKER>" lists.
 *
 * OFAC's own identifier search is exact, so matching here is exact too — after
 * normalizing only what the address format itself declares insignificant:
 *  - EVM (0x + 40 hex: ETH, USDT/USDC on Ethereum, ARB, BSC, ETC, ...): case-insensitive
 *    (EIP-55 mixed case is a checksum, not part of the address) → lower case.
 *  - bech32 / bech32m (bc1…, ltc1…, tb1…): case-insensitive by spec → lower case.
 *  - CashAddr (Bitcoin Cash q…/p…, optional "bitcoincash:" prefix): lower case, prefix dropped.
 *  - everything else (base58: legacy BTC, TRX, LTC, DASH, ZEC t-addrs, XRP, XMR …): exact.
 *
 * The index is keyed by the normalized address only, not by asset: a sanctioned
 * address is sanctioned whatever asset label a provider puts on the transfer (the
 * USDT list alone mixes Ethereum, Tron and Omni addresses).
 */
import { createHash } from 'node:crypto';

export type AddressFamily = 'evm' | 'bech32' | 'cashaddr' | 'exact';

export interface NormalizedAddress {
  family: AddressFamily;
  normalized: string;
}

/** Longest address we accept from a list or an event (Monero integrated addresses are 106). */
export const ADDRESS_LENGTH_MAX = 128;

const EVM_PATTERN = /^0x[0-9a-fA-F]{40}$/;
// bech32: human-readable part, separator '1', data in the bech32 charset; one case only.
const BECH32_PATTERN = /^(bc|tb|bcrt|ltc|tltc)1[ac-hj-np-z02-9]{6,87}$/i;
const CASHADDR_PATTERN = /^(?:bitcoincash:)?([qp][ac-hj-np-z02-9]{41})$/i;

export function normalizeAddress(raw: string): NormalizedAddress {
  const text = raw.trim();
  if (EVM_PATTERN.test(text)) return { family: 'evm', normalized: text.toLowerCase() };
  // Mixed case is invalid bech32/CashAddr, but lower-casing it anyway means a
  // provider's sloppy casing can never route a sanctioned address past the list.
  if (BECH32_PATTERN.test(text)) return { family: 'bech32', normalized: text.toLowerCase() };
  const cash = CASHADDR_PATTERN.exec(text);
  if (cash) {
    return { family: 'cashaddr', normalized: (cash[1] as string).toLowerCase() };
  }
  return { family: 'exact', normalized: text };
}

export interface SanctionedAddress {
  /** The address as listed. */
  listed: string;
  /** Tickers of the lists that name it (e.g. ['ETH', 'USDT']). */
  tickers: string[];
}

export interface SanctionsList {
  /** 'sha256:<hex16>@<loaded ISO time>' — content hash and load time. */
  version: string;
  content_sha256: string;
  loaded_at_ms: number;
  source: string;
  address_count: number;
  /** normalized address → entry */
  by_address: ReadonlyMap<string, SanctionedAddress>;
}

/** One list file's content: ticker and raw text (one address per line). */
export interface SanctionsListFile {
  ticker: string;
  text: string;
}

export class SanctionsListError extends Error {
  override readonly name = 'SanctionsListError';
}

/** Tickers are the `<T>` in `sanctioned_addresses_<T>.txt`. */
export const LIST_FILE_PATTERN = /^sanctioned_addresses_([A-Z0-9]{1,16})\.txt$/;

export const SANCTIONS_ADDRESSES_MAX = 1_000_000;

/**
 * Builds the index from list files. Deterministic: the content hash is taken over
 * the files sorted by ticker, so the same content always yields the same hash.
 */
export function buildSanctionsList(files: SanctionsListFile[], opts: { source: string; loaded_at_ms: number }): SanctionsList {
  const sorted = [...files].sort((a, b) => (a.ticker < b.ticker ? -1 : a.ticker > b.ticker ? 1 : 0));
  const hash = createHash('sha256');
  const by_address = new Map<string, SanctionedAddress>();
  for (const file of sorted) {
    hash.update(`${file.ticker}\n`);
    hash.update(file.text);
    hash.update('\n\u0000');
    const lines = file.text.split(/\r?\n/);
    for (const [index, line] of lines.entries()) {
      const listed = line.trim();
      if (listed === '' || listed.startsWith('#')) continue;
      if (listed.length > ADDRESS_LENGTH_MAX || /\s/.test(listed)) {
        throw new SanctionsListError(`list ${file.ticker} line ${index + 1}: not an address (${listed.slice(0, 40)}…); fix the list file`);
      }
      const { normalized } = normalizeAddress(listed);
      const existing = by_address.get(normalized);
      if (existing) {
        if (!existing.tickers.includes(file.ticker)) existing.tickers.push(file.ticker);
      } else {
        by_address.set(normalized, { listed, tickers: [file.ticker] });
      }
      if (by_address.size > SANCTIONS_ADDRESSES_MAX) {
        throw new SanctionsListError(`sanctions list has more than ${SANCTIONS_ADDRESSES_MAX} addresses; refusing to load`);
      }
    }
  }
  if (by_address.size === 0)
    throw new SanctionsListError(`sanctions list from ${opts.source} has no addresses; refusing to load an empty list`);
  const content_sha256 = hash.digest('hex');
  return {
    version: `sha256:${content_sha256.slice(0, 16)}@${new Date(opts.loaded_at_ms).toISOString()}`,
    content_sha256,
    loaded_at_ms: opts.loaded_at_ms,
    source: opts.source,
    address_count: by_address.size,
    by_address,
  };
}

export interface AddressMatch {
  address: string;
  entry: SanctionedAddress;
}

export function lookupSanctionedAddress(list: SanctionsList, address: string | null): AddressMatch | null {
  if (address === null || address.length === 0 || address.length > ADDRESS_LENGTH_MAX) return null;
  const entry = list.by_address.get(normalizeAddress(address).normalized);
  return entry ? { address, entry } : null;
}
