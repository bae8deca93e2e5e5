import type { Priority } from '../../common/types';
import type { HazwatchMetrics } from '../../metrics/metrics.registry';
import type { AlarmRecord } from '../domain/alarm.types';

/**
 * The current record of every alarm, in memory, indexed by id and by site, with the active-alarm gauge per priority.
 * Written only by the journal writer (every change) and by recovery (the state loaded at start).
 */
export class AlarmRegistry {
  private readonly alarms = new Map<string, AlarmRecord>();
  private readonly bySite = new Map<string, Set<string>>();
  private readonly activeByPriority: Record<Priority, number> = { critical: 0, high: 0, medium: 0, low: 0 };

  constructor(private readonly metrics: HazwatchMetrics) {}

  get(id: string): AlarmRecord | undefined {
    return this.alarms.get(id);
  }

  values(): IterableIterator<AlarmRecord> {
    return this.alarms.values();
  }

  get size(): number {
    return this.alarms.size;
  }

  siteIds(): IterableIterator<string> {
    return this.bySite.keys();
  }

  /** A copy of the ids of the site's alarms (safe to iterate while alarms change). */
  idsOfSite(siteId: string): string[] {
    return [...(this.bySite.get(siteId) ?? [])];
  }

  siteAlarms(siteId: string): AlarmRecord[] {
    return this.idsOfSite(siteId).flatMap((id) => {
      const a = this.alarms.get(id);
      return a ? [a] : [];
    });
  }

  countActive(): number {
    let n = 0;
    for (const a of this.alarms.values()) if (a.active) n++;
    return n;
  }

  /** Replaces everything with the state loaded at start. */
  reset(alarms: Iterable<AlarmRecord>): void {
    this.alarms.clear();
    this.bySite.clear();
    for (const p of Object.keys(this.activeByPriority) as Priority[]) this.activeByPriority[p] = 0;
    for (const a of alarms) this.put(a);
    for (const a of this.alarms.values()) if (a.active) this.activeByPriority[a.priority] += 1;
    this.publishActiveGauge();
  }

  /** Cluster node: adds (or replaces) the records of a site just taken over. */
  putSite(alarms: Iterable<AlarmRecord>): void {
    for (const a of alarms) this.upsert(a);
  }

  /** Cluster node: forgets every record of a site given up (they stay in the database for its next owner). */
  removeSite(siteId: string): number {
    const ids = this.bySite.get(siteId);
    if (!ids) return 0;
    let changed = false;
    for (const id of ids) {
      const a = this.alarms.get(id);
      if (a?.active) {
        this.activeByPriority[a.priority] -= 1;
        changed = true;
      }
      this.alarms.delete(id);
    }
    this.bySite.delete(siteId);
    if (changed) this.publishActiveGauge();
    return ids.size;
  }

  /** Stores the alarm's new record and keeps the active gauge in step. */
  upsert(next: AlarmRecord): void {
    const prev = this.alarms.get(next.id);
    this.put(next);
    if (prev?.active) this.activeByPriority[prev.priority] -= 1;
    if (next.active) this.activeByPriority[next.priority] += 1;
    if (prev?.active !== next.active || prev?.priority !== next.priority) this.publishActiveGauge();
  }

  private put(a: AlarmRecord): void {
    this.alarms.set(a.id, a);
    let ids = this.bySite.get(a.siteId);
    if (!ids) this.bySite.set(a.siteId, (ids = new Set()));
    ids.add(a.id);
  }

  private publishActiveGauge(): void {
    for (const [p, n] of Object.entries(this.activeByPriority))
      this.metrics.alarmsActive.set({ priority: p }, n);
  }
}
