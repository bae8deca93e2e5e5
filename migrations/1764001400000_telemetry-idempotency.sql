-- Up Migration
-- Exactly-once telemetry rows under at-least-once delivery (docs/adr/0014-idempotent-telemetry.md).
--   telemetry.seq        new nullable column: the message's `seq` when the device sent one (additive: the seven public
--                        columns are unchanged; readers that name their columns see no difference).
--   telemetry_reading_key  UNIQUE (time, site_id, device_id, channel, COALESCE(seq, -1)): one row per reading. `time`
--                        leads so that inserts land at the right edge of the btree (cheap on the day being written);
--                        it also satisfies "a unique index on a partitioned table / hypertable contains the partition
--                        column". COALESCE rather than NULLS NOT DISTINCT: works on every PostgreSQL and TimescaleDB.
--   telemetry_conflict   readings refused because another reading with the same key but a different value/quality
--                        was stored first (first wins; the refused one is kept here, never silently dropped).
-- Rows already duplicated (written before this migration) are removed, keeping the first physical copy per key;
-- copies whose value differs from the one kept are moved to telemetry_conflict.
ALTER TABLE telemetry ADD COLUMN seq bigint;

CREATE TABLE telemetry_conflict (
  time         timestamptz      NOT NULL,
  site_id      text             NOT NULL,
  device_id    text             NOT NULL,
  channel      text             NOT NULL,
  seq          bigint,
  value        double precision,
  text_value   text,
  quality      smallint         NOT NULL,
  recorded_at  timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX telemetry_conflict_key_idx ON telemetry_conflict (time, site_id, device_id, channel);

CREATE TEMP TABLE telemetry_dup_rows ON COMMIT DROP AS
  SELECT tid, rid, time, site_id, device_id, channel, value, text_value, quality
  FROM (SELECT tableoid AS tid, ctid AS rid, time, site_id, device_id, channel, value, text_value, quality,
               row_number() OVER (PARTITION BY time, site_id, device_id, channel ORDER BY tableoid, ctid) AS n
        FROM telemetry) ranked
  WHERE n > 1;

DELETE FROM telemetry t USING telemetry_dup_rows d WHERE t.tableoid = d.tid AND t.ctid = d.rid;

INSERT INTO telemetry_conflict (time, site_id, device_id, channel, seq, value, text_value, quality)
  SELECT DISTINCT d.time, d.site_id, d.device_id, d.channel, NULL::bigint, d.value, d.text_value, d.quality
  FROM telemetry_dup_rows d
  JOIN telemetry t ON t.time = d.time AND t.site_id = d.site_id AND t.device_id = d.device_id AND t.channel = d.channel
  WHERE (t.value, t.text_value, t.quality) IS DISTINCT FROM (d.value, d.text_value, d.quality);

-- On plain PostgreSQL `telemetry` is partitioned (1764000500000): this builds the index on every partition, and a
-- daily partition attached later gets it at ATTACH. Under TimescaleDB it is created on every chunk; TimescaleDB (2.17)
-- refuses an expression index on a hypertable with compression enabled ("operation not supported on hypertables that
-- have compression enabled"), so compression is switched off around it: compressed chunks are decompressed first, the
-- compression settings and policy are restored after (docs/adr/0016-timescale-path.md).
DO $$
BEGIN
  IF current_setting('hazwatch.timescale', true) = 'on' THEN
    PERFORM remove_compression_policy('telemetry', if_exists => true);
    PERFORM decompress_chunk(c, true) FROM show_chunks('telemetry') c;
    ALTER TABLE telemetry SET (timescaledb.compress = false);
    CREATE UNIQUE INDEX telemetry_reading_key ON telemetry (time, site_id, device_id, channel, (COALESCE(seq, -1)));
    ALTER TABLE telemetry SET (
      timescaledb.compress,
      timescaledb.compress_segmentby = 'site_id, device_id, channel',
      timescaledb.compress_orderby = 'time DESC'
    );
    PERFORM add_compression_policy('telemetry', INTERVAL '7 days');
  ELSE
    CREATE UNIQUE INDEX telemetry_reading_key ON telemetry (time, site_id, device_id, channel, (COALESCE(seq, -1)));
  END IF;
END
$$;

-- Down Migration
DROP INDEX IF EXISTS telemetry_reading_key;
DROP TABLE IF EXISTS telemetry_conflict;
ALTER TABLE telemetry DROP COLUMN IF EXISTS seq;
