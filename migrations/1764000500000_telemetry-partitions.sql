-- Up Migration
-- Plain PostgreSQL only (no-op under TimescaleDB, whose chunks already do this): `telemetry` becomes a parent
-- PARTITION BY RANGE (time) so that the day being written carries only a BRIN index (cheap COPY) while closed days
-- get the series btree afterwards (TelemetryPartitions, docs/adr/0007-telemetry-partitions.md).
--   telemetry_p_legacy   the previous table with its rows and its series btree: MINVALUE .. start of tomorrow (UTC,
--                        at migration time), so the rows written today stay where they are; when it holds no row of
--                        today (a fresh install), MINVALUE .. start of today, so today gets its BRIN-only partition.
--   telemetry_pYYYYMMDD  one per UTC day, created ahead by the server (BRIN only; series btree once the day closed).
--   telemetry_p_default  the safety net: a row no partition accepts is stored here, never refused.
-- `telemetry_1m` depends on telemetry: dropped first, recreated identically.
DO $$
DECLARE
  -- day arithmetic on UTC timestamps (without time zone), so the session's TimeZone and DST never shift a bound
  today_start timestamptz := date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  tomorrow_start timestamptz := (date_trunc('day', now() AT TIME ZONE 'UTC') + INTERVAL '1 day') AT TIME ZONE 'UTC';
  legacy_end timestamptz;
BEGIN
  -- plain path (docs/adr/0016-timescale-path.md): the decision taken at start, not "the extension exists"
  IF current_setting('hazwatch.timescale', true) IS DISTINCT FROM 'on' THEN
    legacy_end := CASE WHEN EXISTS (SELECT 1 FROM telemetry WHERE time >= today_start AND time < tomorrow_start)
                       THEN tomorrow_start ELSE today_start END;
    DROP VIEW IF EXISTS telemetry_1m;

    ALTER TABLE telemetry RENAME TO telemetry_p_legacy;
    ALTER INDEX IF EXISTS telemetry_series_idx RENAME TO telemetry_p_legacy_series_idx;
    ALTER INDEX IF EXISTS telemetry_time_brin RENAME TO telemetry_p_legacy_time_brin;

    CREATE TABLE telemetry (
      time        timestamptz      NOT NULL,
      site_id     text             NOT NULL,
      device_id   text             NOT NULL,
      channel     text             NOT NULL,
      value       double precision,
      text_value  text,
      quality     smallint         NOT NULL DEFAULT 0
    ) PARTITION BY RANGE (time);
    -- Partitioned index: every partition gets its own BRIN (the legacy one is adopted at ATTACH, not rebuilt).
    CREATE INDEX telemetry_time_brin ON telemetry USING brin (time);

    CREATE TABLE telemetry_p_default PARTITION OF telemetry DEFAULT;

    -- Rows stamped at or after the legacy range's end (device clocks ahead) cannot stay in it: move them to
    -- the default partition (the server moves them on into their daily partition when it creates it).
    WITH moved AS (
      DELETE FROM telemetry_p_legacy WHERE time >= legacy_end
      RETURNING time, site_id, device_id, channel, value, text_value, quality
    )
    INSERT INTO telemetry_p_default (time, site_id, device_id, channel, value, text_value, quality)
      SELECT time, site_id, device_id, channel, value, text_value, quality FROM moved;

    -- One scan of the legacy table to validate the range (no rewrite, no index rebuild).
    EXECUTE format('ALTER TABLE telemetry ATTACH PARTITION telemetry_p_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
                   legacy_end);

    CREATE VIEW telemetry_1m AS
      SELECT date_trunc('minute', time) AS bucket, site_id, device_id, channel,
             min(value) AS "min", max(value) AS "max", avg(value) AS "avg",
             (array_agg(value ORDER BY time DESC))[1] AS "last", count(*) AS n
      FROM telemetry
      WHERE value IS NOT NULL
      GROUP BY 1, site_id, device_id, channel;
  END IF;
END
$$;

-- Down Migration
-- Back to one plain table with the original indexes and view, keeping every row: the legacy partition is detached
-- and becomes `telemetry` again (its indexes renamed back), the rows of every other partition are copied into it,
-- then the partitioned parent and its remaining partitions are dropped.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('telemetry') AND relkind = 'p') THEN
    DROP VIEW IF EXISTS telemetry_1m;
    ALTER TABLE telemetry RENAME TO telemetry_partitioned;

    IF EXISTS (SELECT 1 FROM pg_inherits
               WHERE inhparent = 'telemetry_partitioned'::regclass AND inhrelid = to_regclass('telemetry_p_legacy')) THEN
      ALTER TABLE telemetry_partitioned DETACH PARTITION telemetry_p_legacy;
      ALTER TABLE telemetry_p_legacy RENAME TO telemetry;
    ELSE
      CREATE TABLE telemetry (
        time        timestamptz      NOT NULL,
        site_id     text             NOT NULL,
        device_id   text             NOT NULL,
        channel     text             NOT NULL,
        value       double precision,
        text_value  text,
        quality     smallint         NOT NULL DEFAULT 0
      );
    END IF;

    INSERT INTO telemetry (time, site_id, device_id, channel, value, text_value, quality)
      SELECT time, site_id, device_id, channel, value, text_value, quality FROM telemetry_partitioned;
    DROP TABLE telemetry_partitioned;

    IF to_regclass('telemetry_p_legacy_series_idx') IS NOT NULL THEN
      ALTER INDEX telemetry_p_legacy_series_idx RENAME TO telemetry_series_idx;
    ELSE
      CREATE INDEX telemetry_series_idx ON telemetry (site_id, device_id, channel, time DESC);
    END IF;
    IF to_regclass('telemetry_p_legacy_time_brin') IS NOT NULL THEN
      ALTER INDEX telemetry_p_legacy_time_brin RENAME TO telemetry_time_brin;
    ELSE
      CREATE INDEX telemetry_time_brin ON telemetry USING brin (time);
    END IF;

    CREATE VIEW telemetry_1m AS
      SELECT date_trunc('minute', time) AS bucket, site_id, device_id, channel,
             min(value) AS "min", max(value) AS "max", avg(value) AS "avg",
             (array_agg(value ORDER BY time DESC))[1] AS "last", count(*) AS n
      FROM telemetry
      WHERE value IS NOT NULL
      GROUP BY 1, site_id, device_id, channel;
  END IF;
END
$$;
