/**
 * OFAC SDN digital-currency addresses, as the generator uses them: per network, the
 * listed addresses whose format belongs to that network (the USDT list mixes Ethereum
 * and Tron addresses, for example).
 */
import { NETWORKS, type NetworkId } from './assets.js';

/** List ticker (XBT, ETH, USDT, ...) → addresses, as in the snapshot files. */
export type SanctionsSnapshot = Readonly<Record<string, readonly string[]>>;

export function sanctionedAddressesByNetwork(snapshot: SanctionsSnapshot): Record<NetworkId, string[]> {
  const out = {} as Record<NetworkId, string[]>;
  for (const network of Object.values(NETWORKS)) {
    const seen = new Set<string>();
    const list: string[] = [];
    for (const ticker of network.sanctions_tickers) {
      for (const address of snapshot[ticker] ?? []) {
        if (!network.address_pattern.test(address)) continue;
        const key = network.addresses_case_insensitive ? address.toLowerCase() : address;
        if (seen.has(key)) continue;
        seen.add(key);
        list.push(address);
      }
    }
    list.sort();
    out[network.id] = list;
  }
  return out;
}

/** Parses one snapshot file: one address per line, blank lines and `#` comments ignored. */
export function parseAddressList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#'));
}
