-- Up Migration
-- Read access to a regulator's webhook subscription granted by an admin to another token (docs/regulator-workflows.md):
-- a subscription belongs to the token that created it; a grantee may list and read it (and its delivery log), never
-- resume or delete it.
CREATE TABLE feed_subscription_grant (
  subscription_id   text        NOT NULL REFERENCES feed_subscription (id),
  grantee_token_id  text        NOT NULL,
  granted_by        text        NOT NULL,
  granted_at        timestamptz NOT NULL,
  PRIMARY KEY (subscription_id, grantee_token_id)
);
CREATE INDEX feed_subscription_grant_grantee_idx ON feed_subscription_grant (grantee_token_id);

-- Down Migration
DROP TABLE IF EXISTS feed_subscription_grant;
