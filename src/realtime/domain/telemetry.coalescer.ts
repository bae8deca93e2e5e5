/**
 * Per-client telemetry rate limit: at most one frame per device per `intervalMs` (default 250 ms → ≤ 4 frames/s).
 *
 * Readings of a device are merged into one pending frame (latest value per channel wins, `ts` = newest event time).
 * The first reading after a quiet period is flushed on the next scheduler turn (delay 0), so all channels of one MQTT
 * message, which ingest emits synchronously, go out in one frame; later readings wait for the interval to elapse.
 * Work per reading is O(1) and never blocks the caller (ingest): sending happens in the scheduled flush.
 * Time comes from the injected RxJS scheduler (TestScheduler in tests).
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { ChannelValue } from '../../common/types';
import type { TelemetryDto } from './client-events';

export type ReadingLike = {
  readonly siteId: string;
  readonly deviceId: string;
  readonly channel: string;
  readonly ts: number;
  readonly value: ChannelValue;
};

type Pending = {
  siteId: string;
  deviceId: string;
  ts: number;
  values: Record<string, ChannelValue> | null;
  lastSentAt: number;
  timer: Subscription | null;
};

export class TelemetryCoalescer {
  private readonly devices = new Map<string, Pending>();
  /** Frames withheld because a newer value replaced them within the interval (for metrics/tests). */
  coalesced = 0;

  constructor(
    private readonly emit: (frame: TelemetryDto) => void,
    private readonly scheduler: SchedulerLike,
    private readonly intervalMs = 250,
  ) {}

  offer(r: ReadingLike): void {
    const key = `${r.siteId}/${r.deviceId}`;
    let p = this.devices.get(key);
    if (p === undefined) {
      p = {
        siteId: r.siteId,
        deviceId: r.deviceId,
        ts: r.ts,
        values: null,
        lastSentAt: -Infinity,
        timer: null,
      };
      this.devices.set(key, p);
    }
    if (p.values === null) {
      p.values = {};
      p.ts = r.ts;
    } else if (p.values[r.channel] !== undefined) {
      this.coalesced++;
    }
    p.values[r.channel] = r.value;
    if (r.ts > p.ts) p.ts = r.ts;
    if (p.timer === null) {
      const delay = Math.max(0, p.lastSentAt + this.intervalMs - this.scheduler.now());
      const pending = p;
      p.timer = this.scheduler.schedule(() => this.flush(pending), delay);
    }
  }

  /** Stops tracking a device (unsubscribed): its pending frame is discarded with the subscription. */
  forget(siteId: string, deviceId: string): void {
    const key = `${siteId}/${deviceId}`;
    const p = this.devices.get(key);
    if (p === undefined) return;
    p.timer?.unsubscribe();
    this.devices.delete(key);
  }

  /** Cancels every timer (client gone). */
  dispose(): void {
    for (const p of this.devices.values()) p.timer?.unsubscribe();
    this.devices.clear();
  }

  get pendingDevices(): number {
    let n = 0;
    for (const p of this.devices.values()) if (p.values !== null) n++;
    return n;
  }

  private flush(p: Pending): void {
    p.timer = null;
    const values = p.values;
    if (values === null) return;
    p.values = null;
    p.lastSentAt = this.scheduler.now();
    this.emit({ siteId: p.siteId, deviceId: p.deviceId, ts: p.ts, values });
  }
}
