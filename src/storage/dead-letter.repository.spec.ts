import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import type { Database } from './database.service';
import { DEAD_LETTER_BUFFER_MAX, DeadLetterRepository } from './dead-letter.repository';

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
});
