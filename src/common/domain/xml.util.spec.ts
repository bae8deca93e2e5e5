import { escapeXml } from './xml.util';

describe('escapeXml', () => {
  it('should escape the five XML special characters', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
  it('should not double-escape what it escaped once', () => {
    expect(escapeXml('&amp;')).toBe('&amp;amp;');
  });
  it('should keep tab, newline, CJK and astral characters and replace what XML 1.0 cannot carry', () => {
    expect(escapeXml('氯气\t\n😀')).toBe('氯气\t\n😀');
    expect(escapeXml('a\u0000b\u001Bc\uFFFEd\uD800e')).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFDe');
  });
});
