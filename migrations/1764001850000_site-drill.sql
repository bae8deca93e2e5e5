-- Up Migration
-- Drills (应急演练) declared by a supervisor for one enterprise (docs/adr/0028-declared-drills.md): who started and
-- ended the drill, when, and its scenario. Append-only: a drill is a `started` row and, once over, an `ended` row;
-- alarms of the site raised inside [started, ended] are drill alarms (CAP status Exercise, 演练 in the console).
CREATE TABLE site_drill_event (
  seq       bigserial   PRIMARY KEY,
  drill_id  text        NOT NULL,
  site_id   text        NOT NULL,
  kind      text        NOT NULL CHECK (kind IN ('started', 'ended')),
  at        timestamptz NOT NULL,
  by_name   text        NOT NULL,
  by_role   text        NOT NULL,
  scenario  text        CHECK (kind = 'ended' OR (scenario IS NOT NULL AND length(scenario) BETWEEN 1 AND 500)),
  UNIQUE (drill_id, kind)
);
CREATE INDEX site_drill_event_site_at ON site_drill_event (site_id, at);

CREATE FUNCTION site_drill_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'site_drill_event is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER site_drill_event_no_update BEFORE UPDATE OR DELETE ON site_drill_event
  FOR EACH ROW EXECUTE FUNCTION site_drill_event_append_only();
CREATE TRIGGER site_drill_event_no_truncate BEFORE TRUNCATE ON site_drill_event
  FOR EACH STATEMENT EXECUTE FUNCTION site_drill_event_append_only();

-- Down Migration
DROP TABLE IF EXISTS site_drill_event;
DROP FUNCTION IF EXISTS site_drill_event_append_only();
