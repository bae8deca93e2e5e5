import type { OnApplicationShutdown } from '@nestjs/common';
import { Pool, type PoolClient, type QueryResult, type QueryResultRow } from 'pg';
import { JsonLogger, maskUrl } from '../common/logger';
import type { HazwatchMetrics } from '../metrics/metrics.registry';
import { runMigrations } from './migration.runner';
import { Backoff } from './timer.port';

/** What a transaction callback gets: parameterised queries on the transaction's connection. */
export type TxClient = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
};

/** Thrown by `acquire()` while start-up migrations have not run (the database was unreachable). */
export class DatabaseUnavailableError extends Error {
  constructor(reason: string) {
    super(`database unavailable: ${reason}`);
    this.name = 'DatabaseUnavailableError';
  }
}

export type DatabaseOptions = {
  url: string;
  metrics?: HazwatchMetrics;
  log?: JsonLogger;
  /** Run migrations/ at start (default true). */
  migrate?: boolean;
  migrationsDir?: string;
  poolMax?: number;
  /** Start-up retry backoff while the database does not answer. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Called on close after the pool ended (stops the embedded PostgreSQL). */
  onClose?: () => Promise<void>;
};

const IS_UP_TIMEOUT_MS = 2_000;

/**
 * True for "the database is not reachable (yet)": socket errors (ECONNREFUSED, ...), pg's connection
 * timeouts/terminations, SQLSTATE 08 (connection exception), 57P0x (shutting down / cannot connect now),
 * 53 (insufficient resources, e.g. too many connections).
 */
export function isConnectionError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  if (typeof code === 'string') return /^(08|57P|53)/.test(code) || /^E[A-Z]+$/.test(code);
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  const msg = err instanceof Error ? err.message : String(err);
  return /connect|connection|terminat|timeout|socket/i.test(msg);
}

/**
 * The one `pg` pool. Created by `Database.open()`: it connects, runs migrations and detects TimescaleDB.
 * When the database does not answer at start-up it logs clearly and keeps retrying in the background
 * (capped exponential backoff) instead of exiting; `isUp()` reports false meanwhile, `query()` waits until
 * the migrations have run, and `acquire()` (the writer's path) fails fast so telemetry is spooled.
 */
export class Database implements OnApplicationShutdown {
  /** The connection URL with the password masked (diagnostics only). */
  readonly connectionString: string;
  /** True when the timescaledb extension is installed (after migrations). */
  timescale = false;

  private readonly pool: Pool;
  private readonly log: JsonLogger;
  private readonly metrics: HazwatchMetrics | undefined;
  private readonly opts: DatabaseOptions;
  private readyFlag = false;
  private lastError = 'not yet connected';
  private resolveReady!: () => void;
  private readonly readyPromise: Promise<void>;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(opts: DatabaseOptions) {
    this.opts = opts;
    this.log = opts.log ?? new JsonLogger('storage.database');
    this.metrics = opts.metrics;
    this.connectionString = maskUrl(opts.url);
    this.readyPromise = new Promise((resolve) => (this.resolveReady = resolve));
    this.pool = new Pool({
      connectionString: opts.url,
      max: opts.poolMax ?? 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'hazwatch',
    });
    // An idle client losing its connection must never crash the process.
    this.pool.on('error', (err) => {
      this.log.warn('database connection error (idle client discarded)', { error: err.message });
    });
  }

  /** Connects and migrates; if the database does not answer, returns anyway and retries in the background. */
  static async open(opts: DatabaseOptions): Promise<Database> {
    const db = new Database(opts);
    const backoff = new Backoff(opts.retryInitialMs ?? 500, opts.retryMaxMs ?? 15_000);
    const attempt = async (first: boolean): Promise<void> => {
      if (db.closed) return;
      try {
        await db.initialise();
      } catch (err) {
        db.lastError = err instanceof Error ? err.message : String(err);
        if (!isConnectionError(err)) {
          // Reachable but wrong (bad migration, auth, missing database, missing migrations/): stop start-up loudly.
          if (first) {
            await db.pool.end().catch(() => undefined);
            throw new Error(`database start-up failed (${db.connectionString}): ${db.lastError}`);
          }
          db.log.error('database start-up step failed (not a connection problem); retrying', {
            url: db.connectionString,
            error: db.lastError,
          });
        }
        const delay = backoff.next();
        db.log.error('database not available at start-up; retrying (telemetry is spooled meanwhile)', {
          url: db.connectionString,
          error: db.lastError,
          retryInMs: delay,
        });
        db.retryTimer = setTimeout(() => void attempt(false), delay);
        db.retryTimer.unref();
      }
    };
    await attempt(true);
    return db;
  }

  private async initialise(): Promise<void> {
    await this.pool.query('SELECT 1');
    if (this.opts.migrate !== false) {
      const applied = await runMigrations({
        databaseUrl: this.opts.url,
        direction: 'up',
        dir: this.opts.migrationsDir,
        log: this.log.child('storage.migrate'),
      });
      if (applied.length > 0) this.log.info('database migrations applied', { applied });
    }
    const ext = await this.pool.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
    this.timescale = (ext.rowCount ?? 0) > 0;
    this.readyFlag = true;
    this.metrics?.dbUp.set(1);
    this.log.info('database ready', { url: this.connectionString, timescale: this.timescale });
    this.resolveReady();
  }

  /** The unmasked connection URL, for the COPY worker's own connections. Holds the password: never log it. */
  get url(): string {
    return this.opts.url;
  }

  /** True once connected and migrated. */
  get ready(): boolean {
    return this.readyFlag;
  }

  /** Resolves once connected and migrated (immediately in the normal case). */
  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  /** Parameterised query; waits for start-up migrations first. */
  async query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>> {
    if (!this.readyFlag) await this.readyPromise;
    return this.pool.query<R>(text, params as unknown[] | undefined);
  }

  /** The only way to run a transaction: BEGIN, fn, COMMIT — ROLLBACK (and rethrow) on any error. */
  async withTransaction<T>(fn: (tx: TxClient) => Promise<T>): Promise<T> {
    if (!this.readyFlag) await this.readyPromise;
    const client = await this.pool.connect();
    // A checked-out client has no pool error listener: a connection lost mid-transaction must not crash the process
    // (the pending query rejects and the caller sees the error).
    const onError = (err: Error): void =>
      this.log.warn('database connection lost during a transaction', { error: err.message });
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const tx: TxClient = {
        query: <R extends QueryResultRow>(text: string, params?: readonly unknown[]) =>
          client.query<R>(text, params as unknown[] | undefined),
      };
      const result = await fn(tx);
      await client.query('COMMIT');
      client.removeListener('error', onError);
      client.release();
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
        client.removeListener('error', onError);
        client.release();
      } catch (rollbackErr) {
        client.removeListener('error', onError);
        client.release(rollbackErr instanceof Error ? rollbackErr : true);
      }
      throw err;
    }
  }

  /** A pooled client for streaming work (COPY). Fails fast while the database is not ready. */
  async acquire(): Promise<PoolClient> {
    if (!this.readyFlag) throw new DatabaseUnavailableError(this.lastError);
    return this.pool.connect();
  }

  /** SELECT 1 with a short timeout; updates hazwatch_storage_database_up. */
  async isUp(): Promise<boolean> {
    let up = false;
    if (this.readyFlag) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.pool.query('SELECT 1'),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), IS_UP_TIMEOUT_MS);
          }),
        ]);
        up = true;
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
      } finally {
        clearTimeout(timer);
      }
    }
    this.metrics?.dbUp.set(up ? 1 : 0);
    return up;
  }

  /** Why the database is not up (for readiness), or undefined. */
  lastErrorMessage(): string | undefined {
    return this.readyFlag ? undefined : this.lastError;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    try {
      await this.pool.end();
    } catch (err) {
      this.log.warn('error while closing the database pool', { err });
    }
    if (this.opts.onClose) await this.opts.onClose();
  }
}
