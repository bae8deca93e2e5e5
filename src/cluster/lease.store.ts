import type { QueryResult, QueryResultRow } from 'pg';

/** Parameterised SQL (the `Database` of src/storage satisfies it). */
export type SqlPort = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
};

export type HeldLease = { key: string; epoch: number };
export type AcquiredLease = { key: string; epoch: number; acquiredAt: Date };
/** A lease row as the database sees it now; `expiredForMs` > 0 once expired (or released), from the database clock. */
export type LeaseRow = { key: string; owner: string | null; epoch: number; expiredForMs: number };
export type NodeRow = {
  nodeId: string;
  startedAt: Date;
  heartbeatAt: Date;
  expiresAt: Date;
  alive: boolean;
  draining: boolean;
  version: string;
};
export type LeaseInfo = {
  key: string;
  owner: string | null;
  epoch: number;
  acquiredAt: Date;
  renewedAt: Date;
  expiresAt: Date;
  valid: boolean;
};

/**
 * The cluster's shared state (docs/adr/0016-cluster.md). Every expiry is decided by the database clock; callers only
 * pass durations. Implementations must make acquire/renew/release atomic per key.
 */
export type LeaseStore = {
  /**
   * Upserts this node's heartbeat (alive for ttlMs) and returns the ids of every live, non-draining node. While another
   * incarnation (process) with the same node id is alive, the row is left alone and the list lacks this node.
   */
  heartbeat(nodeId: string, incarnation: string, ttlMs: number, version: string): Promise<string[]>;
  /** Marks the node draining and no longer alive (graceful stop). */
  retire(nodeId: string, incarnation: string): Promise<void>;
  /** Extends the leases still held with the given epochs; returns the keys extended (the others are lost). */
  renew(nodeId: string, held: readonly HeldLease[], ttlMs: number): Promise<string[]>;
  /** Takes each key that is free, expired or already this node's, with epoch + 1; returns those taken. */
  acquire(nodeId: string, keys: readonly string[], ttlMs: number): Promise<AcquiredLease[]>;
  /** Gives the leases up (owner cleared, expired now; epoch kept so it only grows). */
  release(nodeId: string, held: readonly HeldLease[]): Promise<void>;
  /** Every lease row of the given keys. */
  leases(keys: readonly string[]): Promise<LeaseRow[]>;
};

const HEARTBEAT = `
  WITH me AS (
    INSERT INTO cluster_node AS n (node_id, incarnation, started_at, heartbeat_at, expires_at, draining, version)
    VALUES ($1, $2, now(), now(), now() + $3::integer * interval '1 millisecond', false, $4)
    ON CONFLICT (node_id) DO UPDATE SET
      started_at = CASE WHEN n.incarnation = EXCLUDED.incarnation THEN n.started_at ELSE now() END,
      incarnation = EXCLUDED.incarnation,
      heartbeat_at = now(),
      expires_at = EXCLUDED.expires_at,
      draining = false,
      version = EXCLUDED.version
    -- another live process with this node id: not updated (the caller finds itself missing and holds nothing)
    WHERE n.incarnation = EXCLUDED.incarnation OR n.expires_at <= now() OR n.draining
    RETURNING node_id
  )
  SELECT node_id FROM cluster_node WHERE expires_at > now() AND NOT draining AND node_id <> $1
  UNION SELECT node_id FROM me`;

const RETIRE = `
  UPDATE cluster_node SET draining = true, expires_at = now(), heartbeat_at = now()
  WHERE node_id = $1 AND incarnation = $2`;

const RENEW = `
  UPDATE site_lease AS l SET renewed_at = now(), expires_at = now() + $4::integer * interval '1 millisecond'
  FROM unnest($2::text[], $3::bigint[]) AS h(site_id, epoch)
  WHERE l.site_id = h.site_id AND l.epoch = h.epoch AND l.owner = $1 AND l.expires_at > now()
  RETURNING l.site_id`;

const ACQUIRE = `
  INSERT INTO site_lease AS l (site_id, owner, epoch, acquired_at, renewed_at, expires_at)
  SELECT k, $1, 1, now(), now(), now() + $3::integer * interval '1 millisecond' FROM unnest($2::text[]) AS k
  ON CONFLICT (site_id) DO UPDATE SET
    owner = EXCLUDED.owner, epoch = l.epoch + 1, acquired_at = now(), renewed_at = now(), expires_at = EXCLUDED.expires_at
  WHERE l.owner IS NULL OR l.expires_at <= now() OR l.owner = $1
  RETURNING l.site_id, l.epoch, l.acquired_at`;

const RELEASE = `
  UPDATE site_lease AS l SET owner = NULL, expires_at = now()
  FROM unnest($2::text[], $3::bigint[]) AS h(site_id, epoch)
  WHERE l.site_id = h.site_id AND l.epoch = h.epoch AND l.owner = $1`;

const LEASES = `
  SELECT site_id, owner, epoch,
         GREATEST(0, extract(epoch FROM now() - expires_at) * 1000)::double precision AS expired_for_ms
  FROM site_lease WHERE site_id = ANY($1::text[])`;

const NODES = `
  SELECT node_id, started_at, heartbeat_at, expires_at, draining, version,
         (expires_at > now() AND NOT draining) AS alive
  FROM cluster_node ORDER BY node_id`;

const ALL_LEASES = `
  SELECT site_id, owner, epoch, acquired_at, renewed_at, expires_at, (owner IS NOT NULL AND expires_at > now()) AS valid
  FROM site_lease ORDER BY site_id`;

/** The PostgreSQL lease store (tables cluster_node and site_lease, migrations/1764001600000_cluster.sql). */
export class PgLeaseStore implements LeaseStore {
  constructor(private readonly db: SqlPort) {}

  async heartbeat(nodeId: string, incarnation: string, ttlMs: number, version: string): Promise<string[]> {
    const r = await this.db.query<{ node_id: string }>(HEARTBEAT, [
      nodeId,
      incarnation,
      Math.round(ttlMs),
      version,
    ]);
    return r.rows.map((x) => x.node_id).sort();
  }

  async retire(nodeId: string, incarnation: string): Promise<void> {
    await this.db.query(RETIRE, [nodeId, incarnation]);
  }

  async renew(nodeId: string, held: readonly HeldLease[], ttlMs: number): Promise<string[]> {
    if (held.length === 0) return [];
    const r = await this.db.query<{ site_id: string }>(RENEW, [
      nodeId,
      held.map((h) => h.key),
      held.map((h) => String(h.epoch)),
      Math.round(ttlMs),
    ]);
    return r.rows.map((x) => x.site_id);
  }

  async acquire(nodeId: string, keys: readonly string[], ttlMs: number): Promise<AcquiredLease[]> {
    if (keys.length === 0) return [];
    const r = await this.db.query<{ site_id: string; epoch: string; acquired_at: Date }>(ACQUIRE, [
      nodeId,
      [...keys],
      Math.round(ttlMs),
    ]);
    return r.rows.map((x) => ({ key: x.site_id, epoch: Number(x.epoch), acquiredAt: x.acquired_at }));
  }

  async release(nodeId: string, held: readonly HeldLease[]): Promise<void> {
    if (held.length === 0) return;
    await this.db.query(RELEASE, [nodeId, held.map((h) => h.key), held.map((h) => String(h.epoch))]);
  }

  async leases(keys: readonly string[]): Promise<LeaseRow[]> {
    if (keys.length === 0) return [];
    const r = await this.db.query<{
      site_id: string;
      owner: string | null;
      epoch: string;
      expired_for_ms: number;
    }>(LEASES, [[...keys]]);
    return r.rows.map((x) => ({
      key: x.site_id,
      owner: x.owner,
      epoch: Number(x.epoch),
      expiredForMs: x.expired_for_ms,
    }));
  }

  /** For GET /api/cluster: every node row. */
  async nodes(): Promise<NodeRow[]> {
    const r = await this.db.query<{
      node_id: string;
      started_at: Date;
      heartbeat_at: Date;
      expires_at: Date;
      draining: boolean;
      version: string;
      alive: boolean;
    }>(NODES);
    return r.rows.map((x) => ({
      nodeId: x.node_id,
      startedAt: x.started_at,
      heartbeatAt: x.heartbeat_at,
      expiresAt: x.expires_at,
      alive: x.alive,
      draining: x.draining,
      version: x.version,
    }));
  }

  /** For GET /api/cluster: every lease row. */
  async allLeases(): Promise<LeaseInfo[]> {
    const r = await this.db.query<{
      site_id: string;
      owner: string | null;
      epoch: string;
      acquired_at: Date;
      renewed_at: Date;
      expires_at: Date;
      valid: boolean;
    }>(ALL_LEASES);
    return r.rows.map((x) => ({
      key: x.site_id,
      owner: x.owner,
      epoch: Number(x.epoch),
      acquiredAt: x.acquired_at,
      renewedAt: x.renewed_at,
      expiresAt: x.expires_at,
      valid: x.valid,
    }));
  }
}
