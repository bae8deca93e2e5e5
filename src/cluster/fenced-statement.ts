import type { QueryResult, QueryResultRow } from 'pg';
import { FencedError, type FenceToken } from './fence';

/** Anything that runs one statement (a pg Pool, the Database service, a transaction). */
export type StatementDb = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
};

/** The condition a fenced statement puts into its WHERE: true only while the lease row below was found and locked. */
export const LEASE_HELD = 'EXISTS (SELECT 1 FROM lease)';

/**
 * The same guard as `fencedWrite` (src/cluster/fence.ts) in one round trip, for writes that are a single statement
 * (call-out steps, docs/adr/0026-cluster-callouts-feeds.md). The lease row is read FOR SHARE in a CTE of the write
 * itself: a takeover (an UPDATE of the row) in flight makes the statement wait and then re-check the row's newest
 * version, which no longer matches; a takeover that comes later waits for this statement's commit. So the write
 * commits while the lease is valid or is refused with FencedError, never both.
 *
 * `write(guard)` returns an INSERT/UPDATE whose WHERE includes `guard` (an INSERT takes the form
 * `INSERT … SELECT $1, … WHERE guard`) and which has no RETURNING clause; its parameters are `params`, the lease's are
 * appended after them. Returns the number of rows the write touched (0 for a conflict it chose to ignore).
 */
export async function fencedStatement(
  db: StatementDb,
  token: FenceToken,
  write: (guard: string) => string,
  params: readonly unknown[],
): Promise<number> {
  const n = params.length;
  const sql = `
WITH lease AS (
  SELECT epoch FROM site_lease
  WHERE site_id = $${n + 1} AND owner = $${n + 2} AND epoch = $${n + 3} AND expires_at > now()
  FOR SHARE
), w AS (${write(LEASE_HELD)} RETURNING 1)
SELECT (SELECT count(*) FROM lease)::int AS held, (SELECT count(*) FROM w)::int AS written`;
  const r = await db.query<{ held: number; written: number }>(sql, [
    ...params,
    token.siteId,
    token.nodeId,
    String(token.epoch),
  ]);
  const row = r.rows[0];
  if (!row || row.held !== 1) throw new FencedError(token);
  return row.written;
}
