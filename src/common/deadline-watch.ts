/**
 * One overdue watch over the Scheduler port (src/common/timer.port.ts), shared by every deadline hazwatch keeps for
 * people — disposal records, duty-check feedback, findings (docs/regulator-workflows.md, docs/findings.md):
 *
 *   every `everyMs`: due(now) → for each item claim(item) (record the escalation once) → emit(item, active) → re-arm
 *
 * and, at start, `reconcile`: obligations still overdue hold their alarm, alarms of obligations met meanwhile clear.
 * A failed pass is logged and retried at the next one; a failed claim skips only that item (retried next pass), so an
 * escalation is late at worst, never lost.
 */
import type { Clock } from './clock';
import type { JsonLogger } from './logger';
import type { Scheduler, TimerHandle } from './timer.port';

export type DeadlineWatchOptions<T> = {
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly log: JsonLogger;
  /** Interval between passes, ms. */
  readonly everyMs: number;
  /** What is watched, for log lines ("disposal record", "finding"). */
  readonly what: string;
  /** Items past their deadline whose escalation is not yet recorded. */
  readonly due: (now: number) => Promise<readonly T[]>;
  /** Records the escalation (compare-and-set): false when already recorded, by an earlier pass or another node. */
  readonly claim: (item: T, now: number) => Promise<boolean>;
  /** Raises (active) or clears the item's alarm. */
  readonly emit: (item: T, active: boolean, now: number) => void;
  /** Fields naming the item in the log line of its escalation. */
  readonly describe: (item: T) => Record<string, unknown>;
  /** After each pass (e.g. a gauge of what is overdue). */
  readonly afterPass?: () => Promise<void>;
};

/** An alarm as `reconcile` sees it (AlarmService records). */
export type WatchedAlarm = {
  readonly active: boolean;
  readonly ruleId: string;
  readonly siteId: string;
  readonly sourceId: string;
};

export class DeadlineWatch<T> {
  private timer: TimerHandle | undefined;
  private stopped = true;

  constructor(private readonly o: DeadlineWatchOptions<T>) {}

  start(): void {
    this.stopped = false;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One pass; returns how many items were due. Also called directly by tests and after a change. */
  async check(): Promise<number> {
    let due: readonly T[];
    const now = this.o.clock.now();
    try {
      due = await this.o.due(now);
    } catch (err) {
      this.o.log.error(`overdue ${this.o.what} check failed; retried at the next check`, { err });
      return 0;
    }
    for (const item of due) {
      try {
        if (!(await this.o.claim(item, now))) continue;
      } catch (err) {
        this.o.log.error(`could not record an overdue ${this.o.what}; retried at the next check`, {
          ...this.o.describe(item),
          err,
        });
        continue;
      }
      this.o.log.warn(`${this.o.what} overdue: escalated`, this.o.describe(item));
      this.o.emit(item, true, now);
    }
    try {
      await this.o.afterPass?.();
    } catch (err) {
      this.o.log.warn(`after the overdue ${this.o.what} check`, { err });
    }
    return due.length;
  }

  /**
   * After a restart: every item still overdue raises its alarm again (idempotent), and every active alarm under
   * `rulePrefix` whose key is not among them clears (`clearStale` builds and emits the clearing).
   */
  reconcile(r: {
    readonly overdue: readonly T[];
    readonly keyOf: (item: T) => string;
    readonly rulePrefix: string;
    readonly alarms: Iterable<WatchedAlarm>;
    readonly clearStale: (key: string, alarm: WatchedAlarm, now: number) => void;
  }): void {
    const now = this.o.clock.now();
    const keep = new Set(r.overdue.map(r.keyOf));
    for (const item of r.overdue) this.o.emit(item, true, now);
    for (const a of r.alarms) {
      if (!a.active || !a.ruleId.startsWith(r.rulePrefix)) continue;
      const key = a.ruleId.slice(r.rulePrefix.length);
      if (!keep.has(key)) r.clearStale(key, a, now);
    }
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.o.scheduler.after(this.o.everyMs, () => {
      void this.check().finally(() => this.arm());
    });
  }
}
