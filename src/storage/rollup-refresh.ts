import type { PoolClient } from 'pg';
import type { Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { HazwatchMetrics } from '../metrics/metrics.registry';
import { isBinaryChunk, tupleTimes } from './copy-binary';
import type { TelemetrySink } from './telemetry.sink';
import { systemScheduler, type Scheduler, type TimerHandle } from '../common/timer.port';

const MINUTE_MS = 60_000;

/**
 * telemetry_1m's refresh policy (migrations/1764000000001_telemetry-1m.sql) rewrites the last 2 hours every minute.
 * Rows committed with an older time (spool replay, broker backlog, devices catching up) are never aggregated by it.
 */
export const POLICY_WINDOW_MS = 2 * 3_600_000;
/** Rows older than now − (window − margin) count as late: the margin covers the policy's next run. */
export const LATE_MARGIN_MS = 10 * MINUTE_MS;

/** Width of the time field the encoder writes: `YYYY-MM-DD HH:MM:SS.mmm+00`. */
const TIME_WIDTH = 26;

/**
 * The oldest and newest time of the COPY lines in `chunk` whose time is before `beforeMs`, or undefined when none is.
 * Each line starts with `YYYY-MM-DD HH:MM:SS.mmm+00` (TimestampFormatter, UTC, fixed width), so a line's time is
 * compared with the limit byte by byte in place (usually a dozen bytes decide): no Date, no substring per row on the
 * hot path. A line whose first field is not that wide is ignored.
 */
export function lateRange(
  chunk: string | Buffer,
  beforeMs: number,
): { min: number; max: number } | undefined {
  if (isBinaryChunk(chunk)) return lateRangeBinary(chunk as Buffer, beforeMs);
  const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
  const limit = Buffer.from(formatCopyTime(beforeMs), 'latin1');
  let min = -1;
  let max = -1;
  let start = 0;
  const n = buf.length;
  while (start + TIME_WIDTH <= n) {
    if (buf[start + TIME_WIDTH] === 0x09 && less(buf, start, limit, 0)) {
      if (min < 0 || less(buf, start, buf, min)) min = start;
      if (max < 0 || less(buf, max, buf, start)) max = start;
    }
    const nl = buf.indexOf(0x0a, start + TIME_WIDTH);
    if (nl < 0) break;
    start = nl + 1;
  }
  if (min < 0 || max < 0) return undefined;
  return { min: parseCopyTime(buf, min), max: parseCopyTime(buf, max) };
}

/** lateRange of binary tuples: their time is an integer (µs since 2000), read in place. */
function lateRangeBinary(buf: Buffer, beforeMs: number): { min: number; max: number } | undefined {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const t of tupleTimes(buf)) {
    if (t >= beforeMs) continue;
    if (t < min) min = t;
    if (t > max) max = t;
  }
  return min <= max ? { min, max } : undefined;
}

/** a[ai .. ai+26) < b[bi .. bi+26), as bytes. */
function less(a: Buffer, ai: number, b: Buffer, bi: number): boolean {
  for (let k = 0; k < TIME_WIDTH; k++) {
    const x = a[ai + k]!;
    const y = b[bi + k]!;
    if (x !== y) return x < y;
  }
  return false;
}

/** The COPY time text of epoch ms (the same fixed-width form the encoder writes). */
export function formatCopyTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}+00`;
}

function parseCopyTime(buf: Buffer, at: number): number {
  const t = buf.toString('latin1', at, at + TIME_WIDTH);
  return Date.parse(`${t.slice(0, 10)}T${t.slice(11, 23)}Z`);
}

export type RollupRefresherOptions = {
  /** Lends a connection without the ordinary query timeout (a refresh of days takes longer); Database implements it. */
  db: { acquire(): Promise<PoolClient>; readonly timescale: boolean };
  clock: Clock;
  scheduler?: Scheduler;
  /** Wait after the first late row before refreshing, so a replay of many batches costs one refresh (default 30 s). */
  debounceMs?: number;
  metrics?: HazwatchMetrics;
  log?: JsonLogger;
};

/**
 * Refreshes telemetry_1m over the range of late rows (TimescaleDB only; docs/adr/0017-timescale-path.md). `note()` widens
 * the pending range; one `refresh_continuous_aggregate` runs `debounceMs` after the first note. A failed refresh keeps its
 * range and is retried after the next wait. On the plain path telemetry_1m is a view: nothing to refresh.
 */
export class RollupRefresher {
  private pending: { min: number; max: number } | undefined;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private readonly scheduler: Scheduler;
  private readonly log: JsonLogger;

  constructor(private readonly opts: RollupRefresherOptions) {
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.log = opts.log ?? new JsonLogger('storage.rollup');
  }

  /** True when late rows matter (telemetry_1m is a continuous aggregate). */
  get active(): boolean {
    return this.opts.db.timescale;
  }

  /** Rows with a time before this are late. */
  lateBefore(): number {
    return this.opts.clock.now() - (POLICY_WINDOW_MS - LATE_MARGIN_MS);
  }

  /** The range (epoch ms, inclusive) of late rows just committed. */
  note(minMs: number, maxMs: number): void {
    if (!this.active) return;
    this.pending = this.pending
      ? { min: Math.min(this.pending.min, minMs), max: Math.max(this.pending.max, maxMs) }
      : { min: minMs, max: maxMs };
    this.arm();
  }

  /** What a refresh would cover now (tests, diagnostics). */
  pendingRange(): { min: number; max: number } | undefined {
    return this.pending;
  }

  private arm(): void {
    if (this.timer || this.running) return;
    this.timer = this.scheduler.after(this.opts.debounceMs ?? 30_000, () => {
      this.timer = undefined;
      void this.refreshNow();
    });
  }

  /** Refreshes the pending range now (also the debounced path). Never throws. */
  refreshNow(): Promise<void> {
    this.running ??= this.doRefresh().finally(() => {
      this.running = undefined;
      if (this.pending) this.arm();
    });
    return this.running;
  }

  private async doRefresh(): Promise<void> {
    const range = this.pending;
    if (!range) return;
    this.pending = undefined;
    // whole buckets: the refresh window must hold at least one, and a partial one would not be refreshed
    const from = Math.floor(range.min / MINUTE_MS) * MINUTE_MS;
    const to = Math.floor(range.max / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    let client: PoolClient | undefined;
    try {
      client = await this.opts.db.acquire();
      // CALL: outside a transaction block (a pooled connection in autocommit)
      await client.query(
        `CALL refresh_continuous_aggregate('telemetry_1m', $1::timestamptz, $2::timestamptz)`,
        [new Date(from), new Date(to)],
      );
      this.opts.metrics?.rollupRefreshes.inc({ result: 'ok' });
      this.log.info('telemetry_1m refreshed for late telemetry', {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
      });
    } catch (err) {
      this.opts.metrics?.rollupRefreshes.inc({ result: 'failed' });
      // notes that came in meanwhile widened a new pending range: merge the failed one back in
      const now = this.pending as { min: number; max: number } | undefined;
      this.pending = now ? { min: Math.min(now.min, range.min), max: Math.max(now.max, range.max) } : range;
      this.log.warn('telemetry_1m refresh for late telemetry failed; retrying', {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      client?.release();
    }
  }

  /** Stops the timer; a pending range is refreshed once more (shutdown). */
  async close(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.running) await this.running;
    if (this.pending && this.active) await this.doRefresh();
  }
}

/**
 * A sink that tells the refresher about late rows once their COPY committed. On the plain path (`active` false) it is a
 * pass-through: no line is looked at.
 */
export class LateDataSink implements TelemetrySink {
  constructor(
    private readonly inner: TelemetrySink,
    private readonly refresher: RollupRefresher,
  ) {}

  async copy(chunk: string | Buffer, rows: number): Promise<void> {
    await this.inner.copy(chunk, rows);
    if (!this.refresher.active) return;
    const late = lateRange(chunk, this.refresher.lateBefore());
    if (late) this.refresher.note(late.min, late.max);
  }

  /** After the writer's last COPY: the sink closes, then a pending refresh runs (before the pool closes). */
  async close(): Promise<void> {
    await this.inner.close?.();
    await this.refresher.close();
  }
}
