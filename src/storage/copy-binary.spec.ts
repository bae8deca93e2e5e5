import type { Reading } from '../common/types';
import {
  BinaryRowEncoder,
  CopyBinaryBuffer,
  countTuples,
  isBinaryChunk,
  partitionRetimed,
  readPgTimestampMs,
  splitTuples,
  tupleEnd,
  tupleOffsets,
  tuplesToText,
  tupleTimes,
} from './copy-binary';
import { CopyRowEncoder, MAX_TS, MIN_TS } from './copy-row.encoder';

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

function encode(rs: readonly Reading[]): Buffer {
  const enc = new BinaryRowEncoder();
  const out = new CopyBinaryBuffer(1024);
  const errors = rs.map((r) => enc.encode(r, out)).filter((e) => e !== undefined);
  expect(errors).toEqual([]);
  return out.take();
}

/** Readings with every field shape the encoder has a branch for. */
const MIXED: Reading[] = [
  reading(),
  reading({ value: true, quality: 'uncertain', seq: 0 }),
  reading({ value: false, quality: 'bad', seq: Number.MAX_SAFE_INTEGER }),
  reading({ channel: 'mode', value: 'auto\tmanual\\x\nz', seq: 4_294_967_296 }),
  reading({ siteId: '工厂-北', deviceId: 'gd-✓', value: -1.25e-300 }),
  reading({ siteId: 'a\u0000b', value: 'nul\u0000inside', ts: MIN_TS }),
  reading({ ts: MAX_TS, value: Number.MAX_VALUE, seq: 4_294_967_295 }),
  reading({ ts: 0, value: -0 }),
  reading({ ts: -1, value: 3 }),
];

describe('BinaryRowEncoder', () => {
  it('should render, through tuplesToText, exactly the lines the text encoder writes for the same readings', () => {
    const text = new CopyRowEncoder();
    const expected = MIXED.map((r) => text.encode(r) as string).join('');
    expect(tuplesToText(encode(MIXED))).toBe(expected);
  });

  it('should write the time as µs since 2000-01-01 and read it back exactly across the whole range', () => {
    const samples = [
      MIN_TS,
      -1,
      0,
      946_684_800_000,
      946_684_799_999,
      Date.UTC(2026, 10, 24, 10, 0, 0, 123),
      MAX_TS,
    ];
    const buf = encode(samples.map((ts) => reading({ ts })));
    expect([...tupleTimes(buf)]).toEqual(samples);
    // 2000-01-01 00:00:00.001 is 1000 µs: the int64 right after the field count and the field length
    const one = encode([reading({ ts: 946_684_800_001 })]);
    expect(one.readBigInt64BE(6)).toBe(1000n);
    expect(readPgTimestampMs(one, 6)).toBe(946_684_800_001);
  });

  it('should refuse, writing nothing, a reading it cannot store', () => {
    const enc = new BinaryRowEncoder();
    const out = new CopyBinaryBuffer(1024);
    expect(enc.encode(reading({ ts: MAX_TS + 1 }), out)).toMatch(/timestamp out of range/);
    expect(enc.encode(reading({ ts: 1.5 }), out)).toMatch(/timestamp out of range/);
    expect(enc.encode(reading({ seq: -1 }), out)).toMatch(/invalid seq/);
    expect(enc.encode(reading({ quality: 'odd' as Reading['quality'] }), out)).toMatch(/unknown quality/);
    expect(enc.encode(reading({ value: {} as unknown as number }), out)).toMatch(/unsupported value type/);
    expect(out.byteLength).toBe(0);
  });

  it('should grow its buffer beyond the initial size without losing bytes', () => {
    const many = Array.from({ length: 500 }, (_, i) => reading({ ts: 1_000_000 + i, value: i, seq: i }));
    const buf = encode(many);
    expect(countTuples(buf)).toBe(500);
    expect([...tupleTimes(buf)].at(-1)).toBe(1_000_000 + 499);
  });
});

describe('binary chunks', () => {
  it('should tell binary tuples from COPY text by the first byte', () => {
    expect(isBinaryChunk(encode([reading()]))).toBe(true);
    expect(isBinaryChunk('2026-11-24 10:00:00.123+00\ts1\n')).toBe(false);
    expect(isBinaryChunk(Buffer.from('2026-11-24'))).toBe(false);
    expect(isBinaryChunk(Buffer.alloc(0))).toBe(false);
  });

  it('should split at a tuple boundary into halves that together are the whole', () => {
    const buf = encode(MIXED);
    const [a, b] = splitTuples(buf, MIXED.length);
    expect([a!.rows, b!.rows]).toEqual([4, 5]);
    expect(countTuples(a!.text)).toBe(4);
    expect(countTuples(b!.text)).toBe(5);
    expect(Buffer.concat([a!.text, b!.text]).equals(buf)).toBe(true);
  });

  it('should find a partial last tuple (-1) and bytes that are no tuple (-2)', () => {
    const buf = encode(MIXED.slice(0, 3));
    const cut = buf.subarray(0, buf.length - 3);
    expect(tupleOffsets(cut)).toEqual({
      starts: tupleOffsets(buf).starts.slice(0, 2),
      end: tupleOffsets(buf).starts[2],
    });
    expect(tupleEnd(cut, tupleOffsets(buf).starts[2]!)).toBe(-1);
    expect(tupleEnd(Buffer.from([0, 7, 0, 0]), 0)).toBe(-2);
    expect(tupleEnd(Buffer.from([0, 10, 0, 0]), 0)).toBe(-2);
    expect(countTuples(Buffer.concat([buf, Buffer.from([0, 7])]))).toBe(3);
  });
});

describe('re-timed readings (docs/adr/0027-retimed-readings-key.md)', () => {
  const SOURCE = Date.UTC(2026, 10, 24, 10, 1, 0, 456);

  it('should write a 9th field, source_time, only for a reading that carries sourceTs', () => {
    const plain = encode([reading({ seq: 3 })]);
    const retimed = encode([reading({ seq: 3, sourceTs: SOURCE })]);
    expect(plain.readInt16BE(0)).toBe(8);
    expect(retimed.readInt16BE(0)).toBe(9);
    expect(retimed.length).toBe(plain.length + 12);
    expect(retimed.subarray(2, plain.length).equals(plain.subarray(2))).toBe(true); // the 8 fields are the same
    expect(retimed.readInt32BE(plain.length)).toBe(8);
    expect(readPgTimestampMs(retimed, plain.length + 4)).toBe(SOURCE);
    expect(tupleEnd(retimed, 0)).toBe(retimed.length);
    // Dead letters show the stored columns, as the text encoder writes them.
    expect(tuplesToText(retimed)).toBe(tuplesToText(plain));
  });

  it('should refuse a source time out of range, and write nothing', () => {
    const out = new CopyBinaryBuffer(1024);
    expect(new BinaryRowEncoder().encode(reading({ sourceTs: MAX_TS + 1 }), out)).toMatch(/source timestamp/);
    expect(new BinaryRowEncoder().encode(reading({ sourceTs: 1.5 }), out)).toMatch(/source timestamp/);
    expect(out.len).toBe(0);
  });

  it('should count, split and time mixed chunks, and sort their tuples by kind in order', () => {
    const rs = [
      reading({ seq: 1 }),
      reading({ seq: 2, sourceTs: SOURCE }),
      reading({ seq: 3, sourceTs: SOURCE + 1 }),
      reading({ seq: 4 }),
      reading({ seq: 5, sourceTs: SOURCE + 2 }),
    ];
    const buf = encode(rs);
    expect(countTuples(buf)).toBe(5);
    expect([...tupleTimes(buf)]).toEqual(rs.map((r) => r.ts));
    const [a, b] = splitTuples(buf, 5);
    expect(Buffer.concat([a!.text, b!.text]).equals(buf)).toBe(true);
    expect([countTuples(a!.text), countTuples(b!.text)]).toEqual([2, 3]);

    const p = partitionRetimed(buf);
    expect([p.plainRows, p.retimedRows]).toEqual([2, 3]);
    expect(p.plain.equals(encode([rs[0]!, rs[3]!]))).toBe(true);
    expect(p.retimed.equals(encode([rs[1]!, rs[2]!, rs[4]!]))).toBe(true);
  });

  it('should hand a chunk without re-timed tuples back as it is (no copy)', () => {
    const buf = encode(MIXED);
    const p = partitionRetimed(buf);
    expect(p.plain).toBe(buf);
    expect([p.plainRows, p.retimedRows, p.retimed.length]).toEqual([MIXED.length, 0, 0]);
  });
});
