/**
 * TRUST_PROXY: which reverse proxies may tell hazwatch the client's address (X-Forwarded-For). Parsed once at start;
 * the same predicate drives Express (`trust proxy` set to a function) and the /ws upgrade, so HTTP limits, WebSocket
 * limits and logs see the same client address (docs/threat-model.md, "Reverse proxies").
 *
 *   unset / "false" / "0"   no proxy: the TCP peer is the client
 *   "1", "2", …             that many proxy hops in front of hazwatch are trusted, whatever their address
 *   "127.0.0.1,10.0.0.0/8"  proxies at these addresses or CIDR ranges (IPv4/IPv6; also loopback, linklocal, uniquelocal)
 *
 * Pure apart from node:net's address parsing.
 */
import { BlockList, isIP } from 'node:net';

export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'addresses'; readonly entries: readonly string[]; readonly list: BlockList };

const NAMED: Record<string, readonly string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

export class TrustProxyError extends Error {}

/** Parses TRUST_PROXY; throws TrustProxyError with a message that says what is accepted. */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = (raw ?? '').trim();
  if (value === '' || value === 'false' || value === '0') return { kind: 'none' };
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 10) throw new TrustProxyError(`hop count ${hops} is implausible (at most 10)`);
    return { kind: 'hops', hops };
  }
  if (value === 'true')
    throw new TrustProxyError(
      '"true" would trust any X-Forwarded-For a client sends; give the hop count (e.g. 1) or the proxy addresses/CIDRs',
    );
  const list = new BlockList();
  const entries: string[] = [];
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    for (const item of NAMED[part] ?? [part]) {
      const [addr = '', prefixText] = item.split('/');
      const family = isIP(addr);
      if (family === 0)
        throw new TrustProxyError(
          `'${part}' is neither a hop count, an IP address, a CIDR range (10.0.0.0/8) nor loopback|linklocal|uniquelocal`,
        );
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefixText === undefined) list.addAddress(addr, type);
      else {
        const prefix = Number(prefixText);
        if (!/^\d+$/.test(prefixText) || prefix > (family === 4 ? 32 : 128))
          throw new TrustProxyError(`'${part}': prefix length /${prefixText} is not valid for IPv${family}`);
        list.addSubnet(addr, prefix, type);
      }
    }
    entries.push(part);
  }
  if (entries.length === 0) throw new TrustProxyError('empty list');
  return { kind: 'addresses', entries, list };
}

function normalise(addr: string): { addr: string; type: 'ipv4' | 'ipv6' } | undefined {
  const a = addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
  const family = isIP(a);
  return family === 0 ? undefined : { addr: a, type: family === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Express-compatible trust predicate: `addr` is the address of hop `i` (0 = the TCP peer). True means "this hop is a
 * trusted proxy, look further left in X-Forwarded-For".
 */
export function trustPredicate(t: TrustProxy): (addr: string, i: number) => boolean {
  switch (t.kind) {
    case 'none':
      return () => false;
    case 'hops':
      return (_addr, i) => i < t.hops;
    case 'addresses':
      return (addr) => {
        const n = normalise(addr);
        return n !== undefined && t.list.check(n.addr, n.type);
      };
  }
}

/**
 * The client address as Express computes it: start at the TCP peer and move left through X-Forwarded-For while the
 * current hop is trusted. Used for /ws upgrades (Express computes req.ip itself with the same predicate).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trust: (addr: string, i: number) => boolean,
): string {
  const start = peer ?? 'unknown';
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  if (header === undefined || header.trim() === '') return start;
  const hops = [
    start,
    ...header
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .reverse(),
  ];
  let i = 0;
  while (i < hops.length - 1 && trust(hops[i] as string, i)) i += 1;
  return hops[i] as string;
}

/** For the start-up log line. */
export function describeTrustProxy(t: TrustProxy): string {
  switch (t.kind) {
    case 'none':
      return 'no proxy trusted: the TCP peer is the client';
    case 'hops':
      return `${t.hops} proxy hop(s) trusted`;
    case 'addresses':
      return `proxies trusted at ${t.entries.join(', ')}`;
  }
}
