import { Pool } from 'pg';
import type { JsonLogger } from '../common/logger';
import type { SqlPort } from './lease.store';

/** The lease rounds' own connection (see openLeaseConnection). */
export type LeaseConnection = { readonly sql: SqlPort; close(): Promise<void> };

/**
 * A connection of the LeaseManager's own, outside the server's main pool (docs/adr/0016-cluster.md, "What runs
 * today"): a pool saturated by API, telemetry or alarm work must not delay renewals until a healthy
 * node self-fences. One connection (rounds are sequential), reconnected on demand; a statement that takes longer than
 * one round (ttl/4) is abandoned and the next round tries again, so a hung connection costs at most the self-fence the
 * node would reach anyway.
 */
export function openLeaseConnection(url: string, ttlMs: number, log: JsonLogger): LeaseConnection {
  const roundMs = Math.max(500, Math.floor(ttlMs / 4));
  const pool = new Pool({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: roundMs,
    query_timeout: roundMs,
    statement_timeout: roundMs,
    idleTimeoutMillis: 0,
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
    application_name: 'hazwatch-lease',
  });
  pool.on('error', (err) =>
    log.warn('lease connection error (reconnected at the next round)', { error: err.message }),
  );
  let closed = false;
  return {
    sql: { query: (text, params) => pool.query(text, params ? [...params] : undefined) },
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
