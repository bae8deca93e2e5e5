import type { Clock } from '../common/clock';
import type { ConditionChange } from '../alarms/domain/condition-change';
import type { Scheduler, TimerHandle } from '../common/timer.port';

/** Rule id of the critical alarm raised when the MQTT broker reports dropped messages. */
export const BROKER_LOSS_RULE_ID = 'ext:broker-loss';
export const BROKER_LOSS_CONDITION = 'broker_data_loss';
/** The alarm returns to normal once the drop counter has not moved for this long (it stays unacknowledged until acked). */
export const BROKER_LOSS_CLEAR_MS = 10 * 60_000;

/** A site the alarm is raised for, and the hazard source its alarm is filed under. */
export type LossAlarmSite = { readonly siteId: string; readonly sourceId: string };

export type BrokerLossAlarmDeps = {
  readonly emit: (c: ConditionChange) => void;
  /** Sites whose broker-loss alarm is active now (from the alarm service: survives restarts). */
  readonly activeSites: () => ReadonlySet<string>;
  /** The sites whose telemetry passes through the broker: all of them. */
  readonly sites: readonly LossAlarmSite[];
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly clearAfterMs?: number;
};

/**
 * The "data loss at the broker" (数据丢失) alarm: critical, raised for every site when the broker's drop counter
 * increases (which site's messages were dropped is not known, so every site's operators learn their history may have
 * gaps); returns to normal after `clearAfterMs` without a new drop. An external condition (src/alarms/external-conditions.ts):
 * it owns its state, and after a restart clears what it finds active once the quiet period has passed.
 */
export class BrokerLossAlarm {
  private clearTimer: TimerHandle | undefined;
  private readonly clearAfterMs: number;

  constructor(private readonly deps: BrokerLossAlarmDeps) {
    this.clearAfterMs = deps.clearAfterMs ?? BROKER_LOSS_CLEAR_MS;
  }

  /** After a restart: an alarm left active is cleared once a quiet period passes without a new drop. */
  start(): void {
    if (this.deps.activeSites().size > 0) this.armClear();
  }

  /** `dropped` new drops were seen; `total` is the broker's counter. Raises for every site not already active. */
  dropped(dropped: number, total: number, detail: string): void {
    if (dropped <= 0) return;
    const active = this.deps.activeSites();
    const now = this.deps.clock.now();
    for (const s of this.deps.sites) {
      if (active.has(s.siteId)) continue;
      this.deps.emit({
        ruleId: BROKER_LOSS_RULE_ID,
        sourceId: s.sourceId,
        siteId: s.siteId,
        condition: BROKER_LOSS_CONDITION,
        active: true,
        priority: 'critical',
        value: dropped,
        limit: 0,
        ts: now,
        message: `数据丢失：MQTT 代理丢弃了 ${dropped} 条消息（累计 ${total}），这些数据未到达本系统（${detail}）`,
      });
    }
    this.armClear();
  }

  stop(): void {
    this.clearTimer?.cancel();
    this.clearTimer = undefined;
  }

  private armClear(): void {
    this.clearTimer?.cancel();
    this.clearTimer = this.deps.scheduler.after(this.clearAfterMs, () => {
      this.clearTimer = undefined;
      this.clear();
    });
  }

  private clear(): void {
    const active = this.deps.activeSites();
    const now = this.deps.clock.now();
    for (const s of this.deps.sites) {
      if (!active.has(s.siteId)) continue;
      this.deps.emit({
        ruleId: BROKER_LOSS_RULE_ID,
        sourceId: s.sourceId,
        siteId: s.siteId,
        condition: BROKER_LOSS_CONDITION,
        active: false,
        priority: 'critical',
        value: 0,
        limit: 0,
        ts: now,
        message: `MQTT 代理 ${Math.round(this.clearAfterMs / 60_000)} 分钟内未再丢弃消息`,
      });
    }
  }
}
