import type { Database } from './database.service';

export type RawQuery = {
  siteId: string;
  deviceId: string;
  channel?: string;
  /** Inclusive, epoch ms. */
  from: number;
  /** Exclusive, epoch ms. */
  to: number;
  limit: number;
};

export type BucketedQuery = RawQuery & { bucketSeconds: number };

export type TelemetryPoint = {
  time: Date;
  channel: string;
  value: number | null;
  textValue: string | null;
  /** 0 good, 1 uncertain, 2 bad (QUALITY_CODE). */
  quality: number;
};

export type TelemetryBucket = {
  bucket: Date;
  channel: string;
  min: number;
  max: number;
  avg: number;
  last: number;
  n: number;
};

/** Plain PostgreSQL and TimescaleDB alike (exported for the EXPLAIN checks of the partitions suite). */
export const RAW = `
  SELECT time, channel, value, text_value, quality FROM telemetry
  WHERE site_id = $1 AND device_id = $2 AND ($3::text IS NULL OR channel = $3)
    AND time >= $4 AND time < $5
  ORDER BY time DESC, channel
  LIMIT $6`;

/** Plain PostgreSQL (14+): date_bin, last value via an ordered array_agg. */
export const BUCKETED_PG = `
  SELECT date_bin(make_interval(secs => $6), time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, channel,
         min(value) AS min, max(value) AS max, avg(value) AS avg,
         (array_agg(value ORDER BY time DESC))[1] AS last, count(*)::int AS n
  FROM telemetry
  WHERE site_id = $1 AND device_id = $2 AND ($3::text IS NULL OR channel = $3)
    AND time >= $4 AND time < $5 AND value IS NOT NULL
  GROUP BY 1, channel
  ORDER BY 1 DESC, channel
  LIMIT $7`;

/** TimescaleDB: time_bucket and last(). Same origin as date_bin so both paths bucket identically. */
export const BUCKETED_TIMESCALE = `
  SELECT time_bucket(make_interval(secs => $6), time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, channel,
         min(value) AS min, max(value) AS max, avg(value) AS avg,
         last(value, time) AS last, count(*)::int AS n
  FROM telemetry
  WHERE site_id = $1 AND device_id = $2 AND ($3::text IS NULL OR channel = $3)
    AND time >= $4 AND time < $5 AND value IS NOT NULL
  GROUP BY 1, channel
  ORDER BY 1 DESC, channel
  LIMIT $7`;

/**
 * TimescaleDB, ranges longer than ROLLUP_MIN_RANGE_MS: the same buckets from the 1-minute continuous aggregate (real-time,
 * so minutes not yet materialized come from telemetry). avg is weighted by each minute's count; last is the last minute's.
 * Only whole minutes: the partial minutes at either end of the range are read from telemetry (BUCKETED_TIMESCALE).
 */
export const BUCKETED_ROLLUP = `
  SELECT time_bucket(make_interval(secs => $6), bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, channel,
         min("min") AS min, max("max") AS max, sum("avg" * n) / sum(n) AS avg,
         last("last", bucket) AS last, sum(n)::int AS n
  FROM telemetry_1m
  WHERE site_id = $1 AND device_id = $2 AND ($3::text IS NULL OR channel = $3)
    AND bucket >= $4 AND bucket < $5
  GROUP BY 1, channel
  ORDER BY 1 DESC, channel
  LIMIT $7`;

/** Bucketed reads over more than a day use telemetry_1m (TimescaleDB; on plain PostgreSQL it is a view over telemetry). */
export const ROLLUP_MIN_RANGE_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** Merges bucket lists of consecutive time segments (oldest segment first); newest first, like the queries. */
export function mergeBuckets(
  segments: ReadonlyArray<readonly TelemetryBucket[]>,
  limit: number,
): TelemetryBucket[] {
  const byKey = new Map<string, TelemetryBucket>();
  for (const seg of segments)
    for (const b of seg) {
      const key = `${b.bucket.getTime()}\u0000${b.channel}`;
      const prev = byKey.get(key);
      if (!prev) {
        byKey.set(key, { ...b });
        continue;
      }
      const n = prev.n + b.n;
      byKey.set(key, {
        bucket: prev.bucket,
        channel: prev.channel,
        min: Math.min(prev.min, b.min),
        max: Math.max(prev.max, b.max),
        avg: (prev.avg * prev.n + b.avg * b.n) / n,
        last: b.last, // a later segment holds the later readings
        n,
      });
    }
  return [...byKey.values()]
    .sort(
      (a, b) =>
        b.bucket.getTime() - a.bucket.getTime() ||
        (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0),
    )
    .slice(0, limit);
}

type RawRow = {
  time: Date;
  channel: string;
  value: number | null;
  text_value: string | null;
  quality: number;
};
type BucketRow = {
  bucket: Date;
  channel: string;
  min: number;
  max: number;
  avg: number;
  last: number;
  n: number;
};

/** Read side of telemetry history (newest first). */
export class TelemetryQueryRepository {
  constructor(
    private readonly db: Pick<Database, 'query' | 'timescale'>,
    /** Force a SQL dialect (tests); default follows `db.timescale`. */
    private readonly dialect?: 'timescale' | 'postgres',
  ) {}

  async raw(q: RawQuery): Promise<TelemetryPoint[]> {
    const r = await this.db.query<RawRow>(RAW, [
      q.siteId,
      q.deviceId,
      q.channel ?? null,
      new Date(q.from),
      new Date(q.to),
      q.limit,
    ]);
    return r.rows.map((row) => ({
      time: row.time,
      channel: row.channel,
      value: row.value,
      textValue: row.text_value,
      quality: row.quality,
    }));
  }

  /**
   * Per bucket min/max/avg/last of numeric values (booleans count as 1/0). On TimescaleDB a range over a day with buckets of
   * whole minutes is read from telemetry_1m (plus the partial minutes at its ends from telemetry): the same answer,
   * without reading every row.
   */
  async bucketed(q: BucketedQuery): Promise<TelemetryBucket[]> {
    if (!(q.bucketSeconds > 0)) throw new RangeError('bucketSeconds must be > 0');
    const timescale = (this.dialect ?? (this.db.timescale ? 'timescale' : 'postgres')) === 'timescale';
    if (!timescale) return this.bucketedFrom(BUCKETED_PG, q);
    if (this.useRollup(q)) {
      const first = Math.ceil(q.from / MINUTE_MS) * MINUTE_MS;
      const last = Math.floor(q.to / MINUTE_MS) * MINUTE_MS;
      // a segment's own limit can cut only its oldest buckets; the merge keeps the newest `limit`
      const head = first > q.from ? await this.bucketedFrom(BUCKETED_TIMESCALE, { ...q, to: first }) : [];
      const body = await this.bucketedFrom(BUCKETED_ROLLUP, { ...q, from: first, to: last });
      const tail = q.to > last ? await this.bucketedFrom(BUCKETED_TIMESCALE, { ...q, from: last }) : [];
      return mergeBuckets([head, body, tail], q.limit);
    }
    return this.bucketedFrom(BUCKETED_TIMESCALE, q);
  }

  /** Whether `bucketed` reads telemetry_1m (exported logic for tests). */
  useRollup(q: BucketedQuery): boolean {
    const timescale = (this.dialect ?? (this.db.timescale ? 'timescale' : 'postgres')) === 'timescale';
    return timescale && q.to - q.from > ROLLUP_MIN_RANGE_MS && q.bucketSeconds % 60 === 0;
  }

  private async bucketedFrom(sql: string, q: BucketedQuery): Promise<TelemetryBucket[]> {
    const r = await this.db.query<BucketRow>(sql, [
      q.siteId,
      q.deviceId,
      q.channel ?? null,
      new Date(q.from),
      new Date(q.to),
      q.bucketSeconds,
      q.limit,
    ]);
    return r.rows.map((row) => ({
      bucket: row.bucket,
      channel: row.channel,
      min: row.min,
      max: row.max,
      avg: row.avg,
      last: row.last,
      n: row.n,
    }));
  }
}
