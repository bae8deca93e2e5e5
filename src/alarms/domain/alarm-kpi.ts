/**
 * Alarm-management KPIs (ISA-18.2 / EEMUA 191 public summaries, docs/domain.md §5). Pure: raises from the journal and the
 * current alarms go in, figures come out.
 *
 * - Rates use fixed 10-minute intervals aligned to `from` (the last one may be shorter).
 * - Per site first: each site is one operator position, the only level the EEMUA per-operator targets apply to; the
 *   all-sites figures are returned as `aggregate`, labelled as such and never compared with those targets.
 * - Flood: an interval with more than 10 raises starts a flood, which lasts through the following intervals until one
 *   has fewer than 5. Computed per site (one control room per enterprise); the overall figure is the share of intervals
 *   in which at least one visible site was flooding.
 * - Chattering: ≥ 3 activations of one alarm within any 60 s.
 * - Stale: active for more than 24 h at the reference time (from the current state).
 */
import type { Priority } from '../../common/types';
import type { AlarmRecord } from './alarm.types';

export const KPI_INTERVAL_MS = 10 * 60_000;
export const CHATTER_WINDOW_MS = 60_000;
export const CHATTER_MIN_ACTIVATIONS = 3;
export const STALE_AFTER_MS = 24 * 3_600_000;
/** EEMUA 191: about one alarm per 10 minutes per operator position (one site's control room here). */
export const OPERATOR_TARGET_AVERAGE_PER_10_MIN = 1;
export const PRIORITY_TARGET_PERCENT: Readonly<Record<Priority, number>> = {
  low: 80,
  medium: 15,
  high: 5,
  critical: 1,
};

export type KpiRaise = {
  readonly alarmId: string;
  readonly siteId: string;
  readonly sourceId: string;
  readonly ruleId: string;
  readonly deviceId?: string;
  readonly condition: string;
  readonly priority: Priority;
  readonly at: number;
};

export type AlarmRef = {
  alarmId: string;
  siteId: string;
  sourceId: string;
  ruleId: string;
  deviceId?: string;
  condition: string;
};

/**
 * Per site: the primary figures. One enterprise control room = one operator position, so the EEMUA 191 per-operator
 * targets (`targets`) apply here and only here.
 */
export type SiteKpi = {
  siteId: string;
  alarms: number;
  averagePer10Min: number;
  peakPer10Min: number;
  percentTimeInFlood: number;
  floods: number;
  /** averagePer10Min ≤ targets.averagePer10Min (the per-operator-position target). */
  averageWithinTarget: boolean;
};

/** All visible sites together: an aggregate for the regulator's overview, never compared with a per-operator target. */
export type AggregateKpi = {
  label: string;
  sites: number;
  alarms: number;
  averagePer10Min: number;
  peakPer10Min: number;
  percentTimeInFlood: number;
  comparableToOperatorTarget: false;
};

export type AlarmKpis = {
  from: string;
  to: string;
  intervals: number;
  /** Primary figures, one per site (operator position). */
  bySite: SiteKpi[];
  /** The all-sites figures, labelled as an aggregate (the flat fields below repeat them for existing clients). */
  aggregate: AggregateKpi;
  /** What `targets` apply to. */
  targetsApplyTo: string;
  totalAlarms: number;
  averagePer10Min: number;
  peakPer10Min: number;
  peakIntervalStart: string | null;
  percentTimeInFlood: number;
  top10: Array<AlarmRef & { count: number; percentOfLoad: number }>;
  top10PercentOfLoad: number;
  chattering: Array<AlarmRef & { maxActivationsIn60s: number }>;
  stale: Array<AlarmRef & { activeSince: string; hoursActive: number }>;
  priorityDistribution: {
    counts: Record<Priority, number>;
    percent: Record<Priority, number>;
    targetPercent: Record<Priority, number>;
  };
  standing: number;
  shelved: number;
  targets: {
    averagePer10Min: number;
    maxPer10Min: number;
    percentTimeInFlood: number;
    chattering: number;
    staleAlarms: number;
  };
};

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const ref = (r: KpiRaise | AlarmRecord, alarmId: string): AlarmRef => ({
  alarmId,
  siteId: r.siteId,
  sourceId: r.sourceId,
  ruleId: r.ruleId,
  ...(r.deviceId !== undefined ? { deviceId: r.deviceId } : {}),
  condition: r.condition,
});

/** Raise counts per fixed interval. */
export function intervalCounts(
  raises: readonly { at: number }[],
  from: number,
  to: number,
  intervalMs = KPI_INTERVAL_MS,
): number[] {
  const n = Math.max(1, Math.ceil((to - from) / intervalMs));
  const counts = new Array<number>(n).fill(0);
  for (const r of raises) {
    if (r.at < from || r.at >= to) continue;
    const i = Math.floor((r.at - from) / intervalMs);
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

/** Flood flag per interval with hysteresis: start above 10, end below 5. */
export function floodIntervals(counts: readonly number[], startAbove = 10, endBelow = 5): boolean[] {
  let flooding = false;
  return counts.map((c) => {
    if (!flooding && c > startAbove) flooding = true;
    else if (flooding && c < endBelow) flooding = false;
    return flooding;
  });
}

/** Largest number of activations within any window of `windowMs` (times need not be sorted). */
export function maxInWindow(times: readonly number[], windowMs = CHATTER_WINDOW_MS): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while ((t[hi] ?? 0) - (t[lo] ?? 0) >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

export function computeAlarmKpis(input: {
  from: number;
  to: number;
  /** Raises (journal `raised` events) of alarms the caller may see. */
  raises: readonly KpiRaise[];
  /** Current alarms the caller may see. */
  current: readonly AlarmRecord[];
  /** Reference time for stale alarms (normally now). */
  now: number;
}): AlarmKpis {
  const { from, to, now } = input;
  if (!(to > from)) throw new RangeError('`to` must be after `from`');
  const raises = input.raises.filter((r) => r.at >= from && r.at < to);
  const windowIntervals = (to - from) / KPI_INTERVAL_MS;
  const counts = intervalCounts(raises, from, to);

  // peak
  let peak = 0;
  let peakIdx = -1;
  counts.forEach((c, i) => {
    if (c > peak) {
      peak = c;
      peakIdx = i;
    }
  });

  // per site, floods
  const bySiteRaises = new Map<string, KpiRaise[]>();
  for (const r of raises) {
    const list = bySiteRaises.get(r.siteId) ?? [];
    list.push(r);
    bySiteRaises.set(r.siteId, list);
  }
  const anyFlood = new Array<boolean>(counts.length).fill(false);
  const bySite: SiteKpi[] = [...bySiteRaises.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([siteId, list]) => {
      const c = intervalCounts(list, from, to);
      const flood = floodIntervals(c);
      flood.forEach((f, i) => {
        if (f) anyFlood[i] = true;
      });
      let floods = 0;
      flood.forEach((f, i) => {
        if (f && (i === 0 || !flood[i - 1])) floods++;
      });
      return {
        siteId,
        alarms: list.length,
        averagePer10Min: round(list.length / windowIntervals),
        peakPer10Min: c.reduce((m, x) => Math.max(m, x), 0),
        percentTimeInFlood: round((100 * flood.filter(Boolean).length) / c.length),
        floods,
        averageWithinTarget: round(list.length / windowIntervals) <= OPERATOR_TARGET_AVERAGE_PER_10_MIN,
      };
    });

  // per alarm: top 10 and chattering
  const byAlarm = new Map<string, { first: KpiRaise; times: number[] }>();
  for (const r of raises) {
    const e = byAlarm.get(r.alarmId);
    if (e) e.times.push(r.at);
    else byAlarm.set(r.alarmId, { first: r, times: [r.at] });
  }
  const ranked = [...byAlarm.entries()].sort(
    ([ia, a], [ib, b]) => b.times.length - a.times.length || ia.localeCompare(ib),
  );
  const top10 = ranked.slice(0, 10).map(([id, e]) => ({
    ...ref(e.first, id),
    count: e.times.length,
    percentOfLoad: round((100 * e.times.length) / raises.length),
  }));
  const chattering = ranked
    .map(([id, e]) => ({ ...ref(e.first, id), maxActivationsIn60s: maxInWindow(e.times) }))
    .filter((c) => c.maxActivationsIn60s >= CHATTER_MIN_ACTIVATIONS)
    .sort((a, b) => b.maxActivationsIn60s - a.maxActivationsIn60s || a.alarmId.localeCompare(b.alarmId));

  // priority distribution
  const pc: Record<Priority, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const r of raises) pc[r.priority] += 1;
  const pct = (n: number): number => (raises.length === 0 ? 0 : round((100 * n) / raises.length));

  // current state
  const stale = input.current
    .filter((a) => a.active && now - a.raisedAt > STALE_AFTER_MS)
    .sort((a, b) => a.raisedAt - b.raisedAt)
    .map((a) => ({
      ...ref(a, a.id),
      activeSince: new Date(a.raisedAt).toISOString(),
      hoursActive: round((now - a.raisedAt) / 3_600_000, 1),
    }));

  const averagePer10Min = round(raises.length / windowIntervals);
  const percentTimeInFlood = round((100 * anyFlood.filter(Boolean).length) / counts.length);
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    intervals: counts.length,
    bySite,
    aggregate: {
      label: `aggregate of ${bySite.length} site(s): not an operator load`,
      sites: bySite.length,
      alarms: raises.length,
      averagePer10Min,
      peakPer10Min: peak,
      percentTimeInFlood,
      comparableToOperatorTarget: false,
    },
    targetsApplyTo: 'each site (one operator position per enterprise control room); never the aggregate',
    totalAlarms: raises.length,
    averagePer10Min,
    peakPer10Min: peak,
    peakIntervalStart: peakIdx >= 0 ? new Date(from + peakIdx * KPI_INTERVAL_MS).toISOString() : null,
    percentTimeInFlood,
    top10,
    top10PercentOfLoad:
      raises.length === 0 ? 0 : round(top10.reduce((s, t) => s + (100 * t.count) / raises.length, 0)),
    chattering,
    stale,
    priorityDistribution: {
      counts: pc,
      percent: { critical: pct(pc.critical), high: pct(pc.high), medium: pct(pc.medium), low: pct(pc.low) },
      targetPercent: { ...PRIORITY_TARGET_PERCENT },
    },
    standing: input.current.filter((a) => a.active).length,
    shelved: input.current.filter((a) => a.state === 'shelved').length,
    targets: {
      averagePer10Min: OPERATOR_TARGET_AVERAGE_PER_10_MIN,
      maxPer10Min: 2,
      percentTimeInFlood: 1,
      chattering: 0,
      staleAlarms: 5,
    },
  };
}
