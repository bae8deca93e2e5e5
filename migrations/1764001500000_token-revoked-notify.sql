-- Up Migration
-- Revocation takes effect on every server at once (docs/threat-model.md, "Tokens"): whenever revoked_at is set — by
-- the server's API, the token CLI or plain SQL — PostgreSQL notifies channel hazwatch_token_revoked with the token id
-- (delivered at commit). Each server LISTENs, drops the token from its cache and closes its WebSocket sessions.
CREATE FUNCTION api_token_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS DISTINCT FROM NEW.revoked_at THEN
    PERFORM pg_notify('hazwatch_token_revoked', NEW.id);
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER api_token_revoked_notify AFTER UPDATE OF revoked_at ON api_token
  FOR EACH ROW EXECUTE FUNCTION api_token_notify_revoked();
-- a deleted token is as good as revoked
CREATE FUNCTION api_token_notify_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hazwatch_token_revoked', OLD.id);
  RETURN OLD;
END;
$$;
CREATE TRIGGER api_token_deleted_notify AFTER DELETE ON api_token
  FOR EACH ROW EXECUTE FUNCTION api_token_notify_deleted();

-- Down Migration
DROP TRIGGER IF EXISTS api_token_deleted_notify ON api_token;
DROP FUNCTION IF EXISTS api_token_notify_deleted();
DROP TRIGGER IF EXISTS api_token_revoked_notify ON api_token;
DROP FUNCTION IF EXISTS api_token_notify_revoked();
