import type { QueryResult, QueryResultRow } from 'pg';
import type { TxClient } from '../storage/database.service';

/** The slice of storage's `Database` the regulator repositories use (a fake in unit tests). */
export type FeedSql = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  withTransaction<T>(fn: (tx: TxClient) => Promise<T>): Promise<T>;
};
export const FEED_SQL = Symbol('FEED_SQL');

export const ms = (d: Date | string | null): number | null => (d === null ? null : new Date(d).getTime());
export const iso = (d: Date | string | null): string | null =>
  d === null ? null : new Date(d).toISOString();
export const date = (t: number): Date => new Date(t);
