import { TileUrlError, parseTileUrl } from './tile-url';

describe('parseTileUrl', () => {
  it('accepts an http(s) template with {z}/{x}/{y} and names its origin', () => {
    expect(
      parseTileUrl('https://t0.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=abc'),
    ).toEqual({
      template: 'https://t0.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=abc',
      origin: 'https://t0.tianditu.gov.cn',
    });
    expect(parseTileUrl('http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png')?.origin).toBe('http://10.1.2.3:8080');
  });

  it('treats an empty value as no tile server', () => {
    expect(parseTileUrl('')).toBeNull();
    expect(parseTileUrl('  ')).toBeNull();
  });

  it.each([
    ['https://tiles.example/{z}/{x}.png', 'no {y}'],
    ['https://tiles.example/{z}/{x}/{y}/{s}.png', 'only {z}, {x} and {y}'],
    ['ftp://tiles.example/{z}/{x}/{y}.png', 'scheme ftp:'],
    ['javascript:alert(1)//{z}{x}{y}', 'scheme javascript:'],
    ['https://user:pw@tiles.example/{z}/{x}/{y}.png', 'credentials'],
    ['https://tiles.example/{z}/{x}/{y}.png?a="b"', 'quotes'],
    ['/tiles/{z}/{x}/{y}.png', 'not a URL'],
  ])('refuses %s (%s)', (raw, reason) => {
    expect(() => parseTileUrl(raw)).toThrow(TileUrlError);
    expect(() => parseTileUrl(raw)).toThrow(reason);
  });
});
