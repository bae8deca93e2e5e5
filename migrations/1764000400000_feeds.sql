-- Up Migration
-- Regulator feeds and the disposal closed loop (issue 7, docs/adr/0006-regulator-feeds.md).
-- feed_message: every CAP 1.2 message published (immutable once written; Atom and CAP endpoints read it).
-- feed_subscription / feed_delivery / feed_delivery_attempt: the webhook outbox (a restart loses nothing, in order per
-- subscription, stable delivery ids). disposal_obligation / alarm_disposition: the reporting rule and the closed loop.
-- hidden_danger / hidden_danger_event: findings raised from alarms (open → rectifying → verified → closed).

-- Seq of the last alarm event the feed projector has handled (it resumes from here after a restart).
CREATE TABLE feed_cursor (
  name        text        PRIMARY KEY,
  last_seq    bigint      NOT NULL CHECK (last_seq >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE feed_message (
  identifier    text        PRIMARY KEY CHECK (identifier ~ '^[^\s,<&]+$'),
  event_seq     bigint      NOT NULL UNIQUE CHECK (event_seq > 0),
  alarm_id      text        NOT NULL,
  site_id       text        NOT NULL,
  source_id     text        NOT NULL,
  msg_type      text        NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
  priority      text        NOT NULL CHECK (priority IN ('critical', 'high', 'medium', 'low')),
  event         text        NOT NULL,
  -- the incident's Alert (itself for an Alert) and whether the incident is still open after this message
  incident      text        NOT NULL,
  incident_sent text        NOT NULL,
  incident_open boolean     NOT NULL,
  sent          timestamptz NOT NULL,
  headline      text        NOT NULL,
  xml           text        NOT NULL,
  -- the alarm event the message was made from (JSON webhooks carry it)
  event_json    jsonb       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feed_message_site_seq_idx ON feed_message (site_id, event_seq DESC);
CREATE INDEX feed_message_alarm_idx ON feed_message (alarm_id, event_seq DESC);
COMMENT ON TABLE feed_message IS 'hazwatch regulator feed: CAP 1.2 messages (GET /feeds/alerts.atom, /feeds/alerts/:id.cap)';

CREATE TABLE feed_subscription (
  id              text        PRIMARY KEY,
  name            text        NOT NULL,
  url             text        NOT NULL CHECK (url ~ '^https?://'),
  -- jurisdiction path prefix; lies within owner_scope
  scope           text        NOT NULL,
  min_priority    text        NOT NULL CHECK (min_priority IN ('critical', 'high', 'medium', 'low')),
  format          text        NOT NULL CHECK (format IN ('json', 'cap')),
  -- HMAC-SHA256 key; needed in clear to sign, never returned by the API after creation and never logged
  secret          text        NOT NULL,
  owner_token_id  text        NOT NULL,
  owner_name      text        NOT NULL,
  owner_scope     text        NOT NULL,
  status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'deleted')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- first failed attempt of the current failure streak (null while deliveries succeed)
  failing_since   timestamptz,
  paused_at       timestamptz,
  pause_reason    text,
  deleted_at      timestamptz
);

CREATE TABLE feed_delivery (
  -- the delivery id receivers de-duplicate on: stable across retries and restarts
  id               text        PRIMARY KEY,
  ord              bigserial   UNIQUE,
  subscription_id  text        NOT NULL REFERENCES feed_subscription (id),
  message_id       text        NOT NULL REFERENCES feed_message (identifier),
  status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'cancelled')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  last_attempt_at  timestamptz,
  last_status      integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (subscription_id, message_id)
);
CREATE INDEX feed_delivery_pending_idx ON feed_delivery (subscription_id, ord) WHERE status = 'pending';
CREATE INDEX feed_delivery_sub_ord_idx ON feed_delivery (subscription_id, ord DESC);

CREATE TABLE feed_delivery_attempt (
  delivery_id  text        NOT NULL REFERENCES feed_delivery (id),
  attempt      integer     NOT NULL CHECK (attempt > 0),
  at           timestamptz NOT NULL,
  duration_ms  integer     NOT NULL,
  http_status  integer,
  error        text,
  PRIMARY KEY (delivery_id, attempt)
);

-- Reporting rule: a critical/high alarm of a major hazard source obliges the enterprise to file a disposal record by due_at.
CREATE TABLE disposal_obligation (
  incident     text        PRIMARY KEY,
  alarm_id     text        NOT NULL,
  site_id      text        NOT NULL,
  source_id    text        NOT NULL,
  priority     text        NOT NULL,
  raised_at    timestamptz NOT NULL,
  due_at       timestamptz NOT NULL,
  status       text        NOT NULL DEFAULT 'awaiting' CHECK (status IN ('awaiting', 'filed', 'accepted')),
  filed_at     timestamptz,
  -- set when the deadline passed without a record (escalated to the district); kept as the mark of a late filing
  overdue_at   timestamptz,
  returned     integer     NOT NULL DEFAULT 0,
  closed_at    timestamptz
);
CREATE INDEX disposal_obligation_alarm_idx ON disposal_obligation (alarm_id, raised_at DESC);
CREATE INDEX disposal_obligation_awaiting_idx ON disposal_obligation (due_at) WHERE status = 'awaiting';

CREATE TABLE alarm_disposition (
  id               text        PRIMARY KEY,
  alarm_id         text        NOT NULL,
  incident         text,
  site_id          text        NOT NULL,
  cause            text        NOT NULL,
  actions          text        NOT NULL,
  closed_by        text        NOT NULL,
  attachments      jsonb       NOT NULL DEFAULT '[]',
  filed_by         text        NOT NULL,
  filed_at         timestamptz NOT NULL,
  filed_seq        bigint      NOT NULL,
  status           text        NOT NULL DEFAULT 'filed' CHECK (status IN ('filed', 'accepted', 'returned')),
  reviewed_by      text,
  reviewed_at      timestamptz,
  review_comment   text,
  reviewed_seq     bigint
);
CREATE INDEX alarm_disposition_alarm_idx ON alarm_disposition (alarm_id, filed_at DESC);

CREATE TABLE hidden_danger (
  id          text        PRIMARY KEY,
  alarm_id    text,
  site_id     text        NOT NULL,
  source_id   text,
  title       text        NOT NULL,
  status      text        NOT NULL CHECK (status IN ('open', 'rectifying', 'verified', 'closed')),
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);
CREATE INDEX hidden_danger_site_idx ON hidden_danger (site_id, status);

CREATE TABLE hidden_danger_event (
  danger_id    text        NOT NULL REFERENCES hidden_danger (id),
  n            integer     NOT NULL,
  at           timestamptz NOT NULL,
  from_status  text,
  to_status    text        NOT NULL,
  actor        text        NOT NULL,
  actor_role   text        NOT NULL,
  comment      text,
  PRIMARY KEY (danger_id, n)
);

-- Down Migration
DROP TABLE IF EXISTS hidden_danger_event;
DROP TABLE IF EXISTS hidden_danger;
DROP TABLE IF EXISTS alarm_disposition;
DROP TABLE IF EXISTS disposal_obligation;
DROP TABLE IF EXISTS feed_delivery_attempt;
DROP TABLE IF EXISTS feed_delivery;
DROP TABLE IF EXISTS feed_subscription;
DROP TABLE IF EXISTS feed_message;
DROP TABLE IF EXISTS feed_cursor;
