import { buildAtomFeed, type AtomEntry, type AtomPage } from './atom.builder';

const page = (o: Partial<AtomPage> = {}): AtomPage => ({
  selfUrl: 'http://h/feeds/alerts.atom',
  nextUrl: (b) => `http://h/feeds/alerts.atom?before=${b}`,
  feedId: 'urn:hazwatch:feeds:alerts:tianjin/binhai',
  title: 'hazwatch alerts',
  updated: '2026-11-24T18:00:00+08:00',
  author: 'hazwatch',
  more: false,
  maxBytes: 900_000,
  ...o,
});
const entry = (seq: number, summary = 's'): AtomEntry => ({
  identifier: `hazwatch-bohai-chem-al-1-${seq}`,
  seq,
  title: `alert ${seq} <&>`,
  updated: '2026-11-24T18:00:00+08:00',
  summary,
  msgType: 'Alert',
  priority: 'critical',
  siteId: 'bohai-chem',
  capUrl: `http://h/feeds/alerts/hazwatch-bohai-chem-al-1-${seq}.cap`,
});

describe('buildAtomFeed', () => {
  it('should list entries in the given order with a CAP link each and escaped text', () => {
    const r = buildAtomFeed(page(), [entry(3), entry(2)]);
    expect(r.included).toBe(2);
    expect(r.nextBefore).toBeUndefined();
    expect(r.xml).toContain('<feed xmlns="http://www.w3.org/2005/Atom">');
    expect(r.xml.indexOf('-3.cap')).toBeLessThan(r.xml.indexOf('-2.cap'));
    expect(r.xml).toContain(
      'type="application/cap+xml" href="http://h/feeds/alerts/hazwatch-bohai-chem-al-1-3.cap"',
    );
    expect(r.xml).toContain('<title>alert 3 &lt;&amp;&gt;</title>');
    expect(r.xml).not.toContain('rel="next"');
  });

  it('should link the next page from the last entry when more exist', () => {
    const r = buildAtomFeed(page({ more: true }), [entry(9), entry(8)]);
    expect(r.nextBefore).toBe(8);
    expect(r.xml).toContain('href="http://h/feeds/alerts.atom?before=8"');
  });

  it('should stop before the byte ceiling and page the rest', () => {
    const big = 'x'.repeat(3000);
    const entries = Array.from({ length: 100 }, (_, i) => entry(1000 - i, big));
    const r = buildAtomFeed(page({ maxBytes: 20_000 }), entries);
    expect(Buffer.byteLength(r.xml)).toBeLessThanOrEqual(20_000);
    expect(r.included).toBeGreaterThan(3);
    expect(r.included).toBeLessThan(100);
    expect(r.nextBefore).toBe(1000 - r.included + 1);
  });
});
