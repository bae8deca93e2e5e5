import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Subject, interval, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { ListenConnection, ListenConnector } from '../auth/token-revocation.listener';
import { JsonLogger } from '../common/logger';
import type { AlarmEventDto } from './domain/client-events';
import { ReplayGapError, type AlarmFeed } from './realtime.ports';

/** The channel the journal writer notifies (payload: the new row's seq; a wake-up, never the data). */
export const JOURNAL_CHANNEL = 'hazwatch_journal';

/**
 * Reads committed journal rows by global seq (implemented by the alarms module's JournalTail). `watermark` is the seq up
 * to which the journal is final: no row with a seq ≤ watermark can still appear (docs/adr/0016-cluster.md, "Journal").
 * `events` are the rows with afterSeq < seq ≤ watermark, in seq order, at most `limit`.
 */
export type JournalTailPort = {
  readAfter(
    afterSeq: number,
    limit: number,
  ): Promise<{ readonly events: readonly AlarmEventDto[]; readonly watermark: number }>;
};

export type JournalFanoutOptions = {
  /** Rows per read. */
  readonly pageSize: number;
  /** Safety-net read interval while LISTEN is up (a lost notification costs at most this much latency). */
  readonly pollMs: number;
  /** Read interval while LISTEN is down (it is retried at each of these ticks). */
  readonly fallbackPollMs: number;
  /** Largest replay a resuming client gets; beyond it the client is told to reload (ReplayGapError). */
  readonly maxReplay: number;
};

export const DEFAULT_FANOUT_OPTIONS: JournalFanoutOptions = Object.freeze({
  pageSize: 500,
  pollMs: 1_000,
  fallbackPollMs: 250,
  maxReplay: 50_000,
});

/**
 * The `/ws` alarm feed of a cluster node (docs/adr/0016-cluster.md, "/ws fan-out"): every node pushes journal rows,
 * not the events its own alarm service made, so a client on any node sees every event of its scope once and in seq
 * order, and `since` means the same on every node. One dedicated connection LISTENs on `hazwatch_journal`; each
 * notification (and a periodic tick, in case one was lost or LISTEN is down) reads the rows after the cursor up to the
 * commit watermark. Replays read the same tail, bounded by the same watermark, so a replay never gets ahead of live
 * events (which would make the client's merge drop a late-committed lower seq).
 */
export class JournalFanout implements AlarmFeed, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new JsonLogger('realtime.fanout');
  private readonly subject = new Subject<AlarmEventDto>();
  readonly events$: Observable<AlarmEventDto> = this.subject.asObservable();
  private cursor = 0;
  private reading: Promise<void> | undefined;
  private again = false;
  private conn: ListenConnection | undefined;
  private connecting = false;
  private ticks?: Subscription;
  private stopped = false;
  private retryStart?: NodeJS.Timeout;
  private readonly opts: JournalFanoutOptions;
  /** Counters for /metrics and tests. */
  readonly stats = { reads: 0, notifications: 0, readErrors: 0, listening: false };

  constructor(
    private readonly tail: JournalTailPort,
    private readonly connect: ListenConnector,
    private readonly scheduler: SchedulerLike,
    opts: Partial<JournalFanoutOptions> = {},
  ) {
    this.opts = { ...DEFAULT_FANOUT_OPTIONS, ...opts };
  }

  /** Starts at the journal's current watermark (live from now; clients resume older events with `since`). */
  async start(): Promise<void> {
    this.cursor = (await this.tail.readAfter(Number.MAX_SAFE_INTEGER, 1)).watermark;
    await this.listen();
    this.ticks = interval(this.opts.fallbackPollMs, this.scheduler).subscribe((n) => this.onTick(n));
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.start();
    } catch (err) {
      // Start-up goes on; the cursor cannot be guessed (0 would push the whole journal as live), so the start is retried.
      if (this.stopped) return;
      this.log.error('journal fan-out could not start; retrying', { err: (err as Error).message });
      this.retryStart = setTimeout(() => void this.onApplicationBootstrap(), this.opts.pollMs);
      this.retryStart.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.retryStart) clearTimeout(this.retryStart);
    await this.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ticks?.unsubscribe();
    const conn = this.conn;
    this.conn = undefined;
    this.stats.listening = false;
    if (conn) {
      conn.removeAllListeners('notification');
      conn.removeAllListeners('end');
      conn.removeAllListeners('error');
      await conn.query(`UNLISTEN ${JOURNAL_CHANNEL}`).catch(() => undefined);
      conn.release(true);
    }
    await this.reading;
    this.subject.complete();
  }

  currentSeq(): number {
    return this.cursor;
  }

  /** Reads up to the watermark now (a client resuming from a seq another node already pushed) and returns the cursor. */
  async refresh(): Promise<number> {
    await this.wake();
    return this.cursor;
  }

  async eventsSince(since: number): Promise<readonly AlarmEventDto[]> {
    // Not past the live cursor: the rest comes live, in order, through the client's merge.
    const until = await this.refresh();
    const out: AlarmEventDto[] = [];
    let after = since;
    while (after < until) {
      const page = await this.tail.readAfter(after, this.opts.pageSize);
      for (const ev of page.events) {
        if (ev.seq > until) return out;
        out.push(ev);
        after = ev.seq;
      }
      if (out.length > this.opts.maxReplay)
        throw new ReplayGapError(`more than ${this.opts.maxReplay} alarm events after seq ${since}`);
      if (page.events.length < this.opts.pageSize) break;
    }
    return out;
  }

  /** Reads every final row after the cursor and pushes it; concurrent calls share one read (and one more after it). */
  wake(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        await this.readAll();
      } while (this.again && !this.stopped);
    })().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async readAll(): Promise<void> {
    try {
      for (;;) {
        this.stats.reads++;
        const page = await this.tail.readAfter(this.cursor, this.opts.pageSize);
        for (const ev of page.events) {
          if (ev.seq <= this.cursor) continue;
          this.cursor = ev.seq;
          this.subject.next(ev);
        }
        if (page.events.length < this.opts.pageSize) {
          if (page.watermark > this.cursor) this.cursor = page.watermark;
          return;
        }
      }
    } catch (err) {
      // The next tick reads again from the same cursor: nothing is skipped.
      this.stats.readErrors++;
      this.log.warn('journal tail read failed; retrying', { err: (err as Error).message });
    }
  }

  private onTick(n: number): void {
    if (this.stopped) return;
    if (!this.conn) void this.listen();
    const every = Math.max(1, Math.round(this.opts.pollMs / this.opts.fallbackPollMs));
    if (!this.conn || n % every === every - 1) void this.wake();
  }

  private async listen(): Promise<void> {
    if (this.connecting || this.conn || this.stopped) return;
    this.connecting = true;
    let conn: ListenConnection | undefined;
    try {
      conn = await this.connect();
      const c = conn;
      const lost = (err?: Error): void => {
        if (this.conn !== c) return;
        this.conn = undefined;
        this.stats.listening = false;
        c.removeAllListeners('notification');
        c.release(err ?? true);
        if (!this.stopped)
          this.log.warn('journal LISTEN connection lost; reading by polling until it is back', {
            err: err?.message,
          });
      };
      c.on('error', (err) => lost(err));
      c.on('end', () => lost());
      c.on('notification', (msg) => {
        if (msg.channel !== JOURNAL_CHANNEL) return;
        this.stats.notifications++;
        void this.wake();
      });
      await c.query(`LISTEN ${JOURNAL_CHANNEL}`);
      if (this.stopped) {
        c.release(true);
        return;
      }
      this.conn = c;
      this.stats.listening = true;
      // Notifications sent before LISTEN took effect are covered by this read.
      void this.wake();
    } catch (err) {
      conn?.release(true);
      this.log.warn('journal LISTEN not connected; polling', { err: (err as Error).message });
    } finally {
      this.connecting = false;
    }
  }
}
