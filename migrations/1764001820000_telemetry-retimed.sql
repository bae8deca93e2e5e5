-- Up Migration
-- Re-timed readings stored once (docs/adr/0027-retimed-readings-key.md). A reading whose device clock is wrong is
-- stored at its arrival time (docs/ingest-time-and-sequence.md), so a redelivery of the same message arrives at another
-- time and would get another key in telemetry_reading_key. This table is the key such a reading keeps across
-- redeliveries: what the device sent (its own time and seq), not the time hazwatch gave it. It is not partitioned (a
-- unique key on a partitioned table must contain the partition column, and `time` is exactly what differs), holds
-- only re-timed readings (a clock fault is rare), and is pruned with telemetry by retention. `time` is the time the
-- reading was stored at, for pruning and for finding its row.
CREATE TABLE telemetry_retimed (
  site_id text NOT NULL,
  device_id text NOT NULL,
  channel text NOT NULL,
  source_time timestamptz NOT NULL,
  -- The message's seq, -1 when the device sent none (the same convention as telemetry_reading_key).
  seq_key bigint NOT NULL,
  time timestamptz NOT NULL,
  PRIMARY KEY (site_id, device_id, channel, source_time, seq_key)
);
CREATE INDEX telemetry_retimed_time_idx ON telemetry_retimed (time);

-- Down Migration
-- The stored telemetry rows stay; only the redelivery key of re-timed readings goes (an older server does not use it).
DROP TABLE IF EXISTS telemetry_retimed;
