import type { Clock } from '../../common/clock';
import type { JsonLogger } from '../../common/logger';
import { Backoff, type Scheduler } from '../../common/timer.port';
import type { AlarmEventLog } from '../alarm-event.log';
import type { PendingSpool } from '../alarm-pending.spool';
import type { AlarmStore, AlarmWrite } from '../alarm.store';
import { isLatching, type AlarmSettings } from '../domain/alarm-settings';
import type { AlarmRecord } from '../domain/alarm.types';
import { conditionIdentity, type ConditionChange } from '../domain/condition-change';
import type { FloodTracker } from '../domain/flood.tracker';
import { isExternalCondition } from '../external-conditions';
import type { AlarmJournalWriter } from './alarm-journal.writer';
import type { AlarmRegistry } from './alarm-registry';
import type { ConditionSeed } from './alarm-service.types';

export type AlarmRecoveryDeps = {
  readonly store: AlarmStore;
  readonly registry: AlarmRegistry;
  readonly writer: AlarmJournalWriter;
  readonly settings: AlarmSettings;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly flood: FloodTracker;
  readonly log: JsonLogger;
  readonly wal?: AlarmEventLog;
  readonly spool?: PendingSpool;
  readonly seedConditions?: ConditionSeed;
  /** Stop retrying (the service is shutting down). */
  readonly closed: () => boolean;
  /** Conditions buffered meanwhile (for the log line only). */
  readonly buffered: () => number;
};

/**
 * Start-up recovery: rebuilds the alarm state from the journal (retrying while the database does not answer), then
 * continues it from the legacy spool and the write-ahead log before anything else is applied, seeds the flood
 * indicator, and hands the active alarms back to the rule engine.
 */
export class AlarmRecovery {
  constructor(private readonly deps: AlarmRecoveryDeps) {}

  /** Resolves true once the persisted state is rebuilt, false when the service closed first. */
  async recover(): Promise<boolean> {
    const { store, log } = this.deps;
    const backoff = new Backoff(500, 15_000);
    for (;;) {
      if (this.deps.closed()) return false;
      try {
        const state = await store.loadState();
        this.rebuild(state.alarms, state.lastSeq, state.lastHash);
        this.restoreSpooled();
        this.replayWal();
        break;
      } catch (err) {
        const delay = backoff.next();
        log.error(
          'cannot load alarm state from the database; conditions are buffered in order until it answers',
          {
            err,
            buffered: this.deps.buffered(),
            retryInMs: delay,
          },
        );
        await new Promise<void>((resolve) => this.deps.scheduler.after(delay, resolve));
      }
    }
    await this.seedFlood();
    return !this.deps.closed();
  }

  private rebuild(alarms: readonly AlarmRecord[], lastSeq: number, lastHash: string): void {
    const { settings } = this.deps;
    this.deps.registry.reset(
      alarms.map((a) => {
        const latching = isLatching(settings, a);
        return a.latching === latching ? a : { ...a, latching };
      }),
    );
    this.deps.writer.startAt(lastSeq, lastHash);
  }

  /**
   * Events saved at the last shutdown because the database was down (legacy spool, written only without a write-ahead
   * log): those not yet in the journal continue the chain exactly and are queued; the file goes once they are committed.
   */
  private restoreSpooled(): void {
    const { spool, log, writer } = this.deps;
    if (!spool) return;
    const writes = this.loadSaved(spool, 'alarm spool unreadable; moved aside for manual recovery');
    if (writes.length === 0) return;
    const r = writer.adopt(writes, 'alarm spool', (why) => spool.quarantine(why));
    if (r === 'already') spool.clear();
    if (r === 'adopted') {
      writer.clearSpoolWhenWritten();
      log.warn('alarm events saved at the last shutdown restored and queued for writing', {
        toSeq: writer.seq,
        file: spool.location,
      });
    }
  }

  /**
   * Replays the write-ahead log right after the journal's tail is known and before anything else (buffered
   * conditions, timers): events that were announced but not yet journalled before a crash continue the chain exactly
   * and are queued for writing, and seq continues after the highest one ever announced.
   */
  private replayWal(): void {
    const { wal, log, writer } = this.deps;
    if (!wal) return;
    const writes = this.loadSaved(
      wal,
      'alarm write-ahead log unreadable; moved aside for manual recovery (events in it may be missing from the journal)',
    );
    if (writes.length === 0) return;
    const walMax = writes[writes.length - 1]?.entry.seq ?? 0;
    const r = writer.adopt(writes, 'alarm write-ahead log', (why) => wal.quarantine(why));
    if (r === 'adopted')
      log.warn(
        'alarm events announced before the last stop but not yet journalled were restored from the write-ahead log and queued for writing',
        { toSeq: writer.seq, file: wal.location },
      );
    if (r === 'rejected' && walMax > writer.seq) {
      // Those seqs were announced: never hand them out again. The journal shows the gap (rows in the moved file).
      log.error(
        'seq continues after the moved-aside write-ahead log so no announced seq is reused; the journal will show a gap there',
        { journalSeq: writer.seq, walMaxSeq: walMax },
      );
      writer.reserveThrough(walMax);
    }
  }

  /** The events saved in a file (write-ahead log, spool); an unreadable file is moved aside, loudly, and yields none. */
  private loadSaved(
    source: { load(): AlarmWrite[]; quarantine(reason: string): string },
    unreadable: string,
  ): AlarmWrite[] {
    try {
      return source.load();
    } catch (err) {
      const to = source.quarantine(err instanceof Error ? err.message : String(err));
      this.deps.log.error(unreadable, { err, movedTo: to });
      return [];
    }
  }

  private async seedFlood(): Promise<void> {
    const now = this.deps.clock.now();
    try {
      const raises = await this.deps.store.raises({ from: now - 10 * 60_000, to: now + 1 });
      for (const r of raises) this.deps.flood.record(r.siteId, r.at);
    } catch (err) {
      this.deps.log.warn('could not seed the flood indicator from the journal; it starts empty', { err });
    }
  }

  /** The rule engine starts blank: tell it which conditions were active, so it can clear them when they end. */
  seedRules(): void {
    const { log, seedConditions } = this.deps;
    const active: ConditionChange[] = [];
    for (const a of this.deps.registry.values()) {
      // external conditions (ext:…, e.g. site_offline) belong to their producers: the rule engine would clear them
      if (!a.active || isExternalCondition(a)) continue;
      const limit = typeof a.limit === 'boolean' ? null : a.limit;
      active.push({
        ...conditionIdentity(a),
        active: true,
        priority: a.priority,
        value: a.value,
        limit,
        ts: a.raisedAt,
        message: a.message,
      });
    }
    if (!seedConditions) {
      if (active.length > 0)
        log.warn(
          'no rule engine to seed: alarms active before the restart clear only when their condition is re-raised and cleared',
          { active: active.length },
        );
      return;
    }
    try {
      seedConditions(active);
    } catch (err) {
      log.error('seeding the rule engine with active alarms failed', { err, active: active.length });
    }
  }
}
