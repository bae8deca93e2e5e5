-- Up Migration
-- The national early-warning CAP profile (docs/cap-profile.md, "National profile"): each feed message may carry a
-- second rendering with its GB/T 35965.1 identifier (unique: the projector allocates them, one writer per cluster);
-- a webhook subscription chooses the profile its receiver expects. Messages projected before the profile was
-- configured have neither (their readers get the OASIS document).
ALTER TABLE feed_message ADD COLUMN national_identifier text UNIQUE;
ALTER TABLE feed_message ADD COLUMN national_xml text;
ALTER TABLE feed_message ADD CONSTRAINT feed_message_national_pair
  CHECK ((national_identifier IS NULL) = (national_xml IS NULL));
ALTER TABLE feed_subscription ADD COLUMN profile text NOT NULL DEFAULT 'oasis'
  CHECK (profile IN ('oasis', 'cn-national'));

-- Down Migration
ALTER TABLE feed_subscription DROP COLUMN IF EXISTS profile;
ALTER TABLE feed_message DROP CONSTRAINT IF EXISTS feed_message_national_pair;
ALTER TABLE feed_message DROP COLUMN IF EXISTS national_xml;
ALTER TABLE feed_message DROP COLUMN IF EXISTS national_identifier;
