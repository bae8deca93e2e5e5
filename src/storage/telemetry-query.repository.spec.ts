import {
  BUCKETED_PG,
  BUCKETED_ROLLUP,
  BUCKETED_TIMESCALE,
  TelemetryQueryRepository,
  mergeBuckets,
  type TelemetryBucket,
} from './telemetry-query.repository';

const DAY = 86_400_000;
const T = Date.UTC(2026, 11, 1);

/** Records each statement and its parameters; answers with the rows given per statement. */
function recorder(timescale: boolean, answers: Map<string, TelemetryBucket[]> = new Map()) {
  const calls: Array<{ sql: string; from: Date; to: Date }> = [];
  const db = {
    timescale,
    query: (sql: string, params?: readonly unknown[]) => {
      calls.push({ sql, from: params![3] as Date, to: params![4] as Date });
      return Promise.resolve({ rows: answers.get(sql) ?? [] } as never);
    },
  };
  return { db, calls };
}

const b = (
  bucket: number,
  n: number,
  min: number,
  max: number,
  avg: number,
  last: number,
): TelemetryBucket => ({
  bucket: new Date(bucket),
  channel: 'c',
  min,
  max,
  avg,
  last,
  n,
});

describe('TelemetryQueryRepository: long ranges', () => {
  const q = { siteId: 's', deviceId: 'd', limit: 100, bucketSeconds: 3600 };

  it('should read a range over a day in whole minutes from telemetry_1m and the partial minutes at its ends from telemetry', async () => {
    const { db, calls } = recorder(true);
    await new TelemetryQueryRepository(db).bucketed({ ...q, from: T + 17_000, to: T + 2 * DAY - 23_000 });
    expect(calls.map((c) => [c.sql, c.from.getTime(), c.to.getTime()])).toEqual([
      [BUCKETED_TIMESCALE, T + 17_000, T + 60_000],
      [BUCKETED_ROLLUP, T + 60_000, T + 2 * DAY - 60_000],
      [BUCKETED_TIMESCALE, T + 2 * DAY - 60_000, T + 2 * DAY - 23_000],
    ]);
  });

  it('should read only telemetry_1m when the range is in whole minutes', async () => {
    const { db, calls } = recorder(true);
    await new TelemetryQueryRepository(db).bucketed({ ...q, from: T, to: T + 3 * DAY });
    expect(calls.map((c) => c.sql)).toEqual([BUCKETED_ROLLUP]);
  });

  it('should read telemetry for a day or less, buckets that are not whole minutes, and always on plain PostgreSQL', async () => {
    const ts = recorder(true);
    const repo = new TelemetryQueryRepository(ts.db);
    await repo.bucketed({ ...q, from: T, to: T + DAY });
    await repo.bucketed({ ...q, from: T, to: T + 3 * DAY, bucketSeconds: 90 });
    expect(ts.calls.map((c) => c.sql)).toEqual([BUCKETED_TIMESCALE, BUCKETED_TIMESCALE]);
    // plain path: telemetry_1m is a view over telemetry there, so it would read the same rows
    const plain = recorder(false);
    await new TelemetryQueryRepository(plain.db).bucketed({ ...q, from: T, to: T + 3 * DAY });
    expect(plain.calls.map((c) => c.sql)).toEqual([BUCKETED_PG]);
  });

  it('should merge the segments of one bucket: min, max, count-weighted avg, last of the latest segment', () => {
    const head = [b(T, 2, 1, 3, 2, 3)];
    const body = [b(T + 3_600_000, 4, 0, 8, 4, 8), b(T, 6, 2, 10, 6, 9)];
    const tail = [b(T + 3_600_000, 1, 5, 5, 5, 5)];
    expect(mergeBuckets([head, body, tail], 10)).toEqual([
      b(T + 3_600_000, 5, 0, 8, 4.2, 5),
      b(T, 8, 1, 10, 5, 9),
    ]);
    expect(mergeBuckets([head, body, tail], 1)).toEqual([b(T + 3_600_000, 5, 0, 8, 4.2, 5)]);
  });
});
