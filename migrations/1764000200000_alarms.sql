-- Up Migration
-- ISA-18.2 alarms (issue 5, docs/adr/0003-alarm-model.md). `alarm` holds the current state of each alarm (one per
-- rule, source, device and condition); `alarm_journal` is the append-only record of every alarm event and operator
-- action, hash-chained for tamper evidence. The alarm service is the only writer of both.
CREATE TABLE alarm (
  id          text        PRIMARY KEY,
  site_id     text        NOT NULL,
  source_id   text        NOT NULL,
  rule_id     text        NOT NULL,
  device_id   text,
  condition   text        NOT NULL,
  priority    text        NOT NULL CHECK (priority IN ('critical', 'high', 'medium', 'low')),
  state       text        NOT NULL CHECK (state IN ('normal', 'unacknowledged', 'acknowledged', 'rtn_unacknowledged',
                                                    'latched', 'shelved', 'suppressed', 'out_of_service')),
  active      boolean     NOT NULL,
  acked       boolean     NOT NULL,
  raised_at   timestamptz NOT NULL,
  -- seq of the last journal event that changed this alarm
  seq         bigint      NOT NULL CHECK (seq > 0),
  -- the full state record the service rebuilds from at start-up
  record      jsonb       NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alarm_identity_key ON alarm (rule_id, source_id, coalesce(device_id, ''), condition);
CREATE INDEX alarm_site_state_idx ON alarm (site_id, state);

COMMENT ON TABLE alarm IS 'hazwatch alarms: current ISA-18.2 state; history in alarm_journal';

CREATE TABLE alarm_journal (
  seq         bigint      PRIMARY KEY CHECK (seq > 0),
  at          timestamptz NOT NULL,
  alarm_id    text        NOT NULL,
  site_id     text        NOT NULL,
  event       text        NOT NULL,
  from_state  text        NOT NULL,
  to_state    text        NOT NULL,
  actor       text        NOT NULL,
  actor_role  text        NOT NULL,
  comment     text,
  snapshot    jsonb       NOT NULL,
  prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX alarm_journal_at_idx ON alarm_journal (at);
CREATE INDEX alarm_journal_alarm_idx ON alarm_journal (alarm_id, seq);
CREATE INDEX alarm_journal_site_seq_idx ON alarm_journal (site_id, seq);

COMMENT ON TABLE alarm_journal IS
  'hazwatch alarm journal: append-only (UPDATE/DELETE/TRUNCATE raise), hash = sha256(prev_hash || canonical row); GET /api/journal/verify walks it';

CREATE FUNCTION alarm_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'alarm_journal is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER alarm_journal_no_update_delete BEFORE UPDATE OR DELETE ON alarm_journal
  FOR EACH ROW EXECUTE FUNCTION alarm_journal_append_only();
CREATE TRIGGER alarm_journal_no_truncate BEFORE TRUNCATE ON alarm_journal
  FOR EACH STATEMENT EXECUTE FUNCTION alarm_journal_append_only();

-- Down Migration
DROP TABLE IF EXISTS alarm_journal;
DROP FUNCTION IF EXISTS alarm_journal_append_only();
DROP TABLE IF EXISTS alarm;
