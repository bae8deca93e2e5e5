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

/** A drill declared by a supervisor for one site (GET /api/drills, docs/adr/0028-declared-drills.md). */
export type DeclaredDrill = {
  id: string;
  siteId: string;
  scenario: string;
  startedAt: string;
  startedBy: string;
  endedAt: string | null;
  endedBy: string | null;
  running: boolean;
};

/** The declared drills the console knows (refreshed by runtime.loadDrills). */
export const declared: { list: DeclaredDrill[] } = { list: [] };

/** The declared drill of the alarm's site whose recorded window holds the alarm's raise time, if any. */
export function declaredDrillOf(
  a: Alarm,
  list: readonly DeclaredDrill[] = declared.list,
): DeclaredDrill | null {
  const t = toMs(a.raisedAt);
  if (!Number.isFinite(t)) return null;
  for (const d of list)
    if (d.siteId === a.siteId && toMs(d.startedAt) <= t && (d.endedAt === null || t <= toMs(d.endedAt)))
      return d;
  return null;
}

export function isDrillAlarm(
  a: Alarm,
  s: DrillSchedule | null = DRILL,
  list: readonly DeclaredDrill[] = declared.list,
): boolean {
  if (a.drill === true || /演练|drill/i.test(a.message ?? '')) return true;
  if (declaredDrillOf(a, list)) return true;
  if (!s) return false;
  const t = toMs(a.raisedAt);
  return Number.isFinite(t) && (drillAt(s, t) !== null || drillAt(s, t - DRILL_GRACE_MS) !== null);
}

export const drillNow = (now = Date.now(), s: DrillSchedule | null = DRILL): DrillNow | null =>
  s ? drillAt(s, now) : null;
export const nextDrill = (now = Date.now(), s: DrillSchedule | null = DRILL): number | null =>
  s ? nextDrillMs(s, now) : null;
