import { clientAddress, parseTrustProxy, trustPredicate, TrustProxyError } from './trust-proxy';

describe('TRUST_PROXY', () => {
  it('should trust no proxy by default: the TCP peer is the client whatever X-Forwarded-For says', () => {
    const t = trustPredicate(parseTrustProxy(undefined));
    expect(clientAddress('127.0.0.1', '203.0.113.9', t)).toBe('127.0.0.1');
    expect(parseTrustProxy('false')).toEqual({ kind: 'none' });
  });

  it('should take the address one hop left of each trusted hop (hop count)', () => {
    const t = trustPredicate(parseTrustProxy('1'));
    expect(clientAddress('127.0.0.1', '203.0.113.9', t)).toBe('203.0.113.9');
    // a client-supplied X-Forwarded-For entry left of the proxy's is not believed
    expect(clientAddress('127.0.0.1', '6.6.6.6, 203.0.113.9', t)).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', undefined, t)).toBe('127.0.0.1');
    const two = trustPredicate(parseTrustProxy('2'));
    expect(clientAddress('127.0.0.1', '6.6.6.6, 203.0.113.9, 10.0.0.5', two)).toBe('203.0.113.9');
  });

  it('should trust proxies by address and CIDR (IPv4, IPv6, IPv4-mapped, named ranges)', () => {
    const t = trustPredicate(parseTrustProxy('10.0.0.0/8, ::1, loopback'));
    expect(clientAddress('10.1.2.3', '203.0.113.9', t)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:10.1.2.3', '203.0.113.9', t)).toBe('203.0.113.9');
    expect(clientAddress('::1', '198.51.100.1', t)).toBe('198.51.100.1');
    expect(clientAddress('192.0.2.7', '203.0.113.9', t)).toBe('192.0.2.7'); // not a trusted proxy
    expect(clientAddress('10.0.0.1', '203.0.113.9, 10.0.0.2', t)).toBe('203.0.113.9'); // two trusted hops
  });

  it('should refuse unusable values with a message that says what is accepted', () => {
    expect(() => parseTrustProxy('true')).toThrow(/hop count/);
    expect(() => parseTrustProxy('proxy.example')).toThrow(TrustProxyError);
    expect(() => parseTrustProxy('10.0.0.0/33')).toThrow(/prefix length/);
    expect(() => parseTrustProxy('99')).toThrow(/implausible/);
  });
});
