import { JsonPrescan, strictNumberReviver } from './json-prescan';

const scan = (text: string, depth = 4, chunk = 3): ReturnType<JsonPrescan['push']> => {
  const s = new JsonPrescan(depth);
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += chunk) {
    const p = s.push(bytes.subarray(i, i + chunk));
    if (p) return p;
  }
  return null;
};

describe('JsonPrescan', () => {
  it('should accept nesting up to the limit, across chunk boundaries', () => {
    expect(scan('{"a":[[{"b":1}]]}', 4)).toBeNull();
    expect(scan('[[[[]]]],[[[[]]]]', 4)).toBeNull();
  });

  it('should refuse nesting beyond the limit at the byte that exceeds it', () => {
    expect(scan('[[[[[1]]]]]', 4)).toEqual({ kind: 'too_deep', depth: 5, offset: 4 });
    expect(scan('['.repeat(100_000), 32)).toEqual({ kind: 'too_deep', depth: 33, offset: 32 });
  });

  it('should not count brackets inside strings, nor an escaped quote as a string end', () => {
    expect(scan('{"a":"[[[[[[[[[["}', 2)).toBeNull();
    expect(scan('{"a":"\\"[[[[[[[[[["}', 2)).toBeNull();
    expect(scan('{"a":"\\\\"}', 1)).toBeNull();
    expect(scan('{"a":"\\\\",[[[1]]]}', 2)?.kind).toBe('too_deep');
  });

  it('should find NUL bytes and \\u0000 escapes, but not an escaped backslash followed by u0000', () => {
    expect(scan('{"a":"x\u0000"}')?.kind).toBe('nul');
    expect(scan('{"a":"x\\u0000"}', 4, 1)?.kind).toBe('nul');
    expect(scan('{"a":"x\\\\u0000"}')).toBeNull();
    expect(scan('{"a":"\\u0041\\u00e9"}')).toBeNull();
  });
});

describe('strictNumberReviver', () => {
  it('should refuse integers beyond the safe range and non-finite numbers', () => {
    expect((): unknown => JSON.parse('{"m":9007199254740993}', strictNumberReviver) as unknown).toThrow(
      /safe integer range/,
    );
    expect((): unknown => JSON.parse('[1e400]', strictNumberReviver) as unknown).toThrow(
      /safe integer range/,
    );
    expect(JSON.parse('{"m":9007199254740991,"f":1.5,"n":-3}', strictNumberReviver)).toEqual({
      m: 9007199254740991,
      f: 1.5,
      n: -3,
    });
  });
});
