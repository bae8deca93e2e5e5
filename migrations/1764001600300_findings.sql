-- Up Migration
-- Findings (隐患) as their own workflow (docs/findings.md): raised from an alarm or standalone (inspection, enterprise
-- self-check, public report), graded 重大/一般, with a deadline, the 五落实 plan, escalation when overdue and the
-- regulator's sign-off (销号). History in finding_event (one row per change, never updated).
CREATE TABLE finding (
  id               text        PRIMARY KEY,
  site_id          text        NOT NULL,
  source_id        text,
  alarm_id         text,
  origin           text        NOT NULL CHECK (origin IN ('alarm', 'inspection', 'self_check', 'public_report')),
  grade            text        NOT NULL CHECK (grade IN ('major', 'general')),
  title            text        NOT NULL,
  description      text        NOT NULL DEFAULT '',
  status           text        NOT NULL CHECK (status IN ('open', 'rectifying', 'verified', 'closed')),
  deadline         timestamptz NOT NULL,
  plan_measures    text,
  plan_funds_cny   numeric     CHECK (plan_funds_cny >= 0),
  plan_due         timestamptz,
  plan_responsible text,
  plan_contingency text,
  reported_by      text        NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  escalated_at     timestamptz,
  closed_at        timestamptz,
  closed_by        text
);
CREATE INDEX finding_site_status_idx ON finding (site_id, status, grade);
CREATE INDEX finding_open_deadline_idx ON finding (deadline) WHERE status IN ('open', 'rectifying');

CREATE TABLE finding_event (
  finding_id   text        NOT NULL REFERENCES finding (id),
  n            integer     NOT NULL CHECK (n > 0),
  at           timestamptz NOT NULL,
  kind         text        NOT NULL CHECK (kind IN ('created', 'plan', 'transition', 'escalated')),
  from_status  text,
  to_status    text,
  actor        text        NOT NULL,
  actor_role   text        NOT NULL,
  comment      text,
  PRIMARY KEY (finding_id, n)
);

-- Down Migration
DROP TABLE IF EXISTS finding_event;
DROP TABLE IF EXISTS finding;
