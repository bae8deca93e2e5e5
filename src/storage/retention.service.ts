import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { Database } from './database.service';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Tables holding rows of any age: the plain table, or the legacy and default partitions of the partitioned one. */
type RowTable = 'telemetry' | 'telemetry_p_legacy' | 'telemetry_p_default';

/**
 * One bounded chunk of old rows of one table. The table is never the partitioned parent: ctids are only unique within
 * one table, and `DELETE FROM telemetry WHERE ctid = ANY(...)` on the parent would also hit the rows with the same
 * ctids in every other partition. So each table's statement is a constant (no identifier is ever built here).
 */
const deleteChunk = (table: string): string => `
  DELETE FROM ${table} WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM ${table} WHERE time < $1 LIMIT $2
  ))`;
const DELETE_CHUNK: Readonly<Record<RowTable, string>> = {
  telemetry: deleteChunk('telemetry'),
  telemetry_p_legacy: deleteChunk('telemetry_p_legacy'),
  telemetry_p_default: deleteChunk('telemetry_p_default'),
};

/**
 * Keys of re-timed readings (docs/adr/0027-retimed-readings-key.md), pruned by the time their reading was stored at, a
 * day after the cutoff: daily partitions (and TimescaleDB chunks) hold their rows up to a day past it, and a key must
 * not go before its row (a redelivery would then be stored again).
 */
const PRUNE_RETIMED = `
  DELETE FROM telemetry_retimed WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM telemetry_retimed WHERE time < $1 LIMIT $2
  ))`;

/** Which of those exist as plain tables (relkind r): `telemetry` itself before partitioning, else the partitions. */
const ROW_TABLES = `
  SELECT c.relname AS name FROM pg_class c
  WHERE c.oid IN (to_regclass('telemetry'), to_regclass('telemetry_p_legacy'), to_regclass('telemetry_p_default'))
    AND c.relkind = 'r'
  ORDER BY c.relname`;

export type RetentionOptions = {
  db: Pick<Database, 'query' | 'timescale' | 'whenReady'>;
  clock: Clock;
  retentionDays: number;
  chunkRows?: number;
  intervalMs?: number;
  log?: JsonLogger;
  /** Cluster: run only while this node holds the `job:retention` lease (docs/adr/0016-cluster.md); unset → always. */
  gate?: () => boolean;
};

/**
 * Telemetry retention on plain PostgreSQL, row by row: hourly, deletes rows older than TELEMETRY_RETENTION_DAYS in
 * bounded chunks (short transactions, no long locks) from the tables that hold rows of any age: the legacy and
 * default partitions of the partitioned `telemetry` (or `telemetry` itself where it is not partitioned). Daily
 * partitions are never touched here: TelemetryPartitions drops each one whole once its day is past the cutoff
 * (rows of a daily partition thus stay up to one day longer than the cutoff, as with TimescaleDB chunks).
 * Under TimescaleDB (`telemetry` is a hypertable) the retention policy does it, aligned by TimescalePolicies. An
 * extension created later in a plain-path database does not make `telemetry` a hypertable: this keeps running.
 */
export class RetentionService implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private readonly log: JsonLogger;

  constructor(private readonly opts: RetentionOptions) {
    this.log = opts.log ?? new JsonLogger('storage.retention');
  }

  onModuleInit(): void {
    void this.opts.db.whenReady().then(() => this.runOnce());
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs ?? HOUR_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Deletes expired rows; returns how many. No-op under TimescaleDB. */
  runOnce(): Promise<number> {
    this.running ??= this.deleteExpired().finally(() => (this.running = undefined));
    return this.running;
  }

  private async deleteExpired(): Promise<number> {
    if (this.opts.gate && !this.opts.gate()) return 0; // cluster: another node runs retention
    const cutoff = new Date(this.opts.clock.now() - this.opts.retentionDays * DAY_MS);
    const chunk = this.opts.chunkRows ?? 10_000;
    const total = this.opts.db.timescale ? 0 : await this.deleteRows(cutoff, chunk);
    await this.pruneRetimed(new Date(cutoff.getTime() - DAY_MS), chunk);
    return total;
  }

  /** Under TimescaleDB too: its retention policy covers telemetry, not this table. */
  private async pruneRetimed(before: Date, chunk: number): Promise<void> {
    let total = 0;
    try {
      for (;;) {
        const n = (await this.opts.db.query(PRUNE_RETIMED, [before, chunk])).rowCount ?? 0;
        total += n;
        if (n < chunk) break;
      }
      if (total > 0)
        this.log.info('telemetry retention pruned re-timed reading keys', {
          rows: total,
          before: before.toISOString(),
        });
    } catch (err) {
      this.log.warn('pruning telemetry_retimed failed; will retry next hour', {
        deleted: total,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private async deleteRows(cutoff: Date, chunk: number): Promise<number> {
    let total = 0;
    let table: RowTable | undefined;
    try {
      const tables = await this.opts.db.query<{ name: RowTable }>(ROW_TABLES);
      for (const { name } of tables.rows) {
        table = name;
        const sql = DELETE_CHUNK[name];
        for (;;) {
          const r = await this.opts.db.query(sql, [cutoff, chunk]);
          const n = r.rowCount ?? 0;
          total += n;
          if (n < chunk) break;
        }
      }
      if (total > 0)
        this.log.info('telemetry retention deleted old rows', { rows: total, before: cutoff.toISOString() });
    } catch (err) {
      this.log.warn('telemetry retention run failed; will retry next hour', {
        deleted: total,
        table: table ?? null,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    return total;
  }
}
