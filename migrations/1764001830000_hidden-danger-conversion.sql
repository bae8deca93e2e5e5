-- Up Migration
-- A hidden-danger item of the disposal loop (hidden_danger) can be converted into a finding (docs/findings.md,
-- "Converting a hidden-danger item"): the finding names the item it came from (at most one finding per item) and the
-- item names its finding, after which the item no longer moves (its work continues as the finding).
ALTER TABLE finding ADD COLUMN hidden_danger_id text REFERENCES hidden_danger (id);
CREATE UNIQUE INDEX finding_hidden_danger_idx ON finding (hidden_danger_id) WHERE hidden_danger_id IS NOT NULL;
ALTER TABLE hidden_danger ADD COLUMN finding_id text REFERENCES finding (id);

-- Down Migration
-- The findings stay; only the link between them and the items they came from is dropped.
ALTER TABLE hidden_danger DROP COLUMN IF EXISTS finding_id;
DROP INDEX IF EXISTS finding_hidden_danger_idx;
ALTER TABLE finding DROP COLUMN IF EXISTS hidden_danger_id;
