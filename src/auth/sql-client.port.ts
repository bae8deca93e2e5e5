import type { QueryResult, QueryResultRow } from 'pg';

/**
 * The slice of the database auth needs: one parameterised query. Storage's `Database` and a plain `pg.Pool` (used by
 * the token CLI) both satisfy it, and unit tests fake it.
 */
export type SqlClient = {
  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<QueryResult<R>>;
};

/** DI token for the SqlClient auth uses (bound to storage's Database in AuthModule). */
export const AUTH_SQL = Symbol('AUTH_SQL');
