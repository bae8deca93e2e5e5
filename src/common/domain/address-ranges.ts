import ipaddr from 'ipaddr.js';

/** IP ranges as `[network, prefix bits]` (ipaddr.js values). */
export type AddressRangeList = readonly (readonly [ipaddr.IPv4 | ipaddr.IPv6, number])[];

/**
 * Parses a comma-separated list of CIDR ranges or single addresses (e.g. `10.20.0.0/16,192.168.5.7`); throws naming the
 * bad entry. Shared by the env validation (config) and the webhook target policy (regulator).
 */
export function parseAddressRanges(value: string | undefined): AddressRangeList {
  if (value === undefined || value.trim() === '') return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      try {
        if (entry.includes('/')) return ipaddr.parseCIDR(entry);
        const a = ipaddr.parse(entry);
        return [a, a.kind() === 'ipv4' ? 32 : 128] as const;
      } catch {
        throw new Error(`'${entry}' is not an IP address or CIDR range`);
      }
    });
}
