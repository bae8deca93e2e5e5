import type { Reading } from '../common/types';
import {
  copyColumnsOf,
  CopyRowEncoder,
  CopyTextBuffer,
  escapeCopyText,
  MAX_TS,
  TELEMETRY_COLUMNS,
  TELEMETRY_COLUMNS_V1,
  TimestampFormatter,
} from './copy-row.encoder';

const reading = (over: Partial<Reading> = {}): Reading => ({
  siteId: 's1',
  deviceId: 'd1',
  channel: 'conc',
  ts: Date.UTC(2026, 10, 24, 10, 0, 0, 123),
  value: 12.5,
  quality: 'good',
  receivedAt: Date.UTC(2026, 10, 24, 10, 0, 0, 200),
  ...over,
});

/** Inverse of COPY text escaping, for assertions. */
function unescape(field: string): string {
  return field.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
}

describe('escapeCopyText', () => {
  it('should return the same string when nothing needs escaping', () => {
    const s = 'plain ASCII and 中文 ✓';
    expect(escapeCopyText(s)).toBe(s);
  });

  it('should escape backslash, tab, newline and carriage return when present', () => {
    expect(escapeCopyText('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(unescape(escapeCopyText('a\\b\tc\nd\re'))).toBe('a\\b\tc\nd\re');
  });

  it('should replace NUL with U+FFFD when the text contains one (PostgreSQL text cannot hold NUL)', () => {
    expect(escapeCopyText('a\u0000b')).toBe('a\uFFFDb');
  });

  it('should never produce the end-of-data marker when a value is a backslash-dot line', () => {
    expect(escapeCopyText('\\.')).toBe('\\\\.');
  });
});

describe('TimestampFormatter', () => {
  it('should match toISOString (as +00 offset) when formatting timestamps across days and years', () => {
    const f = new TimestampFormatter();
    const samples = [
      0,
      1,
      999,
      86_399_999,
      86_400_000,
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      Date.UTC(2026, 10, 24, 10, 0, 0, 123),
      -1,
      MAX_TS,
    ];
    let seed = 7;
    for (let i = 0; i < 500; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      samples.push(Date.UTC(2024, 0, 1) + seed * 17);
    }
    for (const ms of samples) {
      const iso = new Date(ms).toISOString();
      expect(f.format(ms)).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 23)}+00`);
    }
  });
});

describe('CopyRowEncoder', () => {
  it('should encode a numeric reading as one tab-separated line with a NULL text value when the value is a number', () => {
    expect(new CopyRowEncoder().encode(reading())).toBe(
      '2026-11-24 10:00:00.123+00\ts1\td1\tconc\t12.5\t\\N\t0\t\\N\n',
    );
  });

  it('should store booleans as 1/0 when the value is a boolean', () => {
    const enc = new CopyRowEncoder();
    expect(enc.encode(reading({ channel: 'fault', value: true }))).toContain('\tfault\t1\t\\N\t0\t\\N\n');
    expect(enc.encode(reading({ channel: 'fault', value: false }))).toContain('\tfault\t0\t\\N\t0\t\\N\n');
  });

  it('should put strings in text_value, escaped, with a NULL value when the value is a string', () => {
    const line = new CopyRowEncoder().encode(
      reading({ channel: 'position', value: 'open\tvalve\nA\\B', quality: 'bad' }),
    );
    expect(line).toBe('2026-11-24 10:00:00.123+00\ts1\td1\tposition\t\\N\topen\\tvalve\\nA\\\\B\t2\t\\N\n');
  });

  it('should map quality to 0/1/2 when encoding', () => {
    const enc = new CopyRowEncoder();
    expect(enc.encode(reading({ quality: 'uncertain' }))).toMatch(/\t1\t\\N\n$/);
    expect(enc.encode(reading({ quality: 'bad' }))).toMatch(/\t2\t\\N\n$/);
  });

  it('should end the line with the message seq (part of the storage key), \\N when the device sent none', () => {
    const enc = new CopyRowEncoder();
    expect(enc.encode(reading({ seq: 42 }))).toMatch(/\t12\.5\t\\N\t0\t42\n$/);
    expect(enc.encode(reading({ seq: 42, quality: 'bad' }))).toMatch(/\t2\t42\n$/);
    expect(enc.encode(reading({ seq: 0 }))).toMatch(/\t0\t0\n$/);
    expect(enc.encode(reading())).toMatch(/\t0\t\\N\n$/);
    expect(enc.encode(reading({ seq: -1 }))).toEqual({ error: 'invalid seq: -1' });
    expect(enc.encode(reading({ seq: 2 ** 53 }))).toEqual({ error: `invalid seq: ${2 ** 53}` });
  });

  it('should tell the column list of a chunk from its first line (seven fields: written before seq)', () => {
    const enc = new CopyRowEncoder();
    const line = enc.encode(reading({ seq: 3 })) as string;
    expect(copyColumnsOf(line + line)).toBe(TELEMETRY_COLUMNS);
    expect(copyColumnsOf(Buffer.from(line))).toBe(TELEMETRY_COLUMNS);
    const v1 = line.replace(/\t3\n$/, '\n');
    expect(copyColumnsOf(v1 + line)).toBe(TELEMETRY_COLUMNS_V1);
    expect(copyColumnsOf(Buffer.from(v1))).toBe(TELEMETRY_COLUMNS_V1);
  });

  it('should keep special floats PostgreSQL understands when the value is NaN or infinite', () => {
    const enc = new CopyRowEncoder();
    expect(enc.encode(reading({ value: Number.NaN }))).toContain('\tNaN\t');
    expect(enc.encode(reading({ value: -Infinity }))).toContain('\t-Infinity\t');
  });

  it('should not reuse a cached prefix when the device changes between readings', () => {
    const enc = new CopyRowEncoder();
    enc.encode(reading());
    expect(enc.encode(reading({ deviceId: 'd2' }))).toContain('\ts1\td2\tconc\t');
    expect(enc.encode(reading({ siteId: 's2', deviceId: 'd2' }))).toContain('\ts2\td2\tconc\t');
  });

  it('should return an error instead of a line when the timestamp cannot be stored', () => {
    const enc = new CopyRowEncoder();
    expect(enc.encode(reading({ ts: Number.NaN }))).toEqual({ error: expect.stringContaining('timestamp') });
    expect(enc.encode(reading({ ts: MAX_TS + 1 }))).toEqual({ error: expect.stringContaining('timestamp') });
    expect(enc.encode(reading({ ts: 1.5 }))).toEqual({ error: expect.stringContaining('timestamp') });
  });
});

describe('CopyTextBuffer', () => {
  it('should give back exactly the UTF-8 bytes of the lines appended since the last take, growing as needed', () => {
    const b = new CopyTextBuffer(16); // starts at 1 KiB: 300 lines force growth
    const lines = Array.from(
      { length: 300 },
      (_, i) => `2026-11-26 00:00:00.000+00\tsite\t氯气-${i}\tconc\t${i / 7}\t\\N\t0\n`,
    );
    for (const l of lines) b.append(l);
    const first = b.take();
    expect(first.toString('utf8')).toBe(lines.join(''));
    expect(first.byteLength).toBe(Buffer.byteLength(lines.join(''), 'utf8'));
    expect(b.byteLength).toBe(0);
    b.append('x\n');
    expect(b.take().toString('utf8')).toBe('x\n');
    expect(first.toString('utf8')).toBe(lines.join('')); // a taken chunk is its own copy
  });

  it('should store 4-byte characters (surrogate pairs) whole', () => {
    const b = new CopyTextBuffer(1);
    const line = '🔥'.repeat(600) + '\n';
    b.append(line);
    expect(b.take().toString('utf8')).toBe(line);
  });
});
