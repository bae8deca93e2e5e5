import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import type { Database } from './database.service';
import { DEAD_LETTER_BUFFER_MAX, DeadLetterRepository, pgText } from './dead-letter.repository';

class QuietLogger extends JsonLogger {
  override info(): void {}
  override warn(): void {}
  override error(): void {}
}

/** A fake Database: records INSERT parameter arrays; can be made to fail. */
function fakeDb(): { db: Database; inserts: unknown[][][]; fail: { on: boolean } } {
  const inserts: unknown[][][] = [];
  const fail = { on: false };
  const db = {
    query: async (_sql: string, params: unknown[][]) => {
      if (fail.on) throw new Error('connect ECONNREFUSED');
      inserts.push(params);
      return { rows: [], rowCount: params[0]!.length };
    },
  } as unknown as Database;
  return { db, inserts, fail };
}

const letter = (i: number, payload = Buffer.from(`{"bad":${i}`)) => ({
  topic: `hazwatch/v1/s/d${i}/telemetry`,
  reason: 'invalid_json',
  detail: `bad ${i}`,
  payload,
  receivedAt: 1_700_000_000_000 + i,
});

describe('DeadLetterRepository', () => {
  it('should write buffered dead letters as multi-row inserts of at most batchMax rows when flushed', async () => {
    const { db, inserts } = fakeDb();
    const repo = new DeadLetterRepository({
      db,
      metrics: new HazwatchMetrics(false),
      maxRows: 1000,
      batchMax: 2,
      log: new QuietLogger(),
    });
    for (let i = 0; i < 5; i++) repo.record(letter(i));
    await repo.flush();
    expect(inserts.map((p) => (p[1] as string[]).length)).toEqual([2, 2, 1]);
    expect(inserts[0]![2]).toEqual(['invalid_json', 'invalid_json']);
    expect(inserts[0]![0]).toEqual([new Date(1_700_000_000_000), new Date(1_700_000_000_001)]);
    expect(repo.pending()).toBe(0);
  });

  it('should keep only the first 1 KiB of a payload when recording', async () => {
    const { db, inserts } = fakeDb();
    const repo = new DeadLetterRepository({
      db,
      metrics: new HazwatchMetrics(false),
      maxRows: 1000,
      log: new QuietLogger(),
    });
    repo.record(letter(1, Buffer.alloc(4096, 7)));
    await repo.flush();
    const payload = (inserts[0]![4] as Buffer[])[0]!;
    expect(payload.length).toBe(1024);
  });

  it('should keep dead letters while the database fails and write them once it answers', async () => {
    const { db, inserts, fail } = fakeDb();
    const repo = new DeadLetterRepository({
      db,
      metrics: new HazwatchMetrics(false),
      maxRows: 1000,
      log: new QuietLogger(),
    });
    fail.on = true;
    repo.record(letter(1));
    await repo.flush();
    expect(repo.pending()).toBe(1);
    fail.on = false;
    await repo.flush();
    expect(repo.pending()).toBe(0);
    expect(inserts).toHaveLength(1);
  });

  it('should count instead of holding dead letters beyond the buffer bound when the database is down', async () => {
    const { db, fail } = fakeDb();
    const metrics = new HazwatchMetrics(false);
    const repo = new DeadLetterRepository({ db, metrics, maxRows: 1000, log: new QuietLogger() });
    fail.on = true;
    for (let i = 0; i < DEAD_LETTER_BUFFER_MAX + 25; i++) repo.record(letter(i));
    expect(repo.pending()).toBe(DEAD_LETTER_BUFFER_MAX);
    expect((await metrics.deadLetterWriteErrors.get()).values[0]?.value).toBe(25);
  });

  describe('poison rows', () => {
    /** Refuses like PostgreSQL: a NUL in any text column (22021), and a detail 'poison' (any other data error). */
    function strictDb(): { db: Database; stored: string[]; queries: { n: number }; down: { on: boolean } } {
      const stored: string[] = [];
      const queries = { n: 0 };
      const down = { on: false };
      const db = {
        query: async (_sql: string, params: unknown[][]) => {
          queries.n += 1;
          if (down.on)
            throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
          const texts = [...(params[1] as string[]), ...(params[2] as string[]), ...(params[3] as string[])];
          if (texts.some((t) => t.includes('\0')))
            throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
              code: '22021',
            });
          if ((params[3] as string[]).includes('poison'))
            throw Object.assign(new Error('value too long'), { code: '22001' });
          stored.push(...(params[3] as string[]));
          return { rows: [], rowCount: params[0]!.length };
        },
      } as unknown as Database;
      return { db, stored, queries, down };
    }

    it('should store a reject whose detail or topic holds a NUL, with the NUL escaped, and the rest of its batch', async () => {
      const { db, stored } = strictDb();
      const metrics = new HazwatchMetrics(false);
      const repo = new DeadLetterRepository({ db, metrics, maxRows: 1000, log: new QuietLogger() });
      repo.record(letter(1));
      repo.record({
        ...letter(2, Buffer.from([0])),
        topic: 'hazwatch/v1/s/\u0000/telemetry',
        detail: 'Unexpected token \u0000 in JSON at position 0',
      });
      repo.record(letter(3));
      await repo.flush();
      expect(stored).toEqual(['bad 1', 'Unexpected token \\u0000 in JSON at position 0', 'bad 3']);
      expect(repo.pending()).toBe(0);
      expect((await metrics.deadLetterWriteErrors.get()).values[0]?.value ?? 0).toBe(0);
    });

    it('should give up a row the database refuses as data, count it, store every other row and keep storing later ones', async () => {
      const { db, stored, queries } = strictDb();
      const metrics = new HazwatchMetrics(false);
      const repo = new DeadLetterRepository({
        db,
        metrics,
        maxRows: 1000,
        batchMax: 1000,
        log: new QuietLogger(),
      });
      for (let i = 0; i < 1000; i++) repo.record(i === 500 ? { ...letter(i), detail: 'poison' } : letter(i));
      await repo.flush();
      expect(stored).toHaveLength(999);
      expect(stored).not.toContain('poison');
      expect(repo.pending()).toBe(0);
      expect((await metrics.deadLetterWriteErrors.get()).values[0]?.value).toBe(1);
      // isolated by halving: about 2·log2(1000) inserts, not one per row and not forever
      expect(queries.n).toBeLessThanOrEqual(25);
      repo.record(letter(2000));
      await repo.flush();
      expect(stored).toContain('bad 2000');
    });

    it('should hold (not drop) rows when the database becomes unavailable while a poison row is being isolated', async () => {
      const { db, stored, down } = strictDb();
      const metrics = new HazwatchMetrics(false);
      const repo = new DeadLetterRepository({ db, metrics, maxRows: 1000, log: new QuietLogger() });
      repo.record({ ...letter(0), detail: 'poison' });
      repo.record(letter(1));
      down.on = true;
      await repo.flush();
      expect(repo.pending()).toBe(2);
      down.on = false;
      await repo.flush();
      expect(stored).toEqual(['bad 1']);
      expect(repo.pending()).toBe(0);
    });

    it('should bound the text it stores', () => {
      expect(pgText('x'.repeat(5000)).length).toBe(2048);
      expect(pgText('a\0b')).toBe('a\\u0000b');
      expect(pgText('plain')).toBe('plain');
    });
  });
});
