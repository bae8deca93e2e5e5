import type { OnApplicationShutdown } from '@nestjs/common';
import { Client, Pool, type PoolClient, type QueryConfig, type QueryResult, type QueryResultRow } from 'pg';
import { JsonLogger, maskUrl } from '../common/logger';
import type { HazwatchMetrics } from '../metrics/metrics.registry';
import { migrate } from './migration.runner';
import {
  TimescaleRequiredError,
  TimescaleStateError,
  readTimescaleFacts,
  type TimescaleDecision,
  type TimescaleMode,
} from './timescale-detect';
import { Backoff } from '../common/timer.port';

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
  /** Longest an ordinary query or transaction statement waits for an answer (DB_QUERY_TIMEOUT_MS). Not COPY (`acquire()`). */
  queryTimeoutMs?: number;
  /** Longest opening a connection, or waiting for a free pooled one, may take (DB_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /** Liveness probe period and timeout (DB_PROBE_INTERVAL_MS, DB_PROBE_TIMEOUT_MS); interval 0 disables the probe. */
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** TIMESCALE: auto | require | off (docs/adr/0017-timescale-path.md). */
  timescaleMode?: TimescaleMode;
};

export const DEFAULT_QUERY_TIMEOUT_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
export const DEFAULT_PROBE_INTERVAL_MS = 2_000;
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;

/** What the liveness probe last saw. `reason` says why the database is not usable. */
export type DatabaseLiveness = { readonly up: boolean; readonly reason?: string; readonly sinceMs: number };

/** pg's own client-side read timeout (node-postgres `query_timeout`), per query so COPY is not bound by it. */
type TimedQuery = QueryConfig & { query_timeout: number };

/** True for a query that got no answer in time (the connection it ran on is not reusable). */
export function isQueryTimeout(err: unknown): boolean {
  return (
    err instanceof Error &&
    /Query read timeout|timeout expired|timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(
      err.message,
    )
  );
}

/**
 * True for "the database is not reachable (yet)": socket errors (ECONNREFUSED, ...), pg's connection
 * timeouts/terminations, SQLSTATE 08 (connection exception), 57P0x (shutting down / cannot connect now),
 * 53 (insufficient resources, e.g. too many connections).
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof TimescaleRequiredError || err instanceof TimescaleStateError) return false;
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
  /**
   * True when `telemetry` is a TimescaleDB hypertable (after migrations). Not "the extension exists": an extension
   * created later in a plain-path database leaves partitions and row retention in charge.
   */
  timescale = false;
  /** The start-up decision and its reason (for /health and the log). */
  timescaleDecision: TimescaleDecision | undefined;

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
  private readonly queryTimeoutMs: number;
  private probeTimer: NodeJS.Timeout | undefined;
  private probeClient: Client | undefined;
  private probeBusy = false;
  private live: DatabaseLiveness = { up: false, reason: 'not yet connected', sinceMs: Date.now() };

  private constructor(opts: DatabaseOptions) {
    this.opts = opts;
    this.log = opts.log ?? new JsonLogger('storage.database');
    this.metrics = opts.metrics;
    this.connectionString = maskUrl(opts.url);
    this.readyPromise = new Promise((resolve) => (this.resolveReady = resolve));
    this.queryTimeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.pool = new Pool({
      connectionString: opts.url,
      max: opts.poolMax ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      // TCP keepalive: a silently dead peer is found by the kernel even on an idle connection
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
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
    db.startProbe();
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
      const result = await migrate({
        databaseUrl: this.opts.url,
        direction: 'up',
        dir: this.opts.migrationsDir,
        log: this.log.child('storage.migrate'),
        timescale: this.opts.timescaleMode ?? 'auto',
      });
      this.timescaleDecision = result.timescale;
      if (result.applied.length > 0)
        this.log.info('database migrations applied', { applied: result.applied });
    }
    const facts = await readTimescaleFacts(this.pool);
    this.timescale = facts.hypertable;
    this.readyFlag = true;
    this.setLive(true);
    this.log.info('database ready', {
      url: this.connectionString,
      timescale: this.timescale,
      ...(this.timescaleDecision ? { timescaleReason: this.timescaleDecision.reason } : {}),
    });
    this.resolveReady();
  }

  /** The unmasked connection URL, for the COPY worker's own connections. Holds the password: never log it. */
  get url(): string {
    return this.opts.url;
  }

  /**
   * True once connected and migrated, and while the liveness probe gets answers: the telemetry writer's COPY fails fast
   * (and spools) instead of waiting on a hung database.
   */
  get ready(): boolean {
    return this.readyFlag && this.live.up;
  }

  /** What the liveness probe last saw (for /health/ready and the console banner). */
  liveness(): DatabaseLiveness {
    if (!this.readyFlag)
      return {
        up: false,
        reason: `not connected or not migrated: ${this.lastError}`,
        sinceMs: this.live.sinceMs,
      };
    return this.live;
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
    const q: TimedQuery = {
      text,
      values: params as unknown[] | undefined,
      query_timeout: this.queryTimeoutMs,
    };
    // on a timeout the pool discards the connection (the statement may still be running on it)
    return this.pool.query<R>(q);
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
        query: <R extends QueryResultRow>(text: string, params?: readonly unknown[]) => {
          const q: TimedQuery = {
            text,
            values: params as unknown[] | undefined,
            query_timeout: this.queryTimeoutMs,
          };
          return client.query<R>(q);
        },
      };
      const result = await fn(tx);
      await client.query('COMMIT');
      client.removeListener('error', onError);
      client.release();
      return result;
    } catch (err) {
      if (isQueryTimeout(err)) {
        // the connection still waits for the unanswered statement: discard it (the server rolls back on disconnect)
        client.removeListener('error', onError);
        client.release(err instanceof Error ? err : true);
        throw err;
      }
      try {
        const rollback: TimedQuery = { text: 'ROLLBACK', query_timeout: this.queryTimeoutMs };
        await client.query(rollback);
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

  /** The liveness probe's verdict (no query of its own): connected, migrated and answering. */
  isUp(): Promise<boolean> {
    return Promise.resolve(this.ready);
  }

  private startProbe(): void {
    const every = this.opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
    if (every <= 0) return;
    this.probeTimer = setInterval(() => void this.probe(), every);
    this.probeTimer.unref();
  }

  /**
   * Liveness probe: `SELECT 1` on a connection of its own (a pool full of hung queries cannot starve it), with a
   * connect and read timeout. No answer in time marks the database hung within interval + timeout.
   */
  async probe(): Promise<boolean> {
    if (this.probeBusy || this.closed) return this.live.up;
    if (!this.readyFlag) return false;
    this.probeBusy = true;
    const timeoutMs = this.opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    let client = this.probeClient;
    try {
      if (!client) {
        client = new Client({
          connectionString: this.opts.url,
          connectionTimeoutMillis: timeoutMs,
          keepAlive: true,
          application_name: 'hazwatch-probe',
        });
        // a connection dropped while idle must never crash the process; the next probe reconnects
        client.on('error', () => this.dropProbeClient());
        this.probeClient = client;
        await client.connect();
      }
      const q: TimedQuery = { text: 'SELECT 1', query_timeout: timeoutMs };
      await client.query(q);
      this.setLive(true);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const reason = isQueryTimeout(err)
        ? `database not answering: no reply to SELECT 1 within ${timeoutMs} ms (hung or network path stalled)`
        : `database not answering: ${msg}`;
      this.lastError = reason;
      this.metrics?.dbProbeFailures.inc();
      this.setLive(false, reason);
      this.dropProbeClient();
    } finally {
      this.probeBusy = false;
    }
    return this.live.up;
  }

  private dropProbeClient(): void {
    const c = this.probeClient;
    this.probeClient = undefined;
    if (!c) return;
    // end() waits for the peer, which may never answer: destroy the socket
    try {
      c.connection.stream.destroy();
    } catch {
      // not connected yet
    }
    c.end().catch(() => undefined);
  }

  private setLive(up: boolean, reason?: string): void {
    this.metrics?.dbUp.set(up ? 1 : 0);
    const prev = this.live;
    if (prev.up === up && prev.reason === reason) return;
    this.live = {
      up,
      ...(reason !== undefined ? { reason } : {}),
      sinceMs: prev.up === up ? prev.sinceMs : Date.now(),
    };
    if (prev.up && !up)
      this.log.error(
        'database liveness probe failed: reporting not ready; telemetry is spooled, alarm events held',
        { reason },
      );
    else if (!prev.up && up && prev.reason?.startsWith('database not answering'))
      this.log.warn('database answers again', { downForMs: Date.now() - prev.sinceMs });
  }

  /** Why the database is not up (for readiness), or undefined. */
  lastErrorMessage(): string | undefined {
    return this.ready ? undefined : this.lastError;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.probeTimer);
    this.dropProbeClient();
    // pool.end() waits for every connection's goodbye, which a hung database never sends: bounded
    let timer: NodeJS.Timeout | undefined;
    try {
      const ended = await Promise.race([
        this.pool.end().then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
          timer.unref();
        }),
      ]);
      if (!ended)
        this.log.warn(
          'database pool did not close in time (database not answering); going on with the shutdown',
          {},
        );
    } catch (err) {
      this.log.warn('error while closing the database pool', { err });
    } finally {
      clearTimeout(timer);
    }
    if (this.opts.onClose) await this.opts.onClose();
  }
}
