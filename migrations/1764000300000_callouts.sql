-- Up Migration
-- Call-outs and duty checks (issue 6, docs/adr/0005-callouts.md). `callout` holds one escalation per alarm activation
-- with its persisted state machine (`state`), `duty_check` one scheduled or manual duty check; `call_attempt` keeps
-- one row per call attempt keyed by attempt id, `call_event` every provider event (idempotent on attempt + key).
CREATE TABLE callout (
  id          text        PRIMARY KEY,
  alarm_id    text        NOT NULL,
  site_id     text        NOT NULL,
  source_id   text        NOT NULL,
  rule_id     text        NOT NULL,
  priority    text        NOT NULL CHECK (priority IN ('critical', 'high', 'medium', 'low')),
  status      text        NOT NULL CHECK (status IN ('active', 'acked', 'stopped', 'exhausted')),
  stop_reason text        CHECK (stop_reason IN ('key_ack', 'console_ack', 'cleared', 'hidden', 'exhausted')),
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz,
  acked_by    text,
  -- the escalation machine's full state, rebuilt after a restart
  state       jsonb       NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callout_alarm_idx ON callout (alarm_id);
CREATE INDEX callout_site_started_idx ON callout (site_id, started_at DESC);
CREATE INDEX callout_active_idx ON callout (status) WHERE status = 'active';

CREATE TABLE duty_check (
  id           text        PRIMARY KEY,
  site_id      text        NOT NULL,
  trigger      text        NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  scheduled_at timestamptz NOT NULL,
  status       text        NOT NULL CHECK (status IN ('running', 'done')),
  result       text        CHECK (result IN ('on_duty', 'no_answer', 'wrong_key', 'failed')),
  completed_at timestamptz,
  alarm_raised boolean     NOT NULL DEFAULT false,
  state        jsonb       NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX duty_check_site_time_idx ON duty_check (site_id, scheduled_at DESC);
CREATE INDEX duty_check_running_idx ON duty_check (status) WHERE status = 'running';

CREATE TABLE call_attempt (
  id               text        PRIMARY KEY,
  callout_id       text        REFERENCES callout (id),
  duty_check_id    text        REFERENCES duty_check (id),
  alarm_id         text,
  site_id          text        NOT NULL,
  callee_role      text        NOT NULL CHECK (callee_role IN ('control_room', 'operations', 'technical', 'main', 'duty_desk')),
  callee_name      text        NOT NULL,
  number           text        NOT NULL,
  loop             integer,
  step             integer,
  attempt_no       integer     NOT NULL CHECK (attempt_no > 0),
  placed_at        timestamptz NOT NULL,
  answered_at      timestamptz,
  ended_at         timestamptz,
  provider         text        NOT NULL,
  provider_call_id text,
  sip_code         integer,
  sip_status       text,
  digits           text        NOT NULL DEFAULT '',
  outcome          text        CHECK (outcome IN ('ACKED', 'ANSWERED_NO_ACK', 'WRONG_KEY', 'NO_ANSWER', 'BUSY', 'REJECTED',
                                                  'UNREACHABLE', 'FAILED', 'CANCELED')),
  prompt_version   text,
  detail           text,
  CHECK ((callout_id IS NULL) <> (duty_check_id IS NULL))
);
CREATE INDEX call_attempt_callout_idx ON call_attempt (callout_id);
CREATE INDEX call_attempt_duty_check_idx ON call_attempt (duty_check_id);
CREATE INDEX call_attempt_outcome_idx ON call_attempt (outcome);

CREATE TABLE call_event (
  id         bigserial   PRIMARY KEY,
  attempt_id text        NOT NULL REFERENCES call_attempt (id),
  event_key  text        NOT NULL,
  at         timestamptz NOT NULL,
  kind       text        NOT NULL,
  sip_code   integer,
  detail     text,
  UNIQUE (attempt_id, event_key)
);

COMMENT ON TABLE callout IS 'hazwatch alarm call-outs: one escalation per alarm activation; attempts in call_attempt';
COMMENT ON TABLE duty_check IS 'hazwatch duty checks (值班值守抽查): scheduled or manual calls to control rooms';
COMMENT ON TABLE call_attempt IS 'hazwatch call attempts: one row per attempt (alarm or check, callee, number, step, times, SIP code, digits, outcome, prompt version)';
COMMENT ON TABLE call_event IS 'hazwatch voice provider events per attempt (idempotent on attempt_id + event_key)';

-- Down Migration
DROP TABLE IF EXISTS call_event;
DROP TABLE IF EXISTS call_attempt;
DROP TABLE IF EXISTS duty_check;
DROP TABLE IF EXISTS callout;
