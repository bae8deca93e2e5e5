import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryRowEncoder, CopyBinaryBuffer, countTuples } from './copy-binary';
import { TelemetrySpool } from './telemetry.spool';

describe('TelemetrySpool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should hand out segments oldest-first and delete them only when removed', async () => {
    const spool = new TelemetrySpool(dir, 1_000_000, 20);
    spool.append('a\tline-1\n', 1000);
    spool.append('b\tline-2\n', 2000); // 9 + 9 bytes > 20? no: 18 fits
    spool.append('c\tline-3\n', 3000); // rotates: second segment
    expect(spool.bytes()).toBe(27);
    const first = spool.oldest()!;
    expect(first.oldestReceivedAt).toBe(1000);
    expect((await spool.read(first)).toString()).toBe('a\tline-1\nb\tline-2\n');
    spool.remove(first);
    const second = spool.oldest()!; // rotates the open segment
    expect((await spool.read(second)).toString()).toBe('c\tline-3\n');
    spool.remove(second);
    expect(spool.isEmpty()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('should refuse an append without writing when it would exceed maxBytes, unless forced', () => {
    const spool = new TelemetrySpool(dir, 10);
    expect(spool.append('12345678\n', 1)).toBe(true);
    expect(spool.append('abc\n', 2)).toBe(false);
    expect(spool.bytes()).toBe(9);
    expect(spool.append('abc\n', 2, true)).toBe(true);
    expect(spool.bytes()).toBe(13);
  });

  it('should find segments left by a previous run and cut a partial last line when reopened', async () => {
    const a = new TelemetrySpool(dir, 1_000_000);
    a.append('row-1\nrow-2\n', 5000);
    a.close();
    const [name] = readdirSync(dir);
    appendFileSync(join(dir, name!), 'row-3-partial-no-newline'); // crash in the middle of a write
    const b = new TelemetrySpool(dir, 1_000_000);
    expect(b.bytes()).toBe(12);
    expect(b.oldestReceivedAt()).toBe(5000);
    const seg = b.oldest()!;
    expect((await b.read(seg)).toString()).toBe('row-1\nrow-2\n');
    // New segments continue the numbering after the found ones.
    b.append('row-4\n', 6000);
    b.close();
    expect(readdirSync(dir).sort()).toHaveLength(2);
  });

  it('should rewrite a segment with the remaining rows when replaced', async () => {
    const spool = new TelemetrySpool(dir, 1_000_000);
    spool.append('r1\nr2\nr3\n', 1);
    const seg = spool.oldest()!;
    spool.replace(seg, Buffer.from('r3\n'));
    expect(spool.bytes()).toBe(3);
    expect(readFileSync(seg.path, 'utf8')).toBe('r3\n');
    expect((await spool.read(spool.oldest()!)).toString()).toBe('r3\n');
  });

  it('should report the earliest arrival time over open and closed segments', () => {
    const spool = new TelemetrySpool(dir, 1_000_000, 4);
    expect(spool.oldestReceivedAt()).toBeUndefined();
    spool.append('x1\n', 700);
    spool.append('x2\n', 300);
    expect(spool.oldestReceivedAt()).toBe(300);
  });

  describe('formats (text segments of older versions, binary segments of this one)', () => {
    const tuples = (n: number, from = 0): Buffer => {
      const enc = new BinaryRowEncoder();
      const out = new CopyBinaryBuffer(256);
      for (let i = 0; i < n; i++)
        enc.encode(
          {
            siteId: 's',
            deviceId: 'd',
            channel: 'conc',
            ts: 1_000 + from + i,
            value: i,
            quality: 'good',
            receivedAt: 0,
          },
          out,
        );
      return out.take();
    };

    it('should keep each format in segments of its own, named by format, and hand them out in order', async () => {
      const spool = new TelemetrySpool(dir, 1_000_000);
      spool.append('2026-11-24 10:00:00.000+00\ts\td\tconc\t1\t\\N\t0\n', 1); // e.g. a text remainder
      spool.append(tuples(2), 2); // the format changes: a new segment
      spool.append(tuples(1, 2), 3); // same format: same segment
      spool.close();
      expect(readdirSync(dir).map((n) => n.replace(/^seg-\d+-/, ''))).toEqual(['1.copy', '2.bcopy']);
      const again = new TelemetrySpool(dir, 1_000_000);
      const first = again.oldest()!;
      expect(first.format).toBe('text');
      again.remove(first);
      const second = again.oldest()!;
      expect(second.format).toBe('binary');
      expect(countTuples(await again.read(second))).toBe(3);
    });

    it('should cut a partial last tuple of a binary segment when reopened (crash during append)', async () => {
      const a = new TelemetrySpool(dir, 1_000_000);
      a.append(tuples(3), 5000);
      a.close();
      const [name] = readdirSync(dir);
      appendFileSync(join(dir, name!), tuples(1, 3).subarray(0, 20));
      const b = new TelemetrySpool(dir, 1_000_000);
      expect(b.bytes()).toBe(tuples(3).length);
      expect((await b.read(b.oldest()!)).equals(tuples(3))).toBe(true);
      expect(readdirSync(dir)).toEqual([name]);
    });

    it('should keep bytes that are no tuple in a .damaged file, never replayed, and replay the tuples before them', async () => {
      const a = new TelemetrySpool(dir, 1_000_000);
      a.append(tuples(2), 5000);
      a.close();
      const [name] = readdirSync(dir);
      appendFileSync(join(dir, name!), Buffer.from([0, 3, 1, 2, 3, 4, 5]));
      const b = new TelemetrySpool(dir, 1_000_000);
      expect(b.segmentCount()).toBe(1);
      expect(countTuples(await b.read(b.oldest()!))).toBe(2);
      expect(readFileSync(join(dir, `${name!}.damaged`))).toEqual(Buffer.from([0, 3, 1, 2, 3, 4, 5]));
    });
  });
});
