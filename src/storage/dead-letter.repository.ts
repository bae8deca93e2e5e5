import type { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { JsonLogger } from '../common/logger';
import type { HazwatchMetrics } from '../metrics/metrics.registry';
import { isConnectionError, type Database } from './database.service';

export const DEAD_LETTER_PAYLOAD_MAX = 1024;
/** Dead letters held in memory while the database is unavailable; beyond that they are counted, not kept. */
export const DEAD_LETTER_BUFFER_MAX = 10_000;

/** Longest topic / detail text stored (a reject's description, never an amplifier of the bad input). */
export const DEAD_LETTER_TEXT_MAX = 2048;

/**
 * Text PostgreSQL can hold: U+0000 is not allowed in `text` (error 22021 refused the whole multi-row insert) and is
 * written as the visible escape `\u0000`; bounded length. Cheap when there is nothing to do (the common case).
 * Invalid UTF-8 in the input never reaches here as bytes: payloads are stored as `bytea`, and text decoded from bytes
 * already carries U+FFFD (lone surrogates are encoded as U+FFFD by the driver).
 */
export function pgText(s: string, max = DEAD_LETTER_TEXT_MAX): string {
  const t = s.length > max ? s.slice(0, max) : s;
  return t.includes('\0') ? t.replace(/\0/g, '\\u0000') : t;
}

export type DeadLetterInput = {
  topic: string;
  reason: string;
  detail: string;
  payload: Buffer;
  /** Arrival time, epoch ms. */
  receivedAt: number;
};

export type DeadLetter = {
  id: number;
  receivedAt: Date;
  topic: string;
  reason: string;
  detail: string;
  /** First 1 KiB of the payload as received. */
  payload: Buffer;
};

type Row = { id: string; received_at: Date; topic: string; reason: string; detail: string; payload: Buffer };

const INSERT = `
  INSERT INTO ingest_reject (received_at, topic, reason, detail, payload)
  SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bytea[])`;

const LIST = `
  SELECT id, received_at, topic, reason, detail, payload FROM ingest_reject
  WHERE ($2::text IS NULL OR reason = $2) AND ($3::bigint IS NULL OR id < $3)
  ORDER BY id DESC LIMIT $1`;

/** Deletes everything older than the newest $1 rows. */
const PRUNE = `
  DELETE FROM ingest_reject
  WHERE id < (SELECT id FROM ingest_reject ORDER BY id DESC OFFSET $1 LIMIT 1)`;

export type DeadLetterOptions = {
  db: Database;
  metrics: HazwatchMetrics;
  /** DEADLETTER_MAX_ROWS */
  maxRows: number;
  flushMs?: number;
  pruneMs?: number;
  batchMax?: number;
  log?: JsonLogger;
};

/**
 * Dead letters (rejected input) in `ingest_reject`: `record()` buffers, a timer writes multi-row inserts.
 * Bounded: while the database is down up to DEAD_LETTER_BUFFER_MAX are held; beyond that each one is
 * counted in hazwatch_ingest_deadletter_write_errors_total (the reject counters remain the record).
 * A periodic prune keeps the newest DEADLETTER_MAX_ROWS.
 */
export class DeadLetterRepository implements OnModuleInit, BeforeApplicationShutdown {
  private buffer: DeadLetterInput[] = [];
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private failing = false;
  private overflowLogged = false;
  private readonly log: JsonLogger;
  private readonly batchMax: number;

  constructor(private readonly opts: DeadLetterOptions) {
    this.log = opts.log ?? new JsonLogger('storage.dead-letters');
    this.batchMax = opts.batchMax ?? 1000;
  }

  onModuleInit(): void {
    this.flushTimer = setInterval(() => void this.flush(), this.opts.flushMs ?? 1000);
    this.flushTimer.unref();
    this.pruneTimer = setInterval(() => void this.prune(), this.opts.pruneMs ?? 60_000);
    this.pruneTimer.unref();
  }

  /** Never blocks or throws. */
  record(input: DeadLetterInput): void {
    if (this.buffer.length >= DEAD_LETTER_BUFFER_MAX) {
      this.opts.metrics.deadLetterWriteErrors.inc();
      if (!this.overflowLogged) {
        this.overflowLogged = true;
        this.log.error(
          'dead-letter buffer full (database slow or down); further dead letters are only counted',
          {
            buffered: this.buffer.length,
          },
        );
      }
      return;
    }
    const payload =
      input.payload.length > DEAD_LETTER_PAYLOAD_MAX
        ? Buffer.from(input.payload.subarray(0, DEAD_LETTER_PAYLOAD_MAX)) // copy: do not pin the big buffer
        : input.payload;
    this.buffer.push({ ...input, payload });
  }

  pending(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered (in multi-row inserts). Failures keep the rows for the next attempt. */
  flush(): Promise<void> {
    this.flushing ??= this.doFlush().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.batchMax);
      const done = await this.store(batch);
      // rows written or given up leave the buffer; the rest wait for the database
      this.buffer.splice(0, done);
      if (done < batch.length) {
        if (!this.failing) {
          this.failing = true;
          this.log.error('could not write dead letters (database unavailable); holding them in memory', {
            buffered: this.buffer.length,
            error: this.lastError,
          });
        }
        return;
      }
      if (this.failing) {
        this.failing = false;
        this.overflowLogged = false;
        this.log.info('dead letters written again');
      }
    }
  }

  private lastError = '';

  /**
   * Inserts `batch` and returns how many rows from its start are done (written, or refused as data and counted).
   * Fewer than `batch.length` means the database is unavailable. A batch the database refuses as data is split in
   * halves until the bad row stands alone; that row alone is given up (counted in
   * hazwatch_ingest_deadletter_write_errors_total, logged) and never blocks the others: each row is retried at most
   * once on its own, so a poison row costs O(log batch) inserts, not an endless retry.
   */
  private async store(batch: readonly DeadLetterInput[]): Promise<number> {
    try {
      await this.opts.db.query(INSERT, [
        batch.map((d) => new Date(d.receivedAt)),
        batch.map((d) => pgText(d.topic)),
        batch.map((d) => pgText(d.reason)),
        batch.map((d) => pgText(d.detail)),
        batch.map((d) => d.payload),
      ]);
      return batch.length;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      if (isConnectionError(err)) return 0;
      if (batch.length === 1) {
        this.opts.metrics.deadLetterWriteErrors.inc();
        const d = batch[0];
        this.log.error(
          'dead letter refused by the database as data; counted and skipped (the others are stored)',
          {
            error: this.lastError,
            topic: d ? pgText(d.topic, 256) : undefined,
            reason: d?.reason,
          },
        );
        return 1;
      }
      const mid = Math.ceil(batch.length / 2);
      const first = await this.store(batch.slice(0, mid));
      if (first < mid) return first;
      return mid + (await this.store(batch.slice(mid)));
    }
  }

  /** Newest first; `beforeId` pages backwards. */
  async list(q: { limit: number; reason?: string; beforeId?: number }): Promise<DeadLetter[]> {
    const r = await this.opts.db.query<Row>(LIST, [q.limit, q.reason ?? null, q.beforeId ?? null]);
    return r.rows.map((row) => ({
      id: Number(row.id),
      receivedAt: row.received_at,
      topic: row.topic,
      reason: row.reason,
      detail: row.detail,
      payload: row.payload,
    }));
  }

  /** Keeps the newest DEADLETTER_MAX_ROWS rows. Returns how many were deleted. */
  async prune(): Promise<number> {
    try {
      const r = await this.opts.db.query(PRUNE, [this.opts.maxRows - 1]);
      const n = r.rowCount ?? 0;
      if (n > 0) this.log.debug('pruned dead letters', { deleted: n, keep: this.opts.maxRows });
      return n;
    } catch (err) {
      this.log.warn('dead-letter prune failed', { error: err instanceof Error ? err.message : String(err) });
      return 0;
    }
  }

  /** Before the pool closes (Database closes in onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.flushTimer);
    clearInterval(this.pruneTimer);
    await this.flush();
    if (this.buffer.length > 0) {
      this.opts.metrics.deadLetterWriteErrors.inc(this.buffer.length);
      this.log.error('dead letters not written at shutdown (database unavailable)', {
        count: this.buffer.length,
      });
    }
  }
}
