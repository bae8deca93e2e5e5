import type { Clock } from '../common/clock';
import type { ConditionChange } from '../alarms/domain/condition-change';
import type { Scheduler } from '../common/timer.port';
import { QuietClearAlarm } from './quiet-clear.alarm';

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
 * gaps); returns to normal after `clearAfterMs` without a new drop (see QuietClearAlarm).
 */
export class BrokerLossAlarm {
  private readonly alarm: QuietClearAlarm;

  constructor(private readonly deps: BrokerLossAlarmDeps) {
    const clearAfterMs = deps.clearAfterMs ?? BROKER_LOSS_CLEAR_MS;
    const sources = new Map(deps.sites.map((s) => [s.siteId, s.sourceId]));
    this.alarm = new QuietClearAlarm(
      {
        ruleId: BROKER_LOSS_RULE_ID,
        condition: BROKER_LOSS_CONDITION,
        priority: 'critical',
        clearAfterMs,
        clearMessage: `MQTT 代理 ${Math.round(clearAfterMs / 60_000)} 分钟内未再丢弃消息`,
      },
      {
        emit: deps.emit,
        activeSites: deps.activeSites,
        sourceOf: (siteId) => sources.get(siteId) ?? siteId,
        clock: deps.clock,
        scheduler: deps.scheduler,
      },
    );
  }

  /** After a restart: an alarm left active is cleared once a quiet period passes without a new drop. */
  start(): void {
    this.alarm.resume();
  }

  /** `dropped` new drops were seen; `total` is the broker's counter. Raises for every site not already active. */
  dropped(dropped: number, total: number, detail: string): void {
    if (dropped <= 0) return;
    const active = this.deps.activeSites();
    const message = `数据丢失：MQTT 代理丢弃了 ${dropped} 条消息（累计 ${total}），这些数据未到达本系统（${detail}）`;
    for (const s of this.deps.sites) this.alarm.raise(s.siteId, dropped, message, active);
  }

  stop(): void {
    this.alarm.stop();
  }
}
