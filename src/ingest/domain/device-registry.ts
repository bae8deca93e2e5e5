import type { ChannelValue, DeviceState, Quality, Reading } from '../../common/types';
import {
  DEFAULT_CLOCK_SETTINGS,
  DeviceTracker,
  newLinkTotals,
  type ClockSettings,
  type LinkTotals,
} from './device-tracker';

export type LatestValue = { value: ChannelValue; ts: number; quality: Quality };

export type DeviceStatus = {
  readonly siteId: string;
  readonly deviceId: string;
  state: DeviceState | 'unknown';
  stateChangedAt: number | null;
  /** Arrival time of the last message (telemetry or state), epoch ms. */
  lastSeen: number | null;
  readonly values: Map<string, LatestValue>;
  /** Clock health and sequence gaps of the device's messages (docs/ingest-time-and-sequence.md). */
  readonly tracker: DeviceTracker;
};

export type StateChange = {
  siteId: string;
  deviceId: string;
  state: DeviceState;
  ts: number;
  previous: DeviceState | 'unknown';
};

/**
 * Latest value and online state per configured device, updated in place on the hot path (no per-reading allocation once a
 * channel has been seen). Keys are `${siteId}/${deviceId}`.
 */
export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceStatus>();

  constructor(
    keys: Iterable<string>,
    clock: ClockSettings = DEFAULT_CLOCK_SETTINGS,
    /** Fleet-wide clock and sequence counts (the metrics read them). */
    readonly totals: LinkTotals = newLinkTotals(),
    /** Per device key: the arrival silence after which a seq gap is already annunciated as stale/offline (ms). */
    silentGapMs: (key: string) => number = () => Number.POSITIVE_INFINITY,
  ) {
    for (const key of keys) {
      const [siteId = '', deviceId = ''] = key.split('/');
      const tracker = new DeviceTracker(siteId, deviceId, clock, totals, silentGapMs(key));
      this.devices.set(key, {
        siteId,
        deviceId,
        state: 'unknown',
        stateChangedAt: null,
        lastSeen: null,
        values: new Map(),
        tracker,
      });
    }
  }

  get(key: string): DeviceStatus | undefined {
    return this.devices.get(key);
  }

  all(): IterableIterator<DeviceStatus> {
    return this.devices.values();
  }

  /**
   * Applies readings to a device's status (from `get`; ingest holds it per topic): a reading older than the held value
   * (late data) does not overwrite it. Returns the device's online state, so the caller needs no second lookup.
   */
  static applyReadings(
    d: DeviceStatus,
    readings: readonly Reading[],
    receivedAt: number,
  ): DeviceState | 'unknown' {
    d.lastSeen = receivedAt;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const held = d.values.get(r.channel);
      if (!held) d.values.set(r.channel, { value: r.value, ts: r.ts, quality: r.quality });
      else if (r.ts >= held.ts) {
        held.value = r.value;
        held.ts = r.ts;
        held.quality = r.quality;
      }
    }
    return d.state;
  }

  /** Records an online/offline report; returns the change, or null when the state did not change. */
  applyState(key: string, state: DeviceState, ts: number): StateChange | null {
    const d = this.devices.get(key);
    if (!d) return null;
    d.lastSeen = ts;
    if (d.state === state) return null;
    const previous = d.state;
    d.state = state;
    d.stateChangedAt = ts;
    return { siteId: d.siteId, deviceId: d.deviceId, state, ts, previous };
  }

  /** Restores persisted state at start-up (values come back with the next message). */
  restore(key: string, state: DeviceState, stateChangedAt: number, lastSeen: number | null): void {
    const d = this.devices.get(key);
    if (!d) return;
    d.state = state;
    d.stateChangedAt = stateChangedAt;
    d.lastSeen = lastSeen;
  }
}
