import { JsonLogger } from '../common/logger';
import { Backoff, type Scheduler, type TimerHandle } from '../common/timer.port';
import type { AlarmStore, AlarmWrite } from './alarm.store';

export type WriteQueueOptions = {
  /** Events per transaction. */
  readonly maxBatch: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** Pending events above which every further failure logs at error level with the count (nothing is ever dropped). */
  readonly warnAbove: number;
};

export const DEFAULT_WRITE_QUEUE_OPTIONS: WriteQueueOptions = Object.freeze({
  maxBatch: 500,
  retryInitialMs: 250,
  retryMaxMs: 5_000,
  warnAbove: 10_000,
});

export type WriteQueueState = {
  readonly pending: number;
  readonly degraded: boolean;
  readonly lastError?: string;
  readonly writtenSeq: number;
};

/**
 * Persists alarm events strictly in order, one batch (transaction) at a time. While the database fails, events stay in
 * memory in order — never dropped, no bound — and the batch at the head is retried with capped backoff; `degraded`
 * is true from the first failure until a write succeeds again.
 */
export class AlarmWriteQueue {
  private readonly pending: AlarmWrite[] = [];
  private inFlight = false;
  private retry: TimerHandle | undefined;
  private degraded = false;
  private lastError: string | undefined;
  private writtenSeq: number;
  private failures = 0;
  private closed = false;
  private readonly backoff: Backoff;
  private readonly waiters: Array<{ seq: number; resolve: (written: boolean) => void }> = [];

  constructor(
    private readonly store: Pick<AlarmStore, 'persist'>,
    private readonly scheduler: Scheduler,
    private readonly onChange: (s: WriteQueueState) => void,
    private readonly opts: WriteQueueOptions = DEFAULT_WRITE_QUEUE_OPTIONS,
    private readonly log = new JsonLogger('alarms.writer'),
    initialWrittenSeq = 0,
  ) {
    this.backoff = new Backoff(opts.retryInitialMs, opts.retryMaxMs);
    this.writtenSeq = initialWrittenSeq;
  }

  state(): WriteQueueState {
    return {
      pending: this.pending.length,
      degraded: this.degraded,
      writtenSeq: this.writtenSeq,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Everything not yet committed, in order (for resume while the database is down). */
  pendingEntries(): readonly AlarmWrite[] {
    return this.pending;
  }

  /** Seq of the newest committed event. */
  get committedSeq(): number {
    return this.writtenSeq;
  }

  /** After loading persisted state: everything up to `seq` is already in the database. */
  setCommitted(seq: number): void {
    if (this.pending.length > 0) throw new Error('setCommitted with events pending');
    this.writtenSeq = seq;
  }

  enqueue(w: AlarmWrite): void {
    this.pending.push(w);
    this.emit();
    this.kick();
  }

  /** Resolves true once `seq` is committed, false after `timeoutMs` (the event stays queued either way). */
  whenWritten(seq: number, timeoutMs: number): Promise<boolean> {
    if (seq <= this.writtenSeq) return Promise.resolve(true);
    if (timeoutMs <= 0 || this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = { seq, resolve };
      this.waiters.push(waiter);
      this.scheduler.after(timeoutMs, () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          resolve(false);
        }
      });
    });
  }

  /** Stops retry timers; returns the events that could not be written. */
  close(): readonly AlarmWrite[] {
    this.closed = true;
    this.retry?.cancel();
    this.retry = undefined;
    for (const w of this.waiters.splice(0)) w.resolve(false);
    return [...this.pending];
  }

  private kick(): void {
    if (this.closed || this.inFlight || this.retry || this.pending.length === 0) return;
    void this.pump();
  }

  private async pump(): Promise<void> {
    this.inFlight = true;
    const batch = this.pending.slice(0, this.opts.maxBatch);
    try {
      await this.store.persist(batch);
      this.pending.splice(0, batch.length);
      this.writtenSeq = batch[batch.length - 1]?.entry.seq ?? this.writtenSeq;
      this.backoff.reset();
      if (this.degraded)
        this.log.warn('alarm journal writes recovered', {
          failures: this.failures,
          pending: this.pending.length,
        });
      this.degraded = false;
      this.failures = 0;
      this.lastError = undefined;
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i];
        if (w && w.seq <= this.writtenSeq) {
          this.waiters.splice(i, 1);
          w.resolve(true);
        }
      }
    } catch (err) {
      this.failures += 1;
      this.lastError = err instanceof Error ? err.message : String(err);
      const delay = this.backoff.next();
      const fields = {
        error: this.lastError,
        pending: this.pending.length,
        headSeq: batch[0]?.entry.seq,
        retryInMs: delay,
        failures: this.failures,
      };
      if (!this.degraded || this.pending.length > this.opts.warnAbove)
        this.log.error(
          'alarm events cannot be written; holding them in memory in order and retrying',
          fields,
        );
      this.degraded = true;
      if (!this.closed) {
        this.retry = this.scheduler.after(delay, () => {
          this.retry = undefined;
          this.kick();
        });
      }
    } finally {
      this.inFlight = false;
      this.emit();
    }
    this.kick();
  }

  private emit(): void {
    this.onChange(this.state());
  }
}
