/**
 * Declared drills (docs/adr/0028-declared-drills.md) as windows: a drill of a site runs from its `started` event to its
 * `ended` event (open while not ended). Pure; the repository folds the append-only events into these.
 */
export type DrillEvent = {
  readonly drillId: string;
  readonly siteId: string;
  readonly kind: 'started' | 'ended';
  readonly at: number;
  readonly by: string;
  readonly role: string;
  readonly scenario: string | null;
};

export type DrillWindow = {
  readonly id: string;
  readonly siteId: string;
  readonly scenario: string;
  readonly startedAt: number;
  readonly startedBy: string;
  readonly endedAt: number | null;
  readonly endedBy: string | null;
};

/** Windows of the events, oldest first; an `ended` without its `started` is ignored (never invents a window). */
export function foldDrills(events: readonly DrillEvent[]): DrillWindow[] {
  const byId = new Map<string, DrillWindow>();
  for (const e of [...events].sort((a, b) => a.at - b.at)) {
    if (e.kind === 'started')
      byId.set(e.drillId, {
        id: e.drillId,
        siteId: e.siteId,
        scenario: e.scenario ?? '',
        startedAt: e.at,
        startedBy: e.by,
        endedAt: null,
        endedBy: null,
      });
    else {
      const w = byId.get(e.drillId);
      if (w) byId.set(e.drillId, { ...w, endedAt: e.at, endedBy: e.by });
    }
  }
  return [...byId.values()].sort((a, b) => a.startedAt - b.startedAt);
}

/** The drill of `siteId` running at `t` (inclusive bounds), if any. */
export function drillAt(windows: readonly DrillWindow[], siteId: string, t: number): DrillWindow | null {
  for (const w of windows)
    if (w.siteId === siteId && w.startedAt <= t && (w.endedAt === null || t <= w.endedAt)) return w;
  return null;
}

/**
 * CAP status of a message about an alarm: a drill alarm is an `Exercise` when the feed would otherwise say `Actual`;
 * a feed configured as `Test` or `Draft` (simulated plant) stays so — never upgraded towards `Actual`.
 */
export function capStatusFor<S extends string>(configured: S, inDrill: boolean): S | 'Exercise' {
  return inDrill && configured === 'Actual' ? 'Exercise' : configured;
}
