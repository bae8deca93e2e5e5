-- Up Migration
-- Regulator workflows (docs/regulator-workflows.md): video-analytics tokens, operator-off-post events that trigger a
-- duty check, and the feedback obligation (反馈) a missed duty check opens for the enterprise.

-- A token kind for video-analytics systems: it may only report duty events for the enterprises of its scope.
ALTER TABLE api_token DROP CONSTRAINT api_token_role_check;
ALTER TABLE api_token ADD CONSTRAINT api_token_role_check
  CHECK (role IN ('operator', 'supervisor', 'regulator', 'admin', 'video'));

-- A duty check started by a video event.
ALTER TABLE duty_check DROP CONSTRAINT duty_check_trigger_check;
ALTER TABLE duty_check ADD CONSTRAINT duty_check_trigger_check CHECK (trigger IN ('schedule', 'manual', 'video'));

-- Events reported by video analytics, keyed by the reporter's event id (a retry of the same event adds nothing).
CREATE TABLE duty_event (
  event_id       text        PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 128),
  site_id        text        NOT NULL,
  kind           text        NOT NULL CHECK (kind IN ('off_post')),
  occurred_at    timestamptz NOT NULL,
  received_at    timestamptz NOT NULL,
  camera_id      text        NOT NULL,
  snapshot_url   text,
  snapshot_id    text,
  token_id       text        NOT NULL,
  reported_by    text        NOT NULL,
  duty_check_id  text,
  -- started: a check was started for it; joined: a check of the site was already running
  outcome        text        NOT NULL CHECK (outcome IN ('started', 'joined'))
);
CREATE INDEX duty_event_site_idx ON duty_event (site_id, received_at DESC);

-- The enterprise's feedback after a missed duty check: who was on post, why the call was missed, what was done.
CREATE TABLE duty_feedback (
  id              text        PRIMARY KEY,
  duty_check_id   text        NOT NULL UNIQUE,
  site_id         text        NOT NULL,
  result          text        NOT NULL,
  raised_at       timestamptz NOT NULL,
  due_at          timestamptz NOT NULL,
  status          text        NOT NULL DEFAULT 'awaiting' CHECK (status IN ('awaiting', 'filed', 'accepted')),
  overdue_at      timestamptz,
  returned        integer     NOT NULL DEFAULT 0,
  who             text,
  why             text,
  actions         text,
  filed_by        text,
  filed_at        timestamptz,
  reviewed_by     text,
  reviewed_at     timestamptz,
  review_comment  text,
  closed_at       timestamptz
);
CREATE INDEX duty_feedback_open_idx ON duty_feedback (status, due_at) WHERE status <> 'accepted';
CREATE INDEX duty_feedback_site_idx ON duty_feedback (site_id, raised_at DESC);

-- Down Migration
DROP TABLE IF EXISTS duty_feedback;
DROP TABLE IF EXISTS duty_event;
-- checks started by video events keep their record as manual checks; video tokens are revoked and shown as operators
UPDATE duty_check SET trigger = 'manual' WHERE trigger = 'video';
ALTER TABLE duty_check DROP CONSTRAINT duty_check_trigger_check;
ALTER TABLE duty_check ADD CONSTRAINT duty_check_trigger_check CHECK (trigger IN ('schedule', 'manual'));
UPDATE api_token SET role = 'operator', revoked_at = COALESCE(revoked_at, now()) WHERE role = 'video';
ALTER TABLE api_token DROP CONSTRAINT api_token_role_check;
ALTER TABLE api_token ADD CONSTRAINT api_token_role_check
  CHECK (role IN ('operator', 'supervisor', 'regulator', 'admin'));
