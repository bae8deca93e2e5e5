import { Subject, type Observable } from 'rxjs';
import type { Clock } from '../../common/clock';
import type { JsonLogger } from '../../common/logger';
import type { Scheduler } from '../../common/timer.port';
import type { HazwatchMetrics } from '../../metrics/metrics.registry';
import type { AlarmEventLog } from '../alarm-event.log';
import type { PendingSpool } from '../alarm-pending.spool';
import type { AlarmStore, AlarmWrite } from '../alarm.store';
import { AlarmWriteQueue, type WriteQueueOptions, type WriteQueueState } from '../alarm-write.queue';
import {
  applyAlarmCommand,
  toSnapshot,
  type AlarmCommand,
  type TransitionResult,
} from '../domain/alarm-state.machine';
import type { Actor, AlarmEventDto, AlarmEventType, AlarmRecord, AlarmState } from '../domain/alarm.types';
import { cleanText } from '../domain/clean-condition';
import { GENESIS_HASH, sealEntry, toEventDto, type JournalEntry } from '../domain/journal-chain';
import type { AlarmRegistry } from './alarm-registry';
import type { AnnouncedAlarmEvent } from './alarm-service.types';

export type AlarmJournalWriterDeps = {
  readonly store: AlarmStore;
  readonly registry: AlarmRegistry;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly metrics: HazwatchMetrics;
  readonly log: JsonLogger;
  readonly wal?: AlarmEventLog;
  readonly spool?: PendingSpool;
  readonly recentEvents: number;
  readonly writeQueue: WriteQueueOptions;
  /** An alarm was raised into `unacknowledged` (flood counting); called before the event is made durable. */
  readonly onRaised: (siteId: string, at: number) => void;
  /** Something the status shows changed (write queue, write-ahead log health). */
  readonly onStatusChange: () => void;
  /**
   * `durable` (a single node): announce on `events$` once the write-ahead log made the event durable.
   * `journalled` (a cluster node, docs/adr/0025-cluster-alarm-state.md): `commit` announces nothing; the store
   * announces through `announceJournalled` what the site's fenced journal write committed, with its global seq.
   */
  readonly announce?: 'durable' | 'journalled';
};

export type AdoptResult = 'adopted' | 'already' | 'rejected';

/**
 * The single write path of alarm state and its ordering invariant (docs/adr/0011-journal-before-announce.md).
 * Every alarm event, whoever causes it (condition, operator, timer), goes through `commit`, which in one synchronous
 * step on the event loop:
 *
 * 1. assigns the next `seq` (strictly +1, never reused) and seals the journal row onto the hash chain;
 * 2. stores the alarm's new record;
 * 3. writes the event to the write-ahead log;
 * 4. queues it for the journal table (in seq order, held in memory while the database is down);
 * 5. announces it on `events$` with `journalled: false` — once the log's fdatasync has made it durable: one fdatasync
 *    ends each synchronous run of events (group commit), so the announcement comes at the end of the run, in seq order.
 *
 * So the order of seq, hash chain, write-ahead log, write queue and `events$` is one and the same. Nothing else
 * writes `seq` or the chain head; recovery continues them only through `startAt`, `adopt` and `reserveThrough`.
 */
export class AlarmJournalWriter {
  private seqValue = 0;
  private lastHash = GENESIS_HASH;
  /** Events kept for resume: every uncommitted one, and the newest `recentEvents` committed ones. */
  private readonly recentEntries: JournalEntry[] = [];
  private readonly queue: AlarmWriteQueue;
  private readonly eventsSubject = new Subject<AlarmEventDto>();
  /** Why the last write-ahead-log append failed; undefined while appends succeed. */
  private walErrorValue: string | undefined;
  private walCompactedAt = 0;
  /** Seq up to which the spooled events of the last shutdown must be committed before the spool file is removed. */
  private spoolClearAt: number | undefined;

  /** Cluster node: per alarm, the local seq of its newest event not yet journalled. */
  private readonly unjournalled = new Map<string, number>();

  /** Every alarm event, live, in seq order (hot; completes on close). */
  readonly events$: Observable<AlarmEventDto> = this.eventsSubject.asObservable();

  constructor(private readonly deps: AlarmJournalWriterDeps) {
    this.queue = new AlarmWriteQueue(
      deps.store,
      deps.scheduler,
      (s) => this.onQueueState(s),
      deps.writeQueue,
      deps.log.child('alarms.writer'),
    );
  }

  /** Seq of the newest event (announced or restored). */
  get seq(): number {
    return this.seqValue;
  }

  /** Every event up to this seq is committed to the journal table. */
  get committedSeq(): number {
    return this.queue.committedSeq;
  }

  get walError(): string | undefined {
    return this.walErrorValue;
  }

  queueState(): WriteQueueState {
    return this.queue.state();
  }

  /** In seq order: every uncommitted event, and recent committed ones. */
  get recent(): readonly JournalEntry[] {
    return this.recentEntries;
  }

  whenWritten(seq: number, timeoutMs: number): Promise<boolean> {
    return this.queue.whenWritten(seq, timeoutMs);
  }

  /**
   * Cluster node: announces an event the site's fenced journal write committed (`journalled: true`, the journal's
   * global seq). The alarm's record takes the global seq when this was its newest event.
   */
  announceJournalled(row: JournalEntry, localSeq: number): void {
    const cur = this.deps.registry.get(row.alarmId);
    if (this.unjournalled.get(row.alarmId) === localSeq) {
      this.unjournalled.delete(row.alarmId);
      if (cur && cur.seq === localSeq) this.deps.registry.upsert({ ...cur, seq: row.seq });
    }
    const announced: AnnouncedAlarmEvent = { ...toEventDto(row), journalled: true };
    this.eventsSubject.next(announced);
  }

  /** Cluster node: events of this alarm were refused or abandoned; it no longer waits for them. */
  forgetUnjournalled(alarmId: string, localSeq: number): void {
    if (this.unjournalled.get(alarmId) === localSeq) this.unjournalled.delete(alarmId);
  }

  /** Whether the alarm's newest event is in the journal (cluster node: by alarm; single node: by seq). */
  isJournalled(a: { id: string; seq: number }): boolean {
    if (this.deps.announce === 'journalled') return !this.unjournalled.has(a.id);
    return a.seq <= this.queue.committedSeq;
  }

  /** Continues after the journal's tail as loaded at start. */
  startAt(lastSeq: number, lastHash: string): void {
    this.seqValue = lastSeq;
    this.lastHash = lastHash;
    this.queue.setCommitted(lastSeq);
  }

  /** Seqs up to `seq` were announced once (in a moved-aside write-ahead log): never hand them out again. */
  reserveThrough(seq: number): void {
    if (seq > this.seqValue) this.seqValue = seq;
  }

  /** Removes the legacy spool file once everything adopted from it is committed. */
  clearSpoolWhenWritten(): void {
    this.spoolClearAt = this.seqValue;
  }

  /** Applies a command; on a journalled change commits its event (see the class comment). */
  apply(alarm: AlarmRecord, cmd: AlarmCommand, actor: Actor, comment: string | null): TransitionResult {
    const r = applyAlarmCommand(alarm, cmd);
    if (!r.ok || r.event === null) return r;
    return { ...r, alarm: this.commit(r.alarm, r.event, r.from, actor, comment).alarm };
  }

  /** Assigns the next seq to an alarm event, seals its journal row, makes it durable, queues it and announces it. */
  commit(
    alarm: AlarmRecord,
    event: AlarmEventType,
    from: AlarmState,
    actor: Actor,
    comment: string | null,
  ): { alarm: AlarmRecord; entry: JournalEntry } {
    const seq = this.seqValue + 1;
    const next: AlarmRecord = { ...alarm, seq };
    const entry = sealEntry(this.lastHash, {
      seq,
      at: this.deps.clock.now(),
      alarmId: next.id,
      siteId: next.siteId,
      event,
      fromState: from,
      toState: next.state,
      actor:
        actor.role === 'system'
          ? actor.name
          : `${actor.name}${actor.tokenId ? ` [token ${actor.tokenId}]` : ''}`,
      actorRole: actor.role,
      comment: comment === null ? null : cleanText(comment),
      snapshot: toSnapshot(next),
    });
    this.seqValue = seq;
    this.lastHash = entry.hash;
    this.deps.registry.upsert(next);
    this.recentEntries.push(entry);
    this.trimRecent();
    this.deps.metrics.alarmEvents.inc();
    if (event === 'raised' && next.state === 'unacknowledged') this.deps.onRaised(next.siteId, entry.at);
    const write: AlarmWrite = { entry, alarm: next };
    if (this.deps.announce === 'journalled') {
      this.unjournalled.set(next.id, seq);
      this.queue.enqueue(write);
      return { alarm: next, entry };
    }
    // durable before announced: the write-ahead log first, then the journal queue, then events$ (WS, call-outs,
    // feeds) with `journalled: false` until the journal row commits
    const announced: AnnouncedAlarmEvent = { ...toEventDto(entry), journalled: false };
    // The log's callback may run at once (no fsync to wait for) or at the end of the run: announce only once queued too.
    let queued = false;
    let durable: { err?: Error } | undefined;
    const announce = (err?: Error): void => {
      if (err) this.walFailed(write, err);
      else this.walRecovered(write);
      this.eventsSubject.next(announced);
    };
    this.makeDurable(write, (err) => {
      if (queued) announce(err);
      else durable = err ? { err } : {};
    });
    this.queue.enqueue(write);
    queued = true;
    if (durable) announce(durable.err);
    return { alarm: next, entry };
  }

  /**
   * Adopts locally saved events (write-ahead log, legacy spool) that continue the journal: they must overlap its tail
   * exactly (a batch in flight may have committed) or start right after it. Anything else is moved aside, loudly, and
   * nothing of it is applied. Adopted events are queued for writing, not announced again.
   */
  adopt(writes: readonly AlarmWrite[], what: string, quarantine: (why: string) => string): AdoptResult {
    const log = this.deps.log;
    const first = writes[0];
    if (!first) return 'already';
    const reject = (why: string): 'rejected' => {
      const to = quarantine(why);
      log.error(`${what} does not continue the journal; moved aside for manual recovery, nothing applied`, {
        why,
        movedTo: to,
      });
      return 'rejected';
    };
    const atTail = writes.find((w) => w.entry.seq === this.seqValue);
    const joins = atTail
      ? atTail.entry.hash === this.lastHash
      : first.entry.seq === this.seqValue + 1 && first.entry.prevHash === this.lastHash;
    if (!joins)
      return reject(
        `saved events seq ${first.entry.seq}…${writes[writes.length - 1]?.entry.seq} do not continue the journal at seq ${this.seqValue}`,
      );
    const todo = writes.filter((w) => w.entry.seq > this.seqValue);
    if (todo.length === 0) {
      log.info(`events in the ${what} were already in the journal`, { events: writes.length });
      return 'already';
    }
    let seq = this.seqValue;
    let hash = this.lastHash;
    for (const w of todo) {
      if (w.entry.seq !== seq + 1 || w.entry.prevHash !== hash || w.alarm.seq !== w.entry.seq)
        return reject(`saved event seq ${w.entry.seq} does not continue the journal at seq ${seq}`);
      seq = w.entry.seq;
      hash = w.entry.hash;
    }
    for (const w of todo) {
      this.deps.registry.upsert(w.alarm);
      this.recentEntries.push(w.entry);
      this.queue.enqueue(w);
    }
    this.seqValue = seq;
    this.lastHash = hash;
    return 'adopted';
  }

  /**
   * Waits up to `drainMs` for pending writes; what is still unwritten stays in the write-ahead log (or, without one,
   * goes to the legacy spool) for the next start. Then closes the log and completes `events$`.
   */
  async close(drainMs: number): Promise<void> {
    const { log, wal, spool } = this.deps;
    if (this.seqValue > this.queue.committedSeq) {
      const written = await this.queue.whenWritten(this.seqValue, drainMs);
      if (!written) {
        const pending = this.queue.close();
        const range = { pending: pending.length, fromSeq: pending[0]?.entry.seq, toSeq: this.seqValue };
        if (wal && this.walErrorValue === undefined) {
          log.error(
            'database unavailable at shutdown: unwritten alarm events stay in the write-ahead log; they are written at the next start',
            { ...range, file: wal.location },
          );
        } else if (spool && pending.length > 0) {
          try {
            spool.save(pending);
            log.error(
              'database unavailable at shutdown: unwritten alarm events saved; they are written at the next start',
              { ...range, file: spool.location },
            );
          } catch (err) {
            log.error(
              'database unavailable at shutdown and the alarm spool could not be written: these alarm events are lost from the journal',
              { ...range, err },
            );
          }
        } else {
          log.error(
            'shutting down with alarm events not written to the database (storage unavailable); they are lost from the journal',
            range,
          );
        }
      }
    }
    this.queue.close();
    try {
      wal?.close();
    } catch (err) {
      log.warn('closing the alarm write-ahead log failed', { err });
    }
    this.eventsSubject.complete();
  }

  /**
   * Appends the event to the write-ahead log and announces it once durable. Group commit: one fdatasync for every event
   * of the same synchronous run, then the events are announced in seq order (docs/adr/0011-journal-before-announce.md).
   * A failure is loud but never stops the announcement.
   */
  private makeDurable(w: AlarmWrite, done: (err?: Error) => void): void {
    const { wal } = this.deps;
    if (!wal) return done();
    wal.appendGrouped(w, done);
  }

  private walRecovered(w: AlarmWrite): void {
    if (this.walErrorValue === undefined || !this.deps.wal) return;
    this.walErrorValue = undefined;
    this.deps.log.warn('alarm write-ahead log appends recovered', { seq: w.entry.seq });
    this.deps.onStatusChange();
  }

  private walFailed(w: AlarmWrite, err: Error): void {
    this.deps.metrics.alarmWalErrors.inc();
    const first = this.walErrorValue === undefined;
    this.walErrorValue = err.message;
    if (!first) return;
    this.deps.log.error(
      'alarm event could not be written to the write-ahead log; announced anyway (operators must see it) but lost if the process dies before the journal commits it',
      {
        err,
        seq: w.entry.seq,
        file: this.deps.wal?.location,
      },
    );
    this.deps.onStatusChange();
  }

  private trimRecent(): void {
    const committed = this.queue.committedSeq;
    let drop = 0;
    while (
      this.recentEntries.length - drop > this.deps.recentEvents &&
      (this.recentEntries[drop]?.seq ?? Infinity) <= committed
    )
      drop++;
    if (drop > 0) this.recentEntries.splice(0, drop);
  }

  private onQueueState(s: WriteQueueState): void {
    const { wal, spool, log } = this.deps;
    this.deps.metrics.alarmPendingWrites.set(s.pending);
    if (wal && s.writtenSeq > this.walCompactedAt) {
      this.walCompactedAt = s.writtenSeq;
      try {
        wal.compact(s.writtenSeq, this.queue.pendingEntries());
      } catch (err) {
        log.warn(
          'could not compact the alarm write-ahead log (harmless: committed events are skipped at the next start)',
          { err },
        );
      }
    }
    if (this.spoolClearAt !== undefined && s.writtenSeq >= this.spoolClearAt) {
      this.spoolClearAt = undefined;
      try {
        spool?.clear();
      } catch (err) {
        log.warn(
          'could not remove the alarm spool file after writing its events (harmless: they are skipped next time)',
          { err },
        );
      }
    }
    this.trimRecent();
    this.deps.onStatusChange();
  }
}
