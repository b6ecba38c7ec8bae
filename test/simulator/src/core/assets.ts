/**
 * The assets and networks the simulated providers custody: realistic decimals,
 * confirmation depths, block times and address formats. Reference prices are rough
 * integers (micro-USD per whole unit) used only to steer amount sizes and to say
 * which transactions the simulator *intends* to be small and clean.
 */
import type { Rng } from './rng.js';

export type NetworkId = 'bitcoin' | 'ethereum' | 'solana' | 'tron' | 'litecoin';
export type AssetSymbol = 'BTC' | 'ETH' | 'USDC' | 'USDT' | 'SOL' | 'TRX' | 'LTC';

export interface AssetSpec {
  symbol: AssetSymbol;
  decimals: number;
  /** Rough reference price, micro-USD per whole unit. */
  usd_micro_per_unit: bigint;
}

export interface NetworkSpec {
  id: NetworkId;
  assets: readonly AssetSymbol[];
  confirmations_required: number;
  block_time_ms: number;
  /** OFAC SDN list tickers whose addresses live on this network. */
  sanctions_tickers: readonly string[];
  /** Does a listed address belong to this network (format check)? */
  address_pattern: RegExp;
  /** EVM addresses compare case-insensitively; Bitcoin-family ones do not. */
  addresses_case_insensitive: boolean;
  randomAddress(rng: Rng): string;
  randomTxHash(rng: Rng): string;
}

export const ASSETS: Readonly<Record<AssetSymbol, AssetSpec>> = {
  BTC: { symbol: 'BTC', decimals: 8, usd_micro_per_unit: 60_000_000_000n },
  ETH: { symbol: 'ETH', decimals: 18, usd_micro_per_unit: 3_000_000_000n },
  USDC: { symbol: 'USDC', decimals: 6, usd_micro_per_unit: 1_000_000n },
  USDT: { symbol: 'USDT', decimals: 6, usd_micro_per_unit: 1_000_000n },
  SOL: { symbol: 'SOL', decimals: 9, usd_micro_per_unit: 150_000_000n },
  TRX: { symbol: 'TRX', decimals: 6, usd_micro_per_unit: 120_000n },
  LTC: { symbol: 'LTC', decimals: 8, usd_micro_per_unit: 70_000_000n },
};

const HEX = '0123456789abcdef';
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

export const NETWORKS: Readonly<Record<NetworkId, NetworkSpec>> = {
  bitcoin: {
    id: 'bitcoin',
    assets: ['BTC'],
    confirmations_required: 3,
    block_time_ms: 600_000,
    sanctions_tickers: ['XBT'],
    address_pattern: /^(bc1[a-z0-9]{25,87}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})$/,
    addresses_case_insensitive: false,
    randomAddress: (rng) => (rng.chance(0.7) ? `bc1q${rng.chars(BECH32, 38)}` : `3${rng.chars(BASE58, 33)}`),
    randomTxHash: (rng) => rng.chars(HEX, 64),
  },
  ethereum: {
    id: 'ethereum',
    assets: ['ETH', 'USDC', 'USDT'],
    confirmations_required: 12,
    block_time_ms: 12_000,
    sanctions_tickers: ['ETH', 'USDC', 'USDT'],
    address_pattern: /^0x[0-9a-fA-F]{40}$/,
    addresses_case_insensitive: true,
    randomAddress: (rng) => `0x${rng.chars(HEX, 40)}`,
    randomTxHash: (rng) => `0x${rng.chars(HEX, 64)}`,
  },
  solana: {
    id: 'solana',
    assets: ['SOL', 'USDC'],
    confirmations_required: 32,
    block_time_ms: 400,
    sanctions_tickers: [],
    address_pattern: /^[1-9A-HJ-NP-Za-km-z]{32,44}$/,
    addresses_case_insensitive: false,
    randomAddress: (rng) => rng.chars(BASE58, 44),
    randomTxHash: (rng) => rng.chars(BASE58, 88),
  },
  tron: {
    id: 'tron',
    assets: ['TRX', 'USDT'],
    confirmations_required: 19,
    block_time_ms: 3_000,
    sanctions_tickers: ['TRX', 'USDT'],
    address_pattern: /^T[1-9A-HJ-NP-Za-km-z]{33}$/,
    addresses_case_insensitive: false,
    randomAddress: (rng) => `T${rng.chars(BASE58, 33)}`,
    randomTxHash: (rng) => rng.chars(HEX, 64),
  },
  litecoin: {
    id: 'litecoin',
    assets: ['LTC'],
    confirmations_required: 6,
    block_time_ms: 150_000,
    sanctions_tickers: ['LTC'],
    address_pattern: /^(ltc1[a-z0-9]{25,87}|[LM3][a-km-zA-HJ-NP-Z1-9]{25,34})$/,
    addresses_case_insensitive: false,
    randomAddress: (rng) => (rng.chance(0.5) ? `ltc1q${rng.chars(BECH32, 38)}` : `L${rng.chars(BASE58, 33)}`),
    randomTxHash: (rng) => rng.chars(HEX, 64),
  },
};

export const NETWORK_IDS = Object.keys(NETWORKS) as NetworkId[];

export function assetSpec(symbol: string): AssetSpec {
  const spec = (ASSETS as Record<string, AssetSpec>)[symbol];
  if (!spec) throw new Error(`unknown asset ${symbol}`);
  return spec;
}

/** Approximate USD value in micro-USD of `units` base units of `asset` (integer math). */
export function approxUsdMicro(asset: AssetSpec, units: bigint): bigint {
  return (units * asset.usd_micro_per_unit) / 10n ** BigInt(asset.decimals);
}

/** Base units worth about `usd_micro` micro-USD. */
export function unitsForUsdMicro(asset: AssetSpec, usd_micro: bigint): bigint {
  return (usd_micro * 10n ** BigInt(asset.decimals)) / asset.usd_micro_per_unit;
}
