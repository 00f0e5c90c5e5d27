/**
 * End-user IP addresses: parsing, CIDR lists, and the key a counter uses.
 */
import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export function isIpOrCidr(value: string): boolean {
  if (isIP(value) !== 0) return true;
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

/** A parsed address in canonical text, IPv4-mapped IPv6 as plain IPv4; undefined when not an address. */
export function canonicalIp(value: string): string | undefined {
  const trimmed = value.trim();
  if (!ipaddr.isValid(trimmed) || isIP(trimmed) === 0) return undefined;
  const parsed = ipaddr.parse(trimmed);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toString();
  }
  return parsed.toString();
}

/**
 * What counters key on: the address itself for IPv4, the /64 for IPv6,
 * where one subscriber usually holds a whole /64 and could otherwise rotate
 * through 2^64 addresses to dodge a per-IP limit.
 */
export function ipCounterKey(canonical: string): string {
  if (isIP(canonical) !== 6) return canonical;
  const parts = (ipaddr.parse(canonical) as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

/** A list of addresses and CIDR blocks; matching handles IPv4-mapped IPv6 peers. */
export class IpList {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      if (entry.includes('/')) {
        const [address, prefix] = ipaddr.parseCIDR(entry);
        this.list.addSubnet(address.toString(), prefix, address.kind() === 'ipv6' ? 'ipv6' : 'ipv4');
      } else {
        const canonical = canonicalIp(entry);
        if (canonical !== undefined) this.list.addAddress(canonical, isIP(canonical) === 6 ? 'ipv6' : 'ipv4');
      }
    }
  }

  has(canonical: string): boolean {
    if (this.empty) return false;
    return this.list.check(canonical, isIP(canonical) === 6 ? 'ipv6' : 'ipv4');
  }
}
