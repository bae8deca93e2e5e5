/**
 * The demo drill (演练, docs/adr/0024-demo-drill.md) as the console sees it: the schedule the server put into the page
 * (`<meta name="hazwatch-drill">`, demo mode with the simulated plant only). The banner announces a running drill and
 * the next one; alarms raised during a drill (or within a minute after it, while the plant settles) carry the drill
 * tag on every view. An alarm the server marks `drill: true`, or whose message says 演练 / drill, is one too.
 */
import {
  drillAt,
  nextDrillMs,
  type DrillNow,
  type DrillSchedule,
} from '../../src/common/domain/drill-schedule';
import { toMs, type Alarm } from './model';

/** Alarms raised up to this long after a drill ended still belong to it (valves closing late, levels falling). */
export const DRILL_GRACE_MS = 60_000;

export function readDrillSchedule(doc: Document = document): DrillSchedule | null {
  const raw = doc.querySelector<HTMLMetaElement>('meta[name="hazwatch-drill"]')?.content;
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as DrillSchedule;
    return Number.isFinite(s.anchorMs) && Number.isFinite(s.firstMs) && Array.isArray(s.phases) ? s : null;
  } catch {
    return null;
  }
}

export const DRILL: DrillSchedule | null = typeof document === 'undefined' ? null : readDrillSchedule();

export function isDrillAlarm(a: Alarm, s: DrillSchedule | null = DRILL): boolean {
  if (a.drill === true || /演练|drill/i.test(a.message ?? '')) return true;
  if (!s) return false;
  const t = toMs(a.raisedAt);
  return Number.isFinite(t) && (drillAt(s, t) !== null || drillAt(s, t - DRILL_GRACE_MS) !== null);
}

export const drillNow = (now = Date.now(), s: DrillSchedule | null = DRILL): DrillNow | null =>
  s ? drillAt(s, now) : null;
export const nextDrill = (now = Date.now(), s: DrillSchedule | null = DRILL): number | null =>
  s ? nextDrillMs(s, now) : null;
