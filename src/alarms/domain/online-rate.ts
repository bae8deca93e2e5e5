/**
 * Online rate (在线率) per enterprise per day (docs/alarm-lifecycle.md, "Online rate"): the share of device-time in
 * which a site's devices were delivering data, = 1 − Σ(link-lost time of each device) / (devices × day length).
 * A device is link-lost while its `offline` (MQTT last will) or `stale` (no reading) alarm is active — from the alarm's
 * raise to its clear in the append-only journal, so the figure is computed from durable data. Overlapping offline and
 * stale periods of one device count once. Days are local calendar days (a fixed UTC offset, China Standard Time by
 * default); the first and last day may be partial (clipped to the query range). Pure.
 */
import type { AlarmEventType } from './alarm.types';

export const CST_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** One journal event of a device link alarm (offline / stale). */
export type LinkEvent = {
  readonly alarmId: string;
  readonly siteId: string;
  readonly deviceId: string;
  readonly event: AlarmEventType;
  /** Condition active after the event. */
  readonly active: boolean;
  /** Event time: the raise / clear time of the condition for `raised` / `cleared`, else the journal time. */
  readonly at: number;
};

/** A link alarm already active before the range with no event inside it (from the current alarm state). */
export type OpenLinkAlarm = {
  readonly alarmId: string;
  readonly siteId: string;
  readonly deviceId: string;
  readonly since: number;
};

export type OnlineDay = {
  siteId: string;
  /** Local calendar day, YYYY-MM-DD. */
  day: string;
  from: string;
  to: string;
  devices: number;
  onlinePercent: number;
  offlineDeviceHours: number;
};

type Interval = [number, number];

function union(intervals: Interval[]): Interval[] {
  const s = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: Interval[] = [];
  for (const iv of s) {
    const last = out[out.length - 1];
    if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
    else out.push([iv[0], iv[1]]);
  }
  return out;
}

/** Lost intervals per `siteId/deviceId`, clipped to [from, to). Events must be in journal (seq) order. */
export function lostIntervals(
  events: readonly LinkEvent[],
  open: readonly OpenLinkAlarm[],
  from: number,
  to: number,
): Map<string, Interval[]> {
  const byAlarm = new Map<string, { key: string; since: number | undefined; seen: boolean }>();
  const out = new Map<string, Interval[]>();
  const push = (key: string, a: number, b: number): void => {
    const lo = Math.max(a, from);
    const hi = Math.min(b, to);
    if (hi <= lo) return;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push([lo, hi]);
  };
  for (const o of open)
    byAlarm.set(o.alarmId, { key: `${o.siteId}/${o.deviceId}`, since: o.since, seen: false });
  for (const e of events) {
    let st = byAlarm.get(e.alarmId);
    if (!st || !st.seen) {
      // first event of this alarm in the range: was it already active at `from`?
      const before = e.event === 'raised' ? undefined : e.event === 'cleared' || e.active ? from : undefined;
      st = { key: `${e.siteId}/${e.deviceId}`, since: st?.since ?? before, seen: true };
      byAlarm.set(e.alarmId, st);
    }
    if (e.active && st.since === undefined) st.since = e.at;
    else if (!e.active && st.since !== undefined) {
      push(st.key, st.since, e.at);
      st.since = undefined;
    }
  }
  for (const st of byAlarm.values()) if (st.since !== undefined) push(st.key, st.since, to);
  for (const [k, list] of out) out.set(k, union(list));
  return out;
}

const dayName = (localMidnightUtc: number, offsetMs: number): string =>
  new Date(localMidnightUtc + offsetMs).toISOString().slice(0, 10);

/** Online rate per site per local day over [from, to). `devices`: supervised device ids per site. */
export function onlineRates(input: {
  from: number;
  to: number;
  devices: ReadonlyMap<string, readonly string[]>;
  events: readonly LinkEvent[];
  open: readonly OpenLinkAlarm[];
  offsetMs?: number;
}): OnlineDay[] {
  const { from, to } = input;
  if (!(to > from)) throw new RangeError('`to` must be after `from`');
  const offset = input.offsetMs ?? CST_OFFSET_MS;
  const lost = lostIntervals(input.events, input.open, from, to);
  const out: OnlineDay[] = [];
  const firstMidnight = Math.floor((from + offset) / DAY_MS) * DAY_MS - offset;
  for (const [siteId, ids] of [...input.devices.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (ids.length === 0) continue;
    for (let d = firstMidnight; d < to; d += DAY_MS) {
      const lo = Math.max(d, from);
      const hi = Math.min(d + DAY_MS, to);
      let lostMs = 0;
      for (const id of ids)
        for (const [a, b] of lost.get(`${siteId}/${id}`) ?? [])
          lostMs += Math.max(0, Math.min(b, hi) - Math.max(a, lo));
      const total = ids.length * (hi - lo);
      out.push({
        siteId,
        day: dayName(d, offset),
        from: new Date(lo).toISOString(),
        to: new Date(hi).toISOString(),
        devices: ids.length,
        onlinePercent: Math.round((10_000 * (total - lostMs)) / total) / 100,
        offlineDeviceHours: Math.round((100 * lostMs) / 3_600_000) / 100,
      });
    }
  }
  return out;
}
