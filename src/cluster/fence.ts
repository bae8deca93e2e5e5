import type { QueryResult, QueryResultRow } from 'pg';

/** A transaction's queries (the `TxClient` of src/storage/database.service.ts satisfies it). */
export type FenceTx = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
};
export type FenceDb = { withTransaction<T>(fn: (tx: FenceTx) => Promise<T>): Promise<T> };

/** What a writer holds while it owns a site: the site, its node and the lease epoch (fencing token). */
export type FenceToken = { siteId: string; nodeId: string; epoch: number };

/**
 * The lease row, still this node's, with this epoch, not expired by the database clock — locked FOR SHARE, so a
 * takeover (an UPDATE of the row) waits until this transaction ends: the write commits while the lease is valid, or
 * the takeover happened first and the write is refused. Never both.
 */
export const FENCE_SQL = `
  SELECT epoch FROM site_lease
  WHERE site_id = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()
  FOR SHARE`;

/** A write refused because the writer's lease epoch is no longer the current one (another node owns the site). */
export class FencedError extends Error {
  constructor(readonly token: FenceToken) {
    super(
      `write refused: node '${token.nodeId}' no longer holds the lease of '${token.siteId}' with epoch ${token.epoch}`,
    );
    this.name = 'FencedError';
  }
}

/** The guard inside a write transaction: throws FencedError (the caller's transaction rolls back) unless still owner. */
export async function fence(tx: FenceTx, token: FenceToken): Promise<void> {
  const r = await tx.query(FENCE_SQL, [token.siteId, token.nodeId, String(token.epoch)]);
  if (r.rowCount !== 1) throw new FencedError(token);
}

/** Runs `fn` in a transaction that first passes the fence (alarm journal and call-out step writes). */
export function fencedWrite<T>(db: FenceDb, token: FenceToken, fn: (tx: FenceTx) => Promise<T>): Promise<T> {
  return db.withTransaction(async (tx) => {
    await fence(tx, token);
    return fn(tx);
  });
}
