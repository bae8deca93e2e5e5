import type { Clock } from '../common/clock';
import type { Priority } from '../common/types';
import type { ConditionChange } from '../alarms/domain/condition-change';
import type { Scheduler, TimerHandle } from '../common/timer.port';

/** What one kind of loss alarm raises: its rule id, condition, priority, and when it returns to normal. */
export type QuietClearSpec = {
  readonly ruleId: string;
  readonly condition: string;
  readonly priority: Priority;
  /** The alarm of a site returns to normal once it has not been raised again for this long. */
  readonly clearAfterMs: number;
  /** The message of the return to normal. */
  readonly clearMessage: string;
};

export type QuietClearDeps = {
  readonly emit: (c: ConditionChange) => void;
  /** Sites whose alarm of this rule is active now (from the alarm service: survives restarts). */
  readonly activeSites: () => ReadonlySet<string>;
  /** The hazard source a site's alarm is filed under. */
  readonly sourceOf: (siteId: string) => string;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
};

/**
 * A site alarm for evidence of loss that cannot be "measured back to normal" (a broker drop counter moved, a device's
 * sequence numbers jumped): raised when the evidence appears, held while more keeps appearing, and returned to normal
 * after a quiet period without new evidence. It stays unacknowledged until an operator acknowledges it (ISA-18.2), so a
 * gap that cleared by itself is still seen. An external condition (src/alarms/external-conditions.ts): it owns its
 * state, and after a restart clears what it finds active once the quiet period has passed (`resume`).
 */
export class QuietClearAlarm {
  private readonly timers = new Map<string, TimerHandle>();

  constructor(
    readonly spec: QuietClearSpec,
    private readonly deps: QuietClearDeps,
  ) {}

  /** After a restart: every alarm left active is cleared once a quiet period passes without new evidence. */
  resume(): void {
    for (const siteId of this.deps.activeSites()) this.armClear(siteId);
  }

  /**
   * New evidence of loss for `siteId`: raises the alarm unless it is active already, and restarts its quiet period.
   * Returns whether an alarm was raised.
   */
  raise(siteId: string, value: number, message: string, active = this.deps.activeSites()): boolean {
    const raised = !active.has(siteId);
    if (raised) this.emit(siteId, true, value, message);
    this.armClear(siteId);
    return raised;
  }

  stop(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  private armClear(siteId: string): void {
    this.timers.get(siteId)?.cancel();
    this.timers.set(
      siteId,
      this.deps.scheduler.after(this.spec.clearAfterMs, () => {
        this.timers.delete(siteId);
        if (this.deps.activeSites().has(siteId)) this.emit(siteId, false, 0, this.spec.clearMessage);
      }),
    );
  }

  private emit(siteId: string, active: boolean, value: number, message: string): void {
    this.deps.emit({
      ruleId: this.spec.ruleId,
      sourceId: this.deps.sourceOf(siteId),
      siteId,
      condition: this.spec.condition,
      active,
      priority: this.spec.priority,
      value,
      limit: 0,
      ts: this.deps.clock.now(),
      message,
    });
  }
}
