-- Up Migration
-- Signed chain heads of alarm_journal as published (docs/adr/0015-journal-anchors.md). This table is a convenience
-- copy for the anchors feed: it is NOT evidence on its own (whoever can rewrite alarm_journal can delete rows here);
-- the evidence is the copies regulators received through the feeds and webhooks.
CREATE TABLE journal_anchor (
  seq        bigint      NOT NULL CHECK (seq >= 0),
  hash       text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  signed_at  timestamptz NOT NULL,
  key_id     text        NOT NULL,
  signature  text        NOT NULL,
  reason     text        NOT NULL CHECK (reason IN ('interval', 'alarm', 'start')),
  PRIMARY KEY (seq, key_id, signed_at)
);
CREATE INDEX journal_anchor_signed_idx ON journal_anchor (signed_at DESC);

-- Down Migration
DROP TABLE IF EXISTS journal_anchor;
