import type { QueryResult, QueryResultRow } from 'pg';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { TxClient } from './database.service';
import { TelemetryPartitions } from './telemetry-partitions.service';

type Line = { level: 'info' | 'warn' | 'error'; msg: string; fields: Record<string, unknown> };

class CapturingLogger extends JsonLogger {
  readonly lines: Line[] = [];
  override info(msg: unknown, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'info', msg: String(msg), fields });
  }
  override warn(msg: unknown, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'warn', msg: String(msg), fields });
  }
  override error(msg: unknown, fields: Record<string, unknown> | string = {}): void {
    this.lines.push({ level: 'error', msg: String(msg), fields: typeof fields === 'string' ? {} : fields });
  }
}

const result = <R extends QueryResultRow>(rows: R[], rowCount = rows.length): QueryResult<R> => ({
  rows,
  rowCount,
  command: '',
  oid: 0,
  fields: [],
});

/** A fake database: `telemetry` partitioned with default only; statements matching `failOn` throw a pg-like error. */
function fakeDb(opts: { timescale?: boolean; failOn?: RegExp; listFails?: boolean } = {}) {
  const statements: string[] = [];
  const run = async (text: string): Promise<QueryResult> => {
    statements.push(text.trim());
    if (opts.failOn?.test(text))
      throw Object.assign(new Error('relation "telemetry_p20400310" already exists'), { code: '42P07' });
    if (text.includes('relkind::text AS kind')) return result([{ kind: 'p' }]);
    if (text.includes('pg_inherits')) {
      if (opts.listFails)
        throw Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
      return result([
        {
          name: 'telemetry_p_default',
          is_default: true,
          range_from: null,
          range_to: null,
          series_valid: null,
        },
      ]);
    }
    return result([], 0);
  };
  const db = {
    timescale: opts.timescale ?? false,
    whenReady: () => Promise.resolve(),
    query: <R extends QueryResultRow>(text: string) => run(text) as Promise<QueryResult<R>>,
    withTransaction: async <T>(fn: (tx: TxClient) => Promise<T>): Promise<T> =>
      fn({ query: <R extends QueryResultRow>(text: string) => run(text) as Promise<QueryResult<R>> }),
  };
  return { db, statements };
}

const NOW = Date.UTC(2040, 2, 10, 12);

describe('TelemetryPartitions (unit, fake database)', () => {
  it('should only index closed chunks under TimescaleDB: no partition created, moved or dropped', async () => {
    const { db, statements } = fakeDb({ timescale: true });
    const svc = new TelemetryPartitions({ db, clock: new ManualClock(NOW), retentionDays: 90 });
    await expect(svc.runOnce()).resolves.toEqual({
      created: [],
      movedFromDefault: 0,
      indexed: [],
      dropped: [],
      failed: [],
    });
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/FROM timescaledb_information\.chunks/);
  });

  it('should create today..+2 in one transaction each: create, move from default, attach', async () => {
    const { db, statements } = fakeDb();
    const svc = new TelemetryPartitions({
      db,
      clock: new ManualClock(NOW),
      retentionDays: 90,
      log: new CapturingLogger(),
    });
    const r = await svc.runOnce();
    expect(r.created).toEqual(['telemetry_p20400310', 'telemetry_p20400311', 'telemetry_p20400312']);
    expect(r.failed).toEqual([]);
    const ddl = statements.filter((s) => /^(CREATE|WITH|ALTER)/.test(s));
    expect(ddl).toHaveLength(9);
    expect(ddl[0]).toMatch(/^CREATE TABLE telemetry_p20400310 /);
    expect(ddl[1]).toMatch(/^WITH moved AS/);
    expect(ddl[2]).toMatch(/^ALTER TABLE telemetry ATTACH PARTITION telemetry_p20400310 /);
  });

  it('should log a failed step with the partition and SQL error, go on with the next, and never reject', async () => {
    const { db } = fakeDb({ failOn: /CREATE TABLE telemetry_p20400310 / });
    const log = new CapturingLogger();
    const svc = new TelemetryPartitions({ db, clock: new ManualClock(NOW), retentionDays: 90, log });
    const r = await svc.runOnce();
    expect(r.created).toEqual(['telemetry_p20400311', 'telemetry_p20400312']);
    expect(r.failed).toEqual([
      {
        partition: 'telemetry_p20400310',
        step: 'create',
        error: '42P07 relation "telemetry_p20400310" already exists',
      },
    ]);
    expect(log.lines).toContainEqual({
      level: 'error',
      msg: 'telemetry partition maintenance step failed; retrying next round',
      fields: { partition: 'telemetry_p20400310', step: 'create', error: expect.stringContaining('42P07') },
    });
  });

  it("should log once per day that today's rows go to the default partition while today's partition is missing", async () => {
    const { db } = fakeDb({ failOn: /CREATE TABLE telemetry_p2040031[01] / });
    const log = new CapturingLogger();
    const clock = new ManualClock(NOW);
    const svc = new TelemetryPartitions({ db, clock, retentionDays: 90, log });
    const missing = (): Line[] =>
      log.lines.filter((l) => l.msg.startsWith("no partition for today's telemetry"));
    await svc.runOnce();
    await svc.runOnce();
    expect(missing()).toEqual([
      expect.objectContaining({
        level: 'error',
        fields: { day: '2040-03-10', partition: 'telemetry_p_default' },
      }),
    ]);
    clock.set(Date.UTC(2040, 2, 11, 0, 5)); // next day, its partition fails too: one more line
    await svc.runOnce();
    expect(missing().map((l) => l.fields.day)).toEqual(['2040-03-10', '2040-03-11']);
  });

  it('should survive a failing catalog read and report it', async () => {
    const { db } = fakeDb({ listFails: true });
    const log = new CapturingLogger();
    const svc = new TelemetryPartitions({ db, clock: new ManualClock(NOW), retentionDays: 90, log });
    const r = await svc.runOnce();
    expect(r.failed).toEqual([
      { partition: 'telemetry', step: 'list', error: expect.stringContaining('55P03') },
    ]);
    expect(r.created).toEqual([]);
  });

  it('should report, not throw, when the round itself fails (a clock gone wrong)', async () => {
    const { db } = fakeDb();
    const log = new CapturingLogger();
    const svc = new TelemetryPartitions({ db, clock: { now: () => Number.NaN }, retentionDays: 90, log });
    const r = await svc.runOnce();
    expect(r.failed).toEqual([
      { partition: 'telemetry', step: 'plan', error: expect.stringContaining('UTC day') },
    ]);
    expect(log.lines.map((l) => l.level)).toContain('error');
  });

  it('should share one running round between concurrent callers', async () => {
    const { db } = fakeDb();
    const svc = new TelemetryPartitions({
      db,
      clock: new ManualClock(NOW),
      retentionDays: 90,
      log: new CapturingLogger(),
    });
    const a = svc.runOnce();
    expect(svc.runOnce()).toBe(a);
    await a;
    expect(svc.runOnce()).not.toBe(a);
  });
});
