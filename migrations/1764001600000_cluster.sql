-- Up Migration
-- Cluster groundwork (docs/adr/0016-cluster.md). Only nodes started with HAZWATCH_NODE_ID read or write these tables;
-- a single node never touches them. Every time below comes from the database clock (now()), never a node's clock.

-- One row per node id: a heartbeat every renewal round; a node is alive while expires_at > now() and not draining.
CREATE TABLE cluster_node (
  node_id      text PRIMARY KEY CHECK (node_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  -- a random id per process: a restart under the same node id is a new incarnation (started_at moves)
  incarnation  text NOT NULL,
  started_at   timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  -- set by a graceful stop: the node gives its leases away and is no longer counted for the fair share
  draining     boolean NOT NULL DEFAULT false,
  version      text NOT NULL DEFAULT ''
);

-- One row per lease, kept forever so that epoch only grows: a site id (ownership of the site's alarm work), or
-- 'job:<name>' for a singleton job (site ids match [A-Za-z0-9_-]{1,64}, so the two never collide).
-- epoch is the fencing token: +1 on every acquisition; a writer holding an older epoch is refused (fence).
CREATE TABLE site_lease (
  site_id     text PRIMARY KEY CHECK (site_id ~ '^([A-Za-z0-9_-]{1,64}|job:[a-z0-9-]{1,64})$'),
  owner       text,
  epoch       bigint NOT NULL CHECK (epoch >= 1),
  acquired_at timestamptz NOT NULL,
  renewed_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX site_lease_owner_idx ON site_lease (owner) WHERE owner IS NOT NULL;

-- Down Migration
DROP TABLE IF EXISTS site_lease;
DROP TABLE IF EXISTS cluster_node;
