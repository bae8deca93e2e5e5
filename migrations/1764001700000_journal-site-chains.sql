-- Up Migration
-- The alarm journal for several writers (docs/adr/0016-cluster.md, "Journal: a chain per site and a global sequence").
-- A single node keeps writing the one global chain as before (site_seq NULL: prev_hash/hash link rows in seq order).
-- A cluster node writes each site's rows on that site's own chain (site_seq 1, 2, … per site; prev_hash/hash link the
-- site's rows in site_seq order), under the site's lease epoch, and takes the global seq from alarm_journal_seq inside
-- its writing transaction while holding the journal's advisory lock, so journal rows commit in seq order cluster-wide.
-- Rows written before this migration are untouched (the append-only trigger forbids UPDATE): they stay the global
-- chain and keep verifying as they did.
ALTER TABLE alarm_journal
  ADD COLUMN site_seq    bigint CHECK (site_seq > 0),
  -- the lease epoch (fencing token) and node the row was written under; NULL for a single node's rows
  ADD COLUMN epoch       bigint CHECK (epoch >= 1),
  ADD COLUMN node_id     text,
  -- hash of the event as the writing node sealed it in its write-ahead log: a retried or replayed write of the same
  -- event is recognised by it and not journalled twice
  ADD COLUMN origin_hash text CHECK (origin_hash ~ '^[0-9a-f]{64}$'),
  ADD CONSTRAINT alarm_journal_site_row CHECK (
    (site_seq IS NULL AND epoch IS NULL AND node_id IS NULL AND origin_hash IS NULL)
    OR (site_seq IS NOT NULL AND epoch IS NOT NULL AND node_id IS NOT NULL AND origin_hash IS NOT NULL));
CREATE UNIQUE INDEX alarm_journal_site_chain_key ON alarm_journal (site_id, site_seq) WHERE site_seq IS NOT NULL;
CREATE UNIQUE INDEX alarm_journal_origin_key ON alarm_journal (origin_hash) WHERE origin_hash IS NOT NULL;

-- The global sequence of cluster writers, continuing after whatever a single node wrote.
CREATE SEQUENCE alarm_journal_seq AS bigint MINVALUE 1;
SELECT setval('alarm_journal_seq', coalesce((SELECT max(seq) FROM alarm_journal), 0) + 1, false);

-- Down Migration
DROP SEQUENCE IF EXISTS alarm_journal_seq;
DROP INDEX IF EXISTS alarm_journal_origin_key;
DROP INDEX IF EXISTS alarm_journal_site_chain_key;
ALTER TABLE alarm_journal
  DROP CONSTRAINT IF EXISTS alarm_journal_site_row,
  DROP COLUMN IF EXISTS origin_hash,
  DROP COLUMN IF EXISTS node_id,
  DROP COLUMN IF EXISTS epoch,
  DROP COLUMN IF EXISTS site_seq;
