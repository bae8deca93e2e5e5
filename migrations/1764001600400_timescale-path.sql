-- Up Migration
-- TimescaleDB path only (session setting hazwatch.timescale = 'on'; docs/adr/0016-timescale-path.md). No-op on plain
-- PostgreSQL, where docs/adr/0007-telemetry-partitions.md already keeps the day being written BRIN-only.
--   telemetry_series_idx  dropped from the hypertable (and so from every chunk): a series btree on the open chunk
--                         costs 5–7× the COPY time (random inserts). Per-series reads of closed chunks are served by
--                         compression (segmentby site_id, device_id, channel: one compressed batch per series with
--                         min/max time metadata); of the open chunk by the time-led unique key, as the plain path's
--                         open day is by BRIN.
--   telemetry_time_idx    TimescaleDB's default (time DESC) btree, dropped as well: the unique key leads with time and
--                         serves every time-range scan (either direction), so the second btree was pure ingest cost.
--   telemetry_1m          compression enabled (segmentby its group columns); its compression and retention policies
--                         are aligned with the environment at start (TimescalePolicies), never dropped and re-added.
DO $$
BEGIN
  IF current_setting('hazwatch.timescale', true) = 'on' THEN
    DROP INDEX IF EXISTS telemetry_series_idx;
    DROP INDEX IF EXISTS telemetry_time_idx;
    EXECUTE 'ALTER MATERIALIZED VIEW telemetry_1m SET (timescaledb.compress = true)';
  END IF;
END
$$;

-- Down Migration
-- Back to the previous TimescaleDB layout: telemetry_1m decompressed and without compression or retention policy, the
-- series btree on the hypertable again.
DO $$
BEGIN
  IF current_setting('hazwatch.timescale', true) = 'on' THEN
    PERFORM remove_compression_policy('telemetry_1m', if_exists => true);
    PERFORM remove_retention_policy('telemetry_1m', if_exists => true);
    PERFORM decompress_chunk(c, true) FROM show_chunks('telemetry_1m') c;
    EXECUTE 'ALTER MATERIALIZED VIEW telemetry_1m SET (timescaledb.compress = false)';
    CREATE INDEX IF NOT EXISTS telemetry_time_idx ON telemetry (time DESC);
    CREATE INDEX IF NOT EXISTS telemetry_series_idx ON telemetry (site_id, device_id, channel, time DESC);
  END IF;
END
$$;
