-- Up Migration
-- API bearer tokens (CONTRACT §6, docs/adr/0004-auth.md). Only SHA-256 of the whole token is stored; the secret is
-- shown once at creation. Rows are never deleted: revoked tokens stay for the audit trail (the journal names them).
CREATE TABLE api_token (
  id           text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
  name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  role         text NOT NULL CHECK (role IN ('operator', 'supervisor', 'regulator', 'admin')),
  -- jurisdiction path prefix such as 'tianjin/binhai'; '' covers every site
  scope        text NOT NULL DEFAULT '' CHECK (scope = '' OR scope ~ '^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64})*$'),
  token_hash   bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  last_used_at timestamptz
);

COMMENT ON TABLE api_token IS 'hazwatch API tokens; token_hash = sha256(full token), see docs/adr/0004-auth.md';

-- Down Migration
DROP TABLE IF EXISTS api_token;
