import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { TELEMETRY_COPY_SQL } from './copy-row.encoder';

/**
 * Port for the writer's database side: one COPY of a chunk of COPY-text lines, committed atomically
 * (COPY outside a transaction block is its own transaction). Unit tests fake it.
 */
export type TelemetrySink = {
  copy(chunk: string | Buffer, rows: number): Promise<void>;
  /** Releases what the sink holds (a worker thread), after the writer's last COPY. */
  close?(): Promise<void>;
};

/** Something that lends a pooled client (Database implements it). */
export type ClientSource = { acquire(): Promise<PoolClient> };

/** PostgreSQL error code of an error thrown by pg (SQLSTATE), if any. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * True when the database rejected the *data* (SQLSTATE class 22 data exception, 23 integrity violation):
 * retrying the same rows can never succeed, so the writer isolates the bad rows instead of retrying.
 * Anything else (connection lost, timeouts, missing table, ...) is treated as transient and retried.
 */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

export class CopyTimeoutError extends Error {
  constructor(ms: number) {
    super(`COPY did not finish within ${ms} ms; connection discarded`);
    this.name = 'CopyTimeoutError';
  }
}

/** COPY FROM STDIN through pg-copy-streams on a pooled connection, with a client-side timeout. */
export class PgTelemetrySink implements TelemetrySink {
  constructor(
    private readonly source: ClientSource,
    private readonly timeoutMs = 30_000,
  ) {}

  async copy(chunk: string | Buffer): Promise<void> {
    const client = await this.source.acquire();
    // A checked-out client has no pool error listener: a lost connection must reject this COPY, not crash.
    const onError = (): void => undefined;
    client.on('error', onError);
    const stream = client.query(copyFrom(TELEMETRY_COPY_SQL));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CopyTimeoutError(this.timeoutMs)), this.timeoutMs);
    });
    const body = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const run = pipeline(Readable.from([body]), stream);
    try {
      await Promise.race([run, timeout]);
      client.removeListener('error', onError);
      client.release();
    } catch (err) {
      run.catch(() => undefined); // settled later when the connection is torn down
      // A failed or hung COPY leaves the connection in an unknown state: discard it.
      client.removeListener('error', onError);
      client.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
