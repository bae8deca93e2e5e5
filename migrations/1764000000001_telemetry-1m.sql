-- Up Migration
-- 1-minute rollup of numeric channels (public contract): bucket, site_id, device_id, channel, min, max, avg, last, n.
-- TimescaleDB: a continuous aggregate (real-time, so the open minute is included) refreshed every minute.
-- Plain PostgreSQL: an ordinary view over telemetry.
DO $$
BEGIN
  -- the telemetry path decided at start (docs/adr/0016-timescale-path.md), not "the extension exists": an extension
  -- created later in a plain-path database does not make telemetry a hypertable
  IF current_setting('hazwatch.timescale', true) = 'on' THEN
    -- WITH NO DATA: allowed inside a transaction; the refresh policy fills it.
    EXECUTE $cagg$
      CREATE MATERIALIZED VIEW telemetry_1m
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, site_id, device_id, channel,
             min(value) AS "min", max(value) AS "max", avg(value) AS "avg",
             last(value, time) AS "last", count(*) AS n
      FROM telemetry
      WHERE value IS NOT NULL
      GROUP BY bucket, site_id, device_id, channel
      WITH NO DATA
    $cagg$;
    PERFORM add_continuous_aggregate_policy('telemetry_1m',
      start_offset => INTERVAL '2 hours', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
  ELSE
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
DO $$
DECLARE
  is_cagg boolean := false;
BEGIN
  IF to_regclass('_timescaledb_catalog.continuous_agg') IS NOT NULL THEN
    EXECUTE $q$SELECT EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg
                              WHERE user_view_name = 'telemetry_1m' AND user_view_schema = current_schema())$q$
      INTO is_cagg;
  END IF;
  IF is_cagg THEN
    EXECUTE 'DROP MATERIALIZED VIEW IF EXISTS telemetry_1m';
  ELSE
    DROP VIEW IF EXISTS telemetry_1m;
  END IF;
END
$$;
