import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { Database } from './database.service';
import {
  DEFAULT_PARTITION,
  TELEMETRY_PARENT,
  createPartitionSql,
  createSeriesIndexSql,
  dropPartitionSql,
  dropSeriesIndexSql,
  planPartitions,
  seriesIndexName,
  type DailyPartition,
  type ExistingPartition,
} from './telemetry-partitions';
import { LIST_TELEMETRY_CHUNKS, planChunkIndexes, type TelemetryChunkRow } from './timescale-chunk-indexes';

const TEN_MINUTES_MS = 600_000;

/** relkind of `telemetry`: 'p' once the partitions migration ran on plain PostgreSQL. */
const PARENT_KIND = `SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass('${TELEMETRY_PARENT}')`;

/**
 * Every partition of `telemetry` with its range (bounds read back through timestamptz in this session, so the
 * text form pg_get_expr prints never has to be parsed here) and the state of its `<name>_series_idx`.
 */
const LIST_PARTITIONS = `
  SELECT c.relname AS name,
         pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz AS range_from,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz AS range_to,
         (SELECT bool_and(i.indisvalid) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
           WHERE i.indrelid = c.oid AND ic.relname = c.relname || '_series_idx') AS series_valid
  FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
  WHERE h.inhparent = to_regclass('${TELEMETRY_PARENT}')`;

/** DDL waits at most this long for its lock, so a busy table never stalls COPYs behind a queued DDL for long. */
const SET_LOCK_TIMEOUT = `SELECT set_config('lock_timeout', $1, true)`;

type PartitionRow = {
  name: string;
  is_default: boolean;
  range_from: Date | null;
  range_to: Date | null;
  series_valid: boolean | null;
};

export type PartitionStep = 'list' | 'plan' | 'create' | 'index' | 'drop';

export type PartitionRoundResult = {
  /** Why nothing was done: `telemetry` is not partitioned, or another cluster node owns the job. */
  skipped?: 'not-partitioned' | 'other-node';
  created: string[];
  /** Rows moved out of DEFAULT into a partition created this round. */
  movedFromDefault: number;
  indexed: string[];
  dropped: string[];
  failed: Array<{ partition: string; step: PartitionStep; error: string }>;
};

export type TelemetryPartitionsOptions = {
  db: Pick<Database, 'query' | 'withTransaction' | 'timescale' | 'whenReady'> &
    Partial<Pick<Database, 'acquire'>>;
  clock: Clock;
  /** TELEMETRY_RETENTION_DAYS: daily partitions whose whole day is older are dropped. */
  retentionDays: number;
  /** Days ahead of today to create (default 2: today, tomorrow, the day after). */
  aheadDays?: number;
  intervalMs?: number;
  lockTimeoutMs?: number;
  log?: JsonLogger;
  /** Cluster: run only while this node holds the `job:partitions` lease (docs/adr/0016-cluster.md); unset → always. */
  gate?: () => boolean;
};

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * Owns the layout of the partitioned `telemetry` table on plain PostgreSQL (one owner per job):
 * - creates the daily partitions `telemetry_pYYYYMMDD` of today and the next `aheadDays` UTC days (BRIN only: cheap
 *   COPY into the day being written), moving in any rows of that day that waited in DEFAULT;
 * - builds the series btree of each closed day with CREATE INDEX CONCURRENTLY, one at a time (rebuilding one left
 *   invalid by an interrupted build), so per-series history of closed days reads through the btree;
 * - drops daily partitions whose whole day is older than TELEMETRY_RETENTION_DAYS (row-level deletes in the legacy
 *   and default partitions stay RetentionService's job).
 * Runs after the database is ready and every 10 minutes (unref'd). Every failure is logged with the partition and
 * SQL error and retried next round; a round never throws. A missing partition loses nothing: rows go to DEFAULT.
 * Under TimescaleDB, chunks and the compression and retention policies cover creating and dropping; it only builds the
 * series btree of closed, uncompressed chunks (docs/adr/0022-timescale-chunk-series-index.md), the same way.
 */
export class TelemetryPartitions implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PartitionRoundResult> | undefined;
  private stopped = false;
  private readonly log: JsonLogger;
  /** Day (epoch ms) for which "today has no partition" was already logged: once per day, not every round. */
  private missingTodayLogged: number | undefined;
  private notPartitionedLogged = false;

  constructor(private readonly opts: TelemetryPartitionsOptions) {
    this.log = opts.log ?? new JsonLogger('storage.partitions');
  }

  onModuleInit(): void {
    void this.opts.db.whenReady().then(() => this.runOnce());
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs ?? TEN_MINUTES_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** One maintenance round (concurrent calls share the running one). Never rejects. */
  runOnce(): Promise<PartitionRoundResult> {
    this.running ??= this.guardedRound().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The timer's promise never rejects: anything unexpected (a bad clock value, a bug) is logged and reported. */
  private async guardedRound(): Promise<PartitionRoundResult> {
    const result: PartitionRoundResult = {
      created: [],
      movedFromDefault: 0,
      indexed: [],
      dropped: [],
      failed: [],
    };
    try {
      return await this.round(result);
    } catch (err) {
      this.fail(result, TELEMETRY_PARENT, 'plan', err);
      return result;
    }
  }

  private async round(result: PartitionRoundResult): Promise<PartitionRoundResult> {
    if (this.stopped) return result;
    if (this.opts.gate && !this.opts.gate()) return { ...result, skipped: 'other-node' }; // cluster: not this node's job
    if (this.opts.db.timescale) return this.indexClosedChunks(result);

    let existing: ExistingPartition[];
    try {
      const kind = await this.opts.db.query<{ kind: string }>(PARENT_KIND);
      if (kind.rows[0]?.kind !== 'p') {
        if (!this.notPartitionedLogged)
          this.log.warn('telemetry is not a partitioned table; partition maintenance does nothing', {
            relkind: kind.rows[0]?.kind ?? null,
          });
        this.notPartitionedLogged = true;
        return { ...result, skipped: 'not-partitioned' };
      }
      existing = await this.listPartitions();
    } catch (err) {
      this.fail(result, TELEMETRY_PARENT, 'list', err);
      return result;
    }

    const plan = planPartitions(
      this.opts.clock.now(),
      this.opts.retentionDays,
      existing,
      this.opts.aheadDays ?? 2,
    );
    const hasDefault = existing.some((e) => e.isDefault && e.name === DEFAULT_PARTITION);

    let todayCovered = plan.todayCovered;
    for (const p of plan.create) {
      if (this.stopped) return result;
      if (await this.createPartition(p, hasDefault, result)) {
        if (p.from === plan.today) todayCovered = true;
      }
    }
    if (!todayCovered && this.missingTodayLogged !== plan.today) {
      this.missingTodayLogged = plan.today;
      this.log.error(
        "no partition for today's telemetry: rows go to the default partition (stored, not lost)",
        {
          day: new Date(plan.today).toISOString().slice(0, 10),
          partition: DEFAULT_PARTITION,
        },
      );
    }

    for (const p of plan.drop) {
      if (this.stopped) return result;
      await this.step(result, p.name, 'drop', async () => {
        await this.opts.db.withTransaction(async (tx) => {
          await tx.query(SET_LOCK_TIMEOUT, [`${this.lockTimeoutMs()}ms`]);
          await tx.query(dropPartitionSql(p));
        });
        result.dropped.push(p.name);
        this.log.info('dropped expired telemetry partition', {
          partition: p.name,
          cutoff: new Date(plan.cutoff).toISOString(),
        });
      });
    }

    for (const p of plan.index) {
      if (this.stopped) return result;
      await this.buildSeriesIndex(result, {
        partition: p.name,
        index: seriesIndexName(p),
        create: createSeriesIndexSql(p),
        ...(p.dropInvalidFirst ? { dropInvalid: dropSeriesIndexSql(p) } : {}),
      });
    }
    return result;
  }

  /** TimescaleDB: the series btree of every closed, uncompressed chunk that lacks a valid one, newest first. */
  private async indexClosedChunks(result: PartitionRoundResult): Promise<PartitionRoundResult> {
    let rows: TelemetryChunkRow[];
    try {
      rows = (await this.opts.db.query<TelemetryChunkRow>(LIST_TELEMETRY_CHUNKS)).rows;
    } catch (err) {
      this.fail(result, TELEMETRY_PARENT, 'list', err);
      return result;
    }
    for (const t of planChunkIndexes(rows, this.opts.clock.now())) {
      if (this.stopped) return result;
      await this.buildSeriesIndex(result, {
        partition: t.chunk,
        index: t.index,
        create: t.create,
        dropInvalid: t.dropInvalid,
      });
    }
    return result;
  }

  /** CREATE INDEX CONCURRENTLY of one closed partition or chunk (an invalid leftover dropped first). */
  private async buildSeriesIndex(
    result: PartitionRoundResult,
    t: { partition: string; index: string; create: string; dropInvalid?: string | undefined },
  ): Promise<void> {
    await this.step(result, t.partition, 'index', async () => {
      if (t.dropInvalid) {
        this.log.warn('rebuilding an invalid series index (an earlier build was interrupted)', {
          partition: t.partition,
          index: t.index,
        });
        await this.longDdl(t.dropInvalid);
      }
      const started = Date.now();
      await this.longDdl(t.create);
      result.indexed.push(t.partition);
      this.log.info('built the series index of a closed telemetry partition', {
        partition: t.partition,
        index: t.index,
        ms: Date.now() - started,
      });
    });
  }

  /** Creates, fills from DEFAULT and attaches one daily partition in one transaction; true when it exists after. */
  private async createPartition(
    p: DailyPartition,
    hasDefault: boolean,
    result: PartitionRoundResult,
  ): Promise<boolean> {
    return this.step(result, p.name, 'create', async () => {
      const sql = createPartitionSql(p);
      const moved = await this.opts.db.withTransaction(async (tx) => {
        await tx.query(SET_LOCK_TIMEOUT, [`${this.lockTimeoutMs()}ms`]);
        await tx.query(sql.create);
        const m = hasDefault
          ? await tx.query(sql.moveFromDefault, [new Date(p.from), new Date(p.to)])
          : undefined;
        await tx.query(sql.attach);
        return m?.rowCount ?? 0;
      });
      result.created.push(p.name);
      result.movedFromDefault += moved;
      if (moved > 0)
        this.log.warn('created a telemetry partition and moved its rows out of the default partition', {
          partition: p.name,
          rows: moved,
        });
      else this.log.info('created telemetry partition', { partition: p.name });
    });
  }

  /** Runs one step; a failure is logged with the partition and SQL error, recorded, and retried next round. */
  private async step(
    result: PartitionRoundResult,
    partition: string,
    step: PartitionStep,
    fn: () => Promise<void>,
  ): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      this.fail(result, partition, step, err);
      return false;
    }
  }

  private fail(result: PartitionRoundResult, partition: string, step: PartitionStep, err: unknown): void {
    const error = errorText(err);
    result.failed.push({ partition, step, error });
    this.log.error('telemetry partition maintenance step failed; retrying next round', {
      partition,
      step,
      error,
    });
  }

  /**
   * An index build takes minutes on a day of telemetry: on a pooled connection of its own, without the ordinary
   * DB_QUERY_TIMEOUT_MS (a client-side timeout would drop the connection, abort the build and leave an invalid index
   * to rebuild next round, for ever).
   */
  private async longDdl(sql: string): Promise<void> {
    if (!this.opts.db.acquire) {
      await this.opts.db.query(sql);
      return;
    }
    const client = await this.opts.db.acquire();
    try {
      await client.query(sql);
      client.release();
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  }

  private lockTimeoutMs(): number {
    return this.opts.lockTimeoutMs ?? 5_000;
  }

  private async listPartitions(): Promise<ExistingPartition[]> {
    const r = await this.opts.db.query<PartitionRow>(LIST_PARTITIONS);
    return r.rows.map((row) => ({
      name: row.name,
      isDefault: row.is_default,
      from: row.range_from ? row.range_from.getTime() : null,
      to: row.range_to ? row.range_to.getTime() : null,
      seriesIndex: row.series_valid === null ? 'none' : row.series_valid ? 'valid' : 'invalid',
    }));
  }
}
