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

  /** Per bucket min/max/avg/last of numeric values (booleans count as 1/0). */
  async bucketed(q: BucketedQuery): Promise<TelemetryBucket[]> {
    if (!(q.bucketSeconds > 0)) throw new RangeError('bucketSeconds must be > 0');
    const sql =
      (this.dialect ?? (this.db.timescale ? 'timescale' : 'postgres')) === 'timescale'
        ? BUCKETED_TIMESCALE
        : BUCKETED_PG;
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
