import type { Clock } from '../common/clock';
import type { ConditionChange } from '../alarms/domain/condition-change';
import type { Scheduler, TimerHandle } from '../common/timer.port';
import { QuietClearAlarm } from './quiet-clear.alarm';

/** Rule id of the alarm raised when a site's devices' sequence numbers show messages that never arrived. */
export const DATA_GAP_RULE_ID = 'ext:data-gap';
export const DATA_GAP_CONDITION = 'data_gap';
/** A site's alarm returns to normal after this long without a new gap (it stays unacknowledged until acked). */
export const DATA_GAP_CLEAR_MS = 10 * 60_000;
/** How often the devices' gap counters are read. */
export const DATA_GAP_CHECK_MS = 5_000;
/** At most this many devices are named in one alarm message. */
const NAMED_DEVICES = 5;

/** A device's running sequence counts (ingest's DeviceTracker; never reset while the server runs). */
export type SequencedDevice = {
  readonly siteId: string;
  readonly deviceId: string;
  readonly tracker: {
    readonly seqGaps: number;
    readonly seqMissing: number;
    readonly seqMissingAfterSilence: number;
  };
};

export type DataGapAlarmDeps = {
  readonly emit: (c: ConditionChange) => void;
  readonly activeSites: () => ReadonlySet<string>;
  /** Every configured device, with its counters (read at each check; the hot path only increments numbers). */
  readonly devices: () => Iterable<SequencedDevice>;
  readonly sourceOf: (siteId: string) => string;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly clearAfterMs?: number;
  readonly checkMs?: number;
};

/**
 * The "data gap" (数据缺失) alarm: loss anywhere upstream of hazwatch made visible per site. Devices number their
 * messages (`seq`, docs/ingest-time-and-sequence.md); ingest counts the messages missing in forward jumps. Every
 * `checkMs` this reads the counters, and a site whose devices lost messages since the last check gets a high-priority
 * alarm naming the devices and counts — for example after a broker crash lost what it had acknowledged since its last
 * save, which no broker counter reports. Returns to normal after `clearAfterMs` without a new gap (QuietClearAlarm).
 * High, not critical: the readings that did arrive are evaluated; what is missing is history the rules never saw.
 */
export class DataGapAlarm {
  private readonly alarm: QuietClearAlarm;
  private readonly checkMs: number;
  /** Missing count per device (`site/device`) at the last check. */
  private readonly seen = new Map<string, number>();
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly deps: DataGapAlarmDeps) {
    const clearAfterMs = deps.clearAfterMs ?? DATA_GAP_CLEAR_MS;
    this.checkMs = deps.checkMs ?? DATA_GAP_CHECK_MS;
    this.alarm = new QuietClearAlarm(
      {
        ruleId: DATA_GAP_RULE_ID,
        condition: DATA_GAP_CONDITION,
        priority: 'high',
        clearAfterMs,
        clearMessage: `数据缺失已 ${Math.round(clearAfterMs / 60_000)} 分钟未再出现（设备报文序号连续）`,
      },
      deps,
    );
  }

  /** Starts the periodic check; an alarm left active by a previous run clears after a quiet period. */
  start(): void {
    this.stopped = false;
    this.alarm.resume();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.alarm.stop();
  }

  /** Reads every device's counters once and raises for the sites with new gaps. Public for tests. */
  check(): void {
    const bySite = new Map<string, { missing: number; devices: Array<[string, number]> }>();
    for (const d of this.deps.devices()) {
      // gaps that followed a silence are already annunciated as stale/offline (the link alarms): not again here
      const missing = d.tracker.seqMissing - d.tracker.seqMissingAfterSilence;
      if (missing === 0) continue;
      const key = `${d.siteId}/${d.deviceId}`;
      const before = this.seen.get(key) ?? 0;
      if (missing === before) continue;
      this.seen.set(key, missing);
      const grew = missing - before;
      let site = bySite.get(d.siteId);
      if (!site) bySite.set(d.siteId, (site = { missing: 0, devices: [] }));
      site.missing += grew;
      site.devices.push([d.deviceId, grew]);
    }
    if (bySite.size === 0) return;
    const active = this.deps.activeSites();
    for (const [siteId, s] of bySite) {
      s.devices.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      const named = s.devices.slice(0, NAMED_DEVICES).map(([id, n]) => `${id} 缺 ${n}`);
      const more = s.devices.length > NAMED_DEVICES ? ` 等 ${s.devices.length} 台设备` : '';
      this.alarm.raise(
        siteId,
        s.missing,
        `数据缺失：设备报文序号跳号，${s.missing} 条报文未到达本系统（${named.join('，')}${more}），可能在设备、网络或 MQTT 代理处丢失`,
        active,
      );
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.scheduler.after(this.checkMs, () => {
      this.timer = undefined;
      this.check();
      this.schedule();
    });
  }
}
