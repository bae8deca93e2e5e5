/**
 * The demo drill (演练, docs/adr/0024-demo-drill.md): a few minutes after start and then every `everyMs`, the simulated
 * plant plays a short scenario — a chlorine leak, then an overfill — and the console announces it as a drill. Pure
 * and shared by the simulators (what to play when) and the console (what to label as a drill); times are wall-clock
 * milliseconds measured from one anchor, the server process's start.
 */
export type DrillPhase = { readonly scenario: 'chlorine-leak' | 'overfill'; readonly ms: number };

export type DrillSchedule = {
  /** Wall-clock ms all drill times are measured from (the server process's start). */
  readonly anchorMs: number;
  /** First drill this long after the anchor. */
  readonly firstMs: number;
  /** Then one every everyMs (0: the first only). */
  readonly everyMs: number;
  readonly phases: readonly DrillPhase[];
};

export const DRILL_PHASES: readonly DrillPhase[] = [
  { scenario: 'chlorine-leak', ms: 120_000 },
  { scenario: 'overfill', ms: 150_000 },
];

export type DrillNow = {
  /** 0 for the first drill. */
  readonly cycle: number;
  readonly phase: DrillPhase;
  /** Wall-clock ms the phase and the whole drill began and the drill ends. */
  readonly phaseStartMs: number;
  readonly startMs: number;
  readonly endMs: number;
};

export const drillLengthMs = (s: Pick<DrillSchedule, 'phases'>): number =>
  s.phases.reduce((n, p) => n + p.ms, 0);

/** The drill running at wall-clock `nowMs`, or null. */
export function drillAt(s: DrillSchedule, nowMs: number): DrillNow | null {
  const since = nowMs - s.anchorMs - s.firstMs;
  if (since < 0 || s.phases.length === 0) return null;
  const length = drillLengthMs(s);
  const cycle = s.everyMs > 0 ? Math.floor(since / s.everyMs) : 0;
  const into = since - cycle * (s.everyMs > 0 ? s.everyMs : 0);
  if (into >= length) return null;
  const startMs = s.anchorMs + s.firstMs + cycle * s.everyMs;
  let at = 0;
  for (const phase of s.phases) {
    if (into < at + phase.ms)
      return { cycle, phase, phaseStartMs: startMs + at, startMs, endMs: startMs + length };
    at += phase.ms;
  }
  return null;
}

/** Wall-clock start of the next drill at or after `nowMs` (null: no more drills). */
export function nextDrillMs(s: DrillSchedule, nowMs: number): number | null {
  const first = s.anchorMs + s.firstMs;
  if (nowMs <= first) return first;
  if (s.everyMs <= 0) return null;
  return first + Math.ceil((nowMs - first) / s.everyMs) * s.everyMs;
}
