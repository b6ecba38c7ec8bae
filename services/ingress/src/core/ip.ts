/**
 * Source-IP decisions: which address a request came from (honouring X-Forwarded-For only
 * through explicitly trusted proxies) and whether it is on a provider's allowlist.
 */
import ipaddr from 'ipaddr.js';

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

export const FORWARDED_HOPS_MAX = 16;

/** Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). Throws naming the bad entry. */
export function parseCidr(text: string): Cidr {
  try {
    if (text.includes('/')) return normalizeCidr(ipaddr.parseCIDR(text));
    const address = ipaddr.parse(text);
    return normalizeCidr([address, address.kind() === 'ipv4' ? 32 : 128]);
  } catch {
    throw new Error(`"${text}" is not an IP address or CIDR`);
  }
}

function normalizeCidr([address, bits]: [ipaddr.IPv4 | ipaddr.IPv6, number]): Cidr {
  // An IPv4-mapped IPv6 range ("::ffff:10.0.0.0/104") is treated as the IPv4 range.
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [address, bits];
}

/** Parses an address, unwrapping IPv4-mapped IPv6 ("::ffff:1.2.3.4" → 1.2.3.4). Null when invalid. */
export function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    const address = ipaddr.parse(text.trim());
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
      return (address as ipaddr.IPv6).toIPv4Address();
    }
    return address;
  } catch {
    return null;
  }
}

export function inAnyCidr(address: ipaddr.IPv4 | ipaddr.IPv6, ranges: readonly Cidr[]): boolean {
  for (const [range, bits] of ranges) {
    if (range.kind() === address.kind() && address.match(range, bits)) return true;
  }
  return false;
}

const PEER_MEMO_MAX = 1024;
/** Socket peer text → its parsed address and normal form (a pure function of the text; bounded, emptied when full). */
const peer_memo = new Map<string, { address: ipaddr.IPv4 | ipaddr.IPv6 | null; text: string }>();

function peerAddress(peer: string): { address: ipaddr.IPv4 | ipaddr.IPv6 | null; text: string } {
  let known = peer_memo.get(peer);
  if (known === undefined) {
    if (peer_memo.size >= PEER_MEMO_MAX) peer_memo.clear();
    const address = parseAddress(peer);
    known = { address, text: address === null ? peer : address.toString() };
    peer_memo.set(peer, known);
  }
  return known;
}

/**
 * The client address: the socket peer, unless the peer is a trusted proxy, in which case
 * X-Forwarded-For is walked right to left past trusted hops to the first untrusted one.
 * Unparseable entries stop the walk at the last trusted address (fail closed).
 */
export function clientAddress(peer: string, forwarded_for: string | undefined, trusted_proxies: readonly Cidr[]): string {
  const { address: peer_address, text: peer_text } = peerAddress(peer);
  if (peer_address === null) return peer;
  let current = peer_address;
  if (forwarded_for === undefined || trusted_proxies.length === 0) return peer_text;
  const hops = forwarded_for.split(',').slice(-FORWARDED_HOPS_MAX);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!inAnyCidr(current, trusted_proxies)) break;
    const next = parseAddress(hops[i]!);
    if (next === null) break;
    current = next;
  }
  return current.toString();
}

/** Allowed when no allowlist is set, or when `address` is in one of its ranges. */
export function ipAllowed(address: string, allowlist: readonly Cidr[]): boolean {
  if (allowlist.length === 0) return true;
  const parsed = parseAddress(address);
  return parsed !== null && inAnyCidr(parsed, allowlist);
}
