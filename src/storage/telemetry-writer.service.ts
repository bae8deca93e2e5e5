import type { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { BehaviorSubject } from 'rxjs';
import type { Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { Reading } from '../common/types';
import type { HazwatchMetrics } from '../metrics/metrics.registry';
import { BinaryRowEncoder, CopyBinaryBuffer } from './copy-binary';
import { chunkBytes, chunkRows, chunkText, halves, joinChunks, sameForm, type Chunk } from './copy-chunk';
import { isDataError, sqlState, type TelemetrySink } from './telemetry.sink';
import type { SpoolSegment, TelemetrySpool } from './telemetry.spool';
import { Backoff, systemScheduler, type Scheduler, type TimerHandle } from '../common/timer.port';

/** A row the database refused as data (SQLSTATE 22/23), isolated from its batch; goes to the dead letters. */
export type RejectedRow = {
  readonly siteId?: string;
  readonly deviceId?: string;
  readonly detail: string;
  /** The row as a COPY text line (or a JSON rendering of the reading when it could not be encoded). */
  readonly payload: string;
};

export type TelemetryWriterOptions = {
  sink: TelemetrySink;
  spool: TelemetrySpool;
  clock: Clock;
  metrics: HazwatchMetrics;
  /** Rows per COPY (WRITER_BATCH_SIZE). */
  batchSize: number;
  /** Longest a reading waits before its batch is sealed (WRITER_FLUSH_MS). */
  flushMs: number;
  /** Readings held in memory before batches go to the spool (WRITER_QUEUE_MAX). */
  queueMax: number;
  scheduler?: Scheduler;
  log?: JsonLogger;
  retryInitialMs?: number;
  retryMaxMs?: number;
  onReject?: (row: RejectedRow) => void;
};

/**
 * A sealed batch: its rows (binary tuples; COPY text when it came from an old spool segment) plus what the metrics need. `lag` is run-length encoded [receivedAt, count, ...]. `seqs` are
 * the sequence numbers of the sealed batches it holds (several once merged): durability is reported per sequence.
 */
type Batch = { text: Chunk; rows: number; oldest: number; lag: number[]; seqs: number[] };

/** A backlog is written in COPYs of up to this many batches (see takePending). */
export const MERGE_FACTOR = 5;

/** Thrown when a transient failure interrupts isolation of bad rows: `remaining` still needs writing. */
class PartialWriteError extends Error {
  constructor(
    readonly remaining: Chunk,
    override readonly cause: unknown,
  ) {
    super(`write interrupted: ${errorMessage(cause)}`);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The telemetry hot path: readings → COPY text batches → PostgreSQL, never blocking the caller and never
 * dropping a reading.
 *
 * - `enqueue` appends COPY lines to the open batch; it is sealed at `batchSize` rows or after `flushMs`.
 * - Live lane: one COPY at a time from the in-memory queue. Replay lane: one COPY at a time from the spool.
 *   So at most two connections are busy.
 * - When memory holds `queueMax` readings, or the database fails, sealed batches go to the disk spool,
 *   replayed oldest-first once the database answers (a segment is deleted only after its COPY committed).
 * - When memory and spool are both full, `pressure$` turns true so ingest stops acknowledging messages.
 * - Rows the database refuses as data are isolated by bisection and handed to `onReject`, so one bad row
 *   can never block the queue.
 */
export class TelemetryWriter implements OnModuleInit, BeforeApplicationShutdown {
  readonly pressure$ = new BehaviorSubject<boolean>(false);

  private readonly sink: TelemetrySink;
  private readonly spool: TelemetrySpool;
  private readonly clock: Clock;
  private readonly metrics: HazwatchMetrics;
  private readonly scheduler: Scheduler;
  private readonly log: JsonLogger;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly queueMax: number;
  private readonly backoff: Backoff;
  private readonly onReject: (row: RejectedRow) => void;
  private readonly encoder = new BinaryRowEncoder();

  // open batch
  private readonly openText: CopyBinaryBuffer;
  private openRows = 0;
  private openOldest = Number.POSITIVE_INFINITY;
  private openLag: number[] = [];
  private flushTimer: TimerHandle | undefined;

  // durability (docs/adr/0008-ack-after-commit.md): the open batch has sequence `openSeq`; every batch ≤ `durableThrough`
  // is committed or fsynced to the spool; `durableAhead` holds durable sequences above it (out of order via the spool).
  private openSeq = 1;
  private durableThrough = 0;
  private readonly durableAhead = new Set<number>();
  private durableListener: ((through: number) => void) | undefined;
  /** Pressure turns off only once memory is back down to this (hysteresis; pressure turns on at queueMax). */
  private readonly lowWater: number;

  // memory queue and lanes
  private readonly pending: Batch[] = [];
  private pendingRows = 0;
  private live: Batch | undefined;
  /** Seal the open batch when the live COPY ends (sealWhenIdle while it was in flight). */
  private sealAfterLive = false;
  private replaying: Promise<void> | undefined;
  private replayTimer: TimerHandle | undefined;

  private dbUp = true;
  private spoolRefused = false;
  private spoolFailing = false;
  private closing = false;
  private stopped = false;
  private closePromise: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: TelemetryWriterOptions) {
    this.sink = opts.sink;
    this.spool = opts.spool;
    this.clock = opts.clock;
    this.metrics = opts.metrics;
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.log = opts.log ?? new JsonLogger('storage.writer');
    this.batchSize = opts.batchSize;
    this.flushMs = opts.flushMs;
    this.queueMax = opts.queueMax;
    this.lowWater = Math.floor(opts.queueMax / 2);
    this.backoff = new Backoff(opts.retryInitialMs ?? 250, opts.retryMaxMs ?? 10_000);
    this.onReject = opts.onReject ?? (() => undefined);
    // ~100 bytes per row: one batch fits without growing.
    this.openText = new CopyBinaryBuffer(Math.min(this.batchSize, 100_000) * 100);
    this.metrics.sources.lagSeconds = () => this.lagMs(this.clock.now()) / 1000;
  }

  onModuleInit(): void {
    this.start();
  }

  /** Before the pool closes (Database closes in onApplicationShutdown). */
  beforeApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /** Replays what a previous run left in the spool. Call once after construction. */
  start(): void {
    if (!this.spool.isEmpty()) {
      this.log.info('replaying telemetry spooled by a previous run', {
        bytes: this.spool.bytes(),
        segments: this.spool.segmentCount(),
        dir: this.spool.dir,
      });
      this.scheduleReplay(0);
    }
    this.updateGauges();
  }

  /** Never blocks, never drops: appends to the open batch (sealed at batchSize rows or after flushMs). */
  enqueue(readings: readonly Reading[]): void {
    const enc = this.encoder;
    // per-site freshness for /metrics (hazwatch_site_last_reading_timestamp_seconds): one Map write per site run
    let lastSite: string | undefined;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const error = enc.encode(r, this.openText);
      if (error !== undefined) {
        this.reject({
          siteId: r.siteId,
          deviceId: r.deviceId,
          detail: `not storable: ${error}`,
          payload: JSON.stringify(r),
        });
        continue;
      }
      if (r.siteId !== lastSite) {
        lastSite = r.siteId;
        this.metrics.siteLastReadingMs.set(r.siteId, r.receivedAt);
      }
      if (this.openRows === 0) {
        this.openOldest = r.receivedAt;
        if (!this.stopped) this.flushTimer = this.scheduler.after(this.flushMs, () => this.onFlushTimer());
      } else if (r.receivedAt < this.openOldest) {
        this.openOldest = r.receivedAt;
      }
      this.openRows++;
      const lag = this.openLag;
      const n = lag.length;
      if (n > 0 && lag[n - 2] === r.receivedAt) lag[n - 1]!++;
      else lag.push(r.receivedAt, 1);
      if (this.openRows >= this.batchSize) this.seal();
    }
    if (this.stopped) this.seal();
    // The queue-depth gauge follows seals and commits (updateGauges), not every message.
  }

  /**
   * The durability mark of everything enqueued so far: once `durableThrough >= ackMark()` (reported to `onDurable`), every
   * reading enqueued before this call is committed or fsynced to the spool.
   */
  ackMark(): number {
    return this.openRows > 0 ? this.openSeq : this.openSeq - 1;
  }

  /** Sequence number of the open batch (the one the next reading joins): ingest's per-batch correlation id. */
  openBatchSeq(): number {
    return this.openSeq;
  }

  /** Every batch with sequence ≤ the returned number is durable. */
  durableMark(): number {
    return this.durableThrough;
  }

  /** One listener (ingest's ack ledger), told the new contiguous durable mark whenever it advances. */
  onDurable(listener: (through: number) => void): void {
    this.durableListener = listener;
  }

  /** Seals the open batch now (it holds as many unacknowledged messages as ingest allows). */
  sealOpen(): void {
    this.seal();
  }

  /**
   * Intake went quiet with messages waiting for their acknowledgement: seal the open batch as soon as it can be
   * written. With the live lane idle that is now; with a COPY in flight, when that COPY ends (or at the flush timer,
   * whichever comes first), so readings arriving meanwhile join the same batch. Sealing at once there would only queue
   * a small batch behind the COPY: at 20k msg/s that made ~70 COPYs of ~600 rows a second, each one a commit
   * (docs/adr/0008-ack-after-commit.md, "group commit").
   */
  sealWhenIdle(): void {
    if (this.live && this.dbUp) this.sealAfterLive = true;
    else this.seal();
  }

  /** Readings held in memory (open batch, queue, in flight). */
  queueDepth(): number {
    return this.openRows + this.pendingRows + (this.live?.rows ?? 0);
  }

  spoolBytes(): number {
    return this.spool.bytes();
  }

  /** Age (ms) of the oldest reading not yet committed, memory or spool; 0 when everything is committed. */
  lagMs(now: number): number {
    let oldest = this.openRows > 0 ? this.openOldest : Number.POSITIVE_INFINITY;
    if (this.live && this.live.oldest < oldest) oldest = this.live.oldest;
    for (const b of this.pending) if (b.oldest < oldest) oldest = b.oldest;
    const s = this.spool.oldestReceivedAt();
    if (s !== undefined && s < oldest) oldest = s;
    return oldest === Number.POSITIVE_INFINITY ? 0 : Math.max(0, now - oldest);
  }

  /** True while the last write attempt failed for a non-data reason. */
  isDatabaseFailing(): boolean {
    return !this.dbUp;
  }

  /** Seals the open batch and resolves once nothing is held in memory (committed, or spooled when the DB is down). */
  async flush(): Promise<void> {
    this.seal();
    await this.whenIdle(() => !this.live && this.pending.length === 0);
  }

  /**
   * Graceful shutdown: everything held in memory is committed, or spooled when the database is down.
   * Nothing acknowledged is lost across a graceful restart. Later `enqueue` calls go straight to the spool.
   */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.closing = true;
    this.flushTimer?.cancel();
    this.replayTimer?.cancel();
    this.replayTimer = undefined;
    this.seal();
    await this.whenIdle(() => !this.live && (this.pending.length === 0 || !this.dbUp));
    await this.replaying;
    this.stopped = true;
    let spooled = 0;
    while (this.pending.length > 0) {
      const b = this.pending.shift()!;
      this.pendingRows -= b.rows;
      if (this.spoolForced(b)) spooled += b.rows;
    }
    try {
      this.spool.close();
    } catch (err) {
      this.log.error('could not fsync the telemetry spool at shutdown', { err });
    }
    this.updateGauges();
    try {
      await this.sink.close?.();
    } catch (err) {
      this.log.warn('could not close the telemetry sink', { err });
    }
    this.log.info('telemetry writer closed', { spooledRows: spooled, spoolBytes: this.spool.bytes() });
  }

  // ---- batching ------------------------------------------------------------------------------

  private onFlushTimer(): void {
    this.flushTimer = undefined;
    this.seal();
  }

  private seal(): void {
    this.sealAfterLive = false;
    if (this.openRows === 0) return;
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    const b: Batch = {
      text: this.openText.take(),
      rows: this.openRows,
      oldest: this.openOldest,
      lag: this.openLag,
      seqs: [this.openSeq++],
    };
    this.openRows = 0;
    this.openOldest = Number.POSITIVE_INFINITY;
    this.openLag = [];
    this.route(b);
  }

  private route(b: Batch): void {
    if (this.stopped) {
      this.spoolForced(b);
    } else if (this.dbUp && this.pendingRows + (this.live?.rows ?? 0) + b.rows <= this.queueMax) {
      this.pushPending(b);
      this.pump();
    } else if (this.trySpool(b)) {
      this.scheduleReplay(this.dbUp ? 0 : this.backoff.next());
    } else {
      // Memory and spool both full (or the spool is failing): hold it anyway and ask ingest to stop.
      this.pushPending(b);
      this.pump();
    }
    this.updateGauges();
  }

  private pushPending(b: Batch): void {
    this.pending.push(b);
    this.pendingRows += b.rows;
  }

  // ---- live lane -----------------------------------------------------------------------------

  /** Starts the next in-memory batch. While the database is marked down, the replay lane probes instead. */
  private pump(): void {
    if (this.live || this.pending.length === 0 || !this.dbUp) return;
    const b = this.takePending();
    this.live = b;
    void this.writeLive(b);
  }

  /**
   * The next COPY: the oldest pending batch, merged with the ones behind it up to MERGE_FACTOR × batchSize rows. A
   * backlog thus travels in fewer, larger COPYs (one round trip each), so the writer catches up faster the further it
   * is behind; with no backlog a batch goes alone.
   */
  private takePending(): Batch {
    const first = this.pending.shift()!;
    this.pendingRows -= first.rows;
    const limit = this.batchSize * MERGE_FACTOR;
    const fits = (b: Batch | undefined): boolean =>
      b !== undefined && rows + b.rows <= limit && sameForm(first.text, b.text);
    const texts = [first.text];
    let lag = first.lag;
    let seqs = first.seqs;
    let rows = first.rows;
    let oldest = first.oldest;
    if (!fits(this.pending[0])) return first;
    while (fits(this.pending[0])) {
      const b = this.pending.shift()!;
      this.pendingRows -= b.rows;
      texts.push(b.text);
      lag = lag.concat(b.lag);
      seqs = seqs.concat(b.seqs);
      rows += b.rows;
      if (b.oldest < oldest) oldest = b.oldest;
    }
    return { text: joinChunks(texts), rows, oldest, lag, seqs };
  }

  private async writeLive(b: Batch): Promise<void> {
    const t0 = performance.now();
    try {
      await this.copyIsolating(b.text, b.rows);
      this.markUp();
      this.committed(b.rows, t0);
      this.observeLag(b.lag);
      this.markDurable(b.seqs);
    } catch (err) {
      const remaining = err instanceof PartialWriteError ? err.remaining : b.text;
      const rest: Batch = remaining === b.text ? b : { ...b, text: remaining, rows: chunkRows(remaining) };
      this.failed(err instanceof PartialWriteError ? err.cause : err, rest.rows);
      if (!this.trySpool(rest)) {
        this.pending.unshift(rest);
        this.pendingRows += rest.rows;
      }
      this.spillPending();
      this.scheduleReplay(this.backoff.next());
    } finally {
      this.live = undefined;
      if (this.sealAfterLive) {
        this.sealAfterLive = false;
        this.seal();
      }
      this.updateGauges();
      this.pump();
      this.notifyIdle();
    }
  }

  private spillPending(): void {
    while (this.pending.length > 0) {
      const b = this.pending[0]!;
      if (!this.trySpool(b)) break;
      this.pending.shift();
      this.pendingRows -= b.rows;
    }
  }

  // ---- replay lane ---------------------------------------------------------------------------

  private scheduleReplay(delayMs: number): void {
    if (this.replayTimer || this.replaying || this.closing) return;
    this.replayTimer = this.scheduler.after(delayMs, () => {
      this.replayTimer = undefined;
      this.runReplay();
    });
  }

  private runReplay(): void {
    if (this.replaying || this.closing) return;
    this.replaying = this.replayLoop()
      .catch((err: unknown) => {
        this.log.error('telemetry spool replay failed unexpectedly; will retry', { err });
      })
      .finally(() => {
        this.replaying = undefined;
        this.updateGauges();
        this.notifyIdle();
        // While the database is marked down keep probing, with capped exponential backoff.
        if (!this.dbUp || !this.spool.isEmpty()) this.scheduleReplay(this.backoff.next());
      });
  }

  /** Replays spool segments oldest-first while the database takes them. */
  private async replayLoop(): Promise<void> {
    while (!this.closing) {
      const seg = this.takeSegment();
      if (!seg) {
        // Nothing spooled: if memory holds batches while the DB is marked down, the next one is the probe.
        if (!this.dbUp && this.pending.length > 0 && !this.live) {
          const b = this.pending.shift()!;
          this.pendingRows -= b.rows;
          this.live = b;
          void this.writeLive(b);
        }
        return;
      }
      if (!(await this.replaySegment(seg))) return;
    }
  }

  private takeSegment(): SpoolSegment | undefined {
    try {
      return this.spool.oldest();
    } catch (err) {
      this.log.error('could not rotate the telemetry spool segment', { err });
      return undefined;
    }
  }

  private async replaySegment(seg: SpoolSegment): Promise<boolean> {
    let buf: Buffer;
    try {
      buf = await this.spool.read(seg);
    } catch (err) {
      this.log.error('could not read a telemetry spool segment; will retry', { path: seg.path, err });
      return false;
    }
    const rows = chunkRows(buf);
    const t0 = performance.now();
    try {
      await this.copyIsolating(buf, rows);
    } catch (err) {
      if (err instanceof PartialWriteError) {
        try {
          this.spool.replace(seg, chunkBytes(err.remaining));
        } catch (ioErr) {
          // Keeping the original segment means re-sending rows that were committed: duplicates, not loss.
          this.log.error('could not rewrite a partly written spool segment; rows may be written twice', {
            path: seg.path,
            err: ioErr,
          });
        }
      }
      this.failed(err instanceof PartialWriteError ? err.cause : err, rows);
      return false;
    }
    try {
      this.spool.remove(seg);
    } catch (err) {
      this.log.error('could not delete a replayed spool segment; it will be replayed again', {
        path: seg.path,
        err,
      });
      return false;
    }
    this.spoolRefused = false;
    this.markUp();
    this.committed(rows, t0);
    const lagS = (this.clock.now() - seg.oldestReceivedAt) / 1000;
    for (let k = 0; k < rows; k++) this.metrics.ingestCommitLag.observe(lagS);
    this.log.info('replayed spooled telemetry', { rows, bytes: seg.bytes, spoolBytes: this.spool.bytes() });
    this.updateGauges();
    this.pump();
    return true;
  }

  // ---- writing with bad-row isolation ----------------------------------------------------------

  /**
   * One COPY; when PostgreSQL rejects the data itself, bisects down to single rows so only the bad rows
   * are rejected (to `onReject`). A transient error during bisection throws PartialWriteError carrying
   * exactly the rows not yet committed.
   */
  private async copyIsolating(chunk: Chunk, rows: number): Promise<void> {
    let firstErr: unknown;
    try {
      await this.sink.copy(chunk, rows);
      return;
    } catch (err) {
      if (!isDataError(err)) throw err;
      firstErr = err;
      this.log.warn('database rejected a telemetry batch as data; isolating the bad rows', {
        rows,
        code: sqlState(err),
        error: errorMessage(err),
      });
    }
    if (rows <= 1) {
      this.rejectLine(chunk, firstErr);
      return;
    }
    const work = halves(chunk, rows);
    while (work.length > 0) {
      const part = work[0]!;
      try {
        await this.sink.copy(part.text, part.rows);
        work.shift();
      } catch (err) {
        if (!isDataError(err)) throw new PartialWriteError(joinChunks(work.map((w) => w.text)), err);
        work.shift();
        if (part.rows <= 1) this.rejectLine(part.text, err);
        else work.unshift(...halves(part.text, part.rows));
      }
    }
  }

  private rejectLine(row: Chunk, err: unknown): void {
    const line = chunkText(row);
    const fields = line.split('\t');
    this.reject({
      siteId: fields[1],
      deviceId: fields[2],
      detail: `database rejected the row (${sqlState(err) ?? 'error'}): ${errorMessage(err)}`,
      payload: line.replace(/\n$/, ''),
    });
  }

  private reject(row: RejectedRow): void {
    this.metrics.rowsRejected.inc();
    this.log.error('telemetry row rejected by storage; kept in the dead letters', {
      siteId: row.siteId,
      deviceId: row.deviceId,
      detail: row.detail,
    });
    try {
      this.onReject(row);
    } catch (err) {
      this.log.error('dead-letter hand-off failed', { err });
    }
  }

  // ---- spool -----------------------------------------------------------------------------------

  private trySpool(b: Batch): boolean {
    try {
      const ok = this.spool.append(b.text, b.oldest);
      if (ok) {
        try {
          this.spool.sync();
        } catch (err) {
          // Written but not known to be on disk: keep the batch in memory too (a later replay may write it twice:
          // duplicates, never a loss) and do not let ingest acknowledge it on the spool's word.
          this.metrics.writeErrors.inc();
          this.log.error('could not fsync the telemetry spool; keeping the batch in memory as well', { err });
          this.spoolFailing = true;
          return false;
        }
        this.markDurable(b.seqs);
      }
      if (this.spoolFailing) {
        this.spoolFailing = false;
        this.log.info('telemetry spool writable again', { dir: this.spool.dir });
      }
      if (!ok && !this.spoolRefused) {
        this.log.warn('telemetry spool full; holding batches in memory', {
          spoolBytes: this.spool.bytes(),
          maxBytes: this.spool.maxBytes,
        });
      }
      this.spoolRefused = !ok;
      return ok;
    } catch (err) {
      if (!this.spoolFailing) {
        this.spoolFailing = true;
        this.log.error('cannot write the telemetry spool; holding batches in memory', {
          dir: this.spool.dir,
          err,
        });
      }
      return false;
    }
  }

  /** Shutdown path: exceeding SPOOL_MAX_BYTES beats losing acknowledged readings. */
  private spoolForced(b: Batch): boolean {
    try {
      this.spool.append(b.text, b.oldest, true);
      return true;
    } catch (err) {
      this.metrics.writeErrors.inc();
      this.log.error('LOST telemetry at shutdown: could not write the spool', { rows: b.rows, err });
      return false;
    }
  }

  // ---- state and metrics ---------------------------------------------------------------------

  private committed(rows: number, t0: number): void {
    this.metrics.rowsWritten.inc(rows);
    this.metrics.batchSize.observe(rows);
    this.metrics.batchDuration.observe((performance.now() - t0) / 1000);
  }

  /** One observation per run of readings that arrived together (the readings of one message), not per row. */
  private observeLag(lag: readonly number[]): void {
    const now = this.clock.now();
    const h = this.metrics.ingestCommitLag;
    for (let i = 0; i < lag.length; i += 2) h.observe((now - lag[i]!) / 1000);
  }

  private failed(err: unknown, rows: number): void {
    this.metrics.writeErrors.inc();
    this.log.warn('telemetry write failed; rows kept for retry', {
      rows,
      code: sqlState(err),
      error: errorMessage(err),
    });
    if (this.dbUp) {
      this.dbUp = false;
      this.metrics.dbUp.set(0);
      this.log.error('database unavailable for telemetry: spooling to disk until it answers', {
        error: errorMessage(err),
        spoolDir: this.spool.dir,
      });
    }
  }

  private markUp(): void {
    if (this.dbUp) return;
    this.dbUp = true;
    this.backoff.reset();
    this.metrics.dbUp.set(1);
    this.log.info('database reachable again: writing telemetry, replaying the spool', {
      spoolBytes: this.spool.bytes(),
      queueDepth: this.queueDepth(),
    });
    if (!this.spool.isEmpty()) this.scheduleReplay(0);
  }

  private markDurable(seqs: readonly number[]): void {
    const before = this.durableThrough;
    for (let i = 0; i < seqs.length; i++) if (seqs[i]! > this.durableThrough) this.durableAhead.add(seqs[i]!);
    while (this.durableAhead.delete(this.durableThrough + 1)) this.durableThrough++;
    if (this.durableThrough !== before) this.durableListener?.(this.durableThrough);
  }

  private updateGauges(): void {
    const depth = this.queueDepth();
    this.metrics.queueDepth.set(depth);
    this.metrics.spoolBytes.set(this.spool.bytes());
    // High/low watermarks: on at queueMax with nowhere else to put batches, off only at half of it (no flapping at
    // every commit).
    const pressure = this.pressure$.value
      ? depth > this.lowWater
      : depth >= this.queueMax && (this.spoolRefused || this.spoolFailing);
    if (pressure !== this.pressure$.value) {
      if (pressure) {
        this.log.error('telemetry writer full (memory and spool): asking ingest to stop acknowledging', {
          queueDepth: depth,
          spoolBytes: this.spool.bytes(),
        });
      } else {
        this.log.info('telemetry writer has room again', { queueDepth: depth });
      }
      this.pressure$.next(pressure);
    }
  }

  private whenIdle(cond: () => boolean): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (cond()) resolve();
        else this.idleWaiters.push(check);
      };
      this.idleWaiters.push(check);
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
