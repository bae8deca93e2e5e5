import { digestAuthorization, parseChallenge } from './sip-digest';
import { buildSip, hostPortOf, parseSip, uriOf } from './sip-message';

describe('SIP digest and messages', () => {
  it('should compute the RFC 2617 example response when qop=auth', () => {
    // RFC 2617 §3.5 (the method and uri differ from SIP but the arithmetic is the same)
    const c = parseChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    expect(c).toMatchObject({
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      algorithm: 'MD5',
    });
    const h = digestAuthorization(c!, {
      method: 'GET',
      uri: '/dir/index.html',
      username: 'Mufasa',
      password: 'Circle Of Life',
      nc: 1,
      cnonce: '0a4f113b',
    });
    expect(h).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(h).toContain('qop=auth, nc=00000001, cnonce="0a4f113b"');
  });

  it('should answer a challenge without qop (RFC 2069 style)', () => {
    const c = parseChallenge('Digest realm="sipp", nonce="abc"');
    expect(
      digestAuthorization(c!, { method: 'INVITE', uri: 'sip:8001@127.0.0.1', username: 'u', password: 'p' }),
    ).toMatch(
      /^Digest username="u", realm="sipp", nonce="abc", uri="sip:8001@127.0.0.1", response="[0-9a-f]{32}", algorithm=MD5$/,
    );
  });

  it('should parse compact headers, split Via lists and read the body by Content-Length', () => {
    const raw = Buffer.from(
      'SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2\r\ni: abc\r\nf: <sip:x@y>;tag=9\r\nl: 4\r\n\r\nv=0\r\nignored',
    );
    const m = parseSip(raw);
    expect(m).toMatchObject({ kind: 'response', status: 200, body: 'v=0\r' });
    expect(m?.headers.get('via')).toEqual(['SIP/2.0/UDP a;branch=1', 'SIP/2.0/UDP b;branch=2']);
    expect(uriOf(m?.headers.get('from')?.[0])).toBe('sip:x@y');
    expect(hostPortOf('sip:8001@127.0.0.1:5062;transport=udp')).toEqual({ host: '127.0.0.1', port: 5062 });
    expect(parseSip(buildSip('INFO sip:a@b SIP/2.0', [['Call-ID', 'x']], 'Signal=1\r\n'))).toMatchObject({
      kind: 'request',
      method: 'INFO',
      body: 'Signal=1\r\n',
    });
  });
});
