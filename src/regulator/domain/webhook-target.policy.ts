import ipaddr from 'ipaddr.js';
import { parseAddressRanges, type AddressRangeList } from '../../common/domain/address-ranges';

/**
 * Where a webhook may be delivered (docs/regulator-workflows.md, "Webhook targets"). A receiver must be a public
 * unicast address reached over http(s): loopback, link-local (169.254.0.0/16 with the cloud metadata addresses, fe80::/10),
 * private (10/8, 172.16/12, 192.168/16, fc00::/7), carrier-grade NAT (100.64/10, e.g. Alibaba Cloud's metadata
 * 100.100.100.200), unspecified, multicast, reserved and translated/mapped IPv6 forms of these are refused, unless an
 * admin names the range in HAZWATCH_WEBHOOK_ALLOW (comma-separated CIDRs or addresses). Range checks use ipaddr.js.
 */
export type WebhookAllowList = AddressRangeList;

export class WebhookTargetError extends Error {
  override readonly name = 'WebhookTargetError';
}

/** Parses HAZWATCH_WEBHOOK_ALLOW; throws with the bad entry. */
export function parseWebhookAllowList(value: string | undefined): WebhookAllowList {
  try {
    return parseAddressRanges(value);
  } catch (err) {
    throw new WebhookTargetError(err instanceof Error ? err.message : String(err));
  }
}

/** IPv4-mapped and NAT64 forms are judged as the IPv4 address they carry. */
function normalise(a: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (a.kind() === 'ipv6') {
    const v6 = a as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
    if (v6.range() === 'rfc6052') return new ipaddr.IPv4(v6.toByteArray().slice(12));
  }
  return a;
}

function allowed(a: ipaddr.IPv4 | ipaddr.IPv6, allow: WebhookAllowList): boolean {
  return allow.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits));
}

/** Undefined when `address` may receive webhooks, else why not (no internal detail beyond the range's name). */
export function refusedAddress(address: string, allow: WebhookAllowList): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return `'${address}' is not an IP address`;
  }
  const a = normalise(parsed);
  if (allowed(a, allow) || allowed(parsed, allow)) return undefined;
  const range = a.range();
  return range === 'unicast' ? undefined : `address range '${range}' is not allowed for webhooks`;
}

/** The URL's scheme and (for a literal address) its range; a host name is checked again once resolved. */
export function checkWebhookUrl(url: string, allow: WebhookAllowList): { host: string; literal: boolean } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WebhookTargetError('url must be an absolute http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new WebhookTargetError(
      `scheme '${u.protocol.replace(/:$/, '')}' is not allowed (http or https only)`,
    );
  if (u.username !== '' || u.password !== '')
    throw new WebhookTargetError('url must not carry credentials (the payload is signed instead)');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = ipaddr.isValid(host);
  if (literal) {
    const why = refusedAddress(host, allow);
    if (why) throw new WebhookTargetError(why);
  }
  return { host, literal };
}

/** All resolved addresses must pass (a name that resolves to one internal address is refused). */
export function checkResolved(addresses: readonly string[], allow: WebhookAllowList): void {
  if (addresses.length === 0) throw new WebhookTargetError('host name does not resolve');
  for (const a of addresses) {
    const why = refusedAddress(a, allow);
    if (why) throw new WebhookTargetError(why);
  }
}
