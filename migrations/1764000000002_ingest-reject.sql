-- Up Migration
-- Dead letters: rejected input kept for diagnosis (bounded: the app prunes to DEADLETTER_MAX_ROWS).
CREATE TABLE ingest_reject (
  id          bigserial   PRIMARY KEY,
  received_at timestamptz NOT NULL,
  topic       text        NOT NULL,
  reason      text        NOT NULL,
  detail      text        NOT NULL DEFAULT '',
  payload     bytea       NOT NULL CHECK (octet_length(payload) <= 1024)
);

CREATE INDEX ingest_reject_reason_idx ON ingest_reject (reason, id DESC);

-- Down Migration
DROP TABLE IF EXISTS ingest_reject;
