-- Up Migration
-- Telemetry in narrow form, one row per channel reading (public contract, CONTRACT §5).
-- Booleans are stored as value 1/0, strings in text_value; quality 0 good / 1 uncertain / 2 bad.
CREATE TABLE telemetry (
  time        timestamptz      NOT NULL,
  site_id     text             NOT NULL,
  device_id   text             NOT NULL,
  channel     text             NOT NULL,
  value       double precision,
  text_value  text,
  quality     smallint         NOT NULL DEFAULT 0
);

CREATE INDEX telemetry_series_idx ON telemetry (site_id, device_id, channel, time DESC);

-- TimescaleDB when the server decided so before migrating (session setting hazwatch.timescale = 'on': installed,
-- preloaded, and this role may create it; src/storage/timescale-detect.ts, docs/adr/0016-timescale-path.md):
-- hypertable, compression and retention policies (aligned with the environment at start).
-- Otherwise plain PostgreSQL: a BRIN index on time, and retention is RetentionService's job.
DO $$
BEGIN
  IF current_setting('hazwatch.timescale', true) = 'on' THEN
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    PERFORM create_hypertable('telemetry', 'time', chunk_time_interval => INTERVAL '1 day');
    ALTER TABLE telemetry SET (
      timescaledb.compress,
      timescaledb.compress_segmentby = 'site_id, device_id, channel',
      timescaledb.compress_orderby = 'time DESC'
    );
    PERFORM add_compression_policy('telemetry', INTERVAL '7 days');
    PERFORM add_retention_policy('telemetry', INTERVAL '90 days');
  ELSE
    CREATE INDEX telemetry_time_brin ON telemetry USING brin (time);
  END IF;
END
$$;

-- Down Migration
DROP TABLE IF EXISTS telemetry;
