-- Up Migration
-- The enterprise's 主要负责人 is called when a finding (隐患) is recorded and when it becomes overdue
-- (docs/findings.md, "Notification of the 主要负责人"): such a call attempt belongs to a finding rather than to an alarm
-- call-out or a duty check, and the finding's history records the notice and its outcome.
ALTER TABLE call_attempt ADD COLUMN finding_id text;
ALTER TABLE call_attempt DROP CONSTRAINT call_attempt_check;
ALTER TABLE call_attempt ADD CONSTRAINT call_attempt_one_owner
  CHECK (num_nonnulls(callout_id, duty_check_id, finding_id) = 1);
CREATE INDEX call_attempt_finding_idx ON call_attempt (finding_id) WHERE finding_id IS NOT NULL;
ALTER TABLE finding_event DROP CONSTRAINT finding_event_kind_check;
ALTER TABLE finding_event ADD CONSTRAINT finding_event_kind_check
  CHECK (kind IN ('created', 'plan', 'transition', 'escalated', 'notified'));

-- Down Migration
-- The notice calls and notice events have no place in the older schema: they are removed with it.
DELETE FROM finding_event WHERE kind = 'notified';
ALTER TABLE finding_event DROP CONSTRAINT finding_event_kind_check;
ALTER TABLE finding_event ADD CONSTRAINT finding_event_kind_check
  CHECK (kind IN ('created', 'plan', 'transition', 'escalated'));
DELETE FROM call_event WHERE attempt_id IN (SELECT id FROM call_attempt WHERE finding_id IS NOT NULL);
DELETE FROM call_attempt WHERE finding_id IS NOT NULL;
DROP INDEX IF EXISTS call_attempt_finding_idx;
ALTER TABLE call_attempt DROP CONSTRAINT call_attempt_one_owner;
ALTER TABLE call_attempt ADD CONSTRAINT call_attempt_check CHECK ((callout_id IS NULL) <> (duty_check_id IS NULL));
ALTER TABLE call_attempt DROP COLUMN finding_id;
