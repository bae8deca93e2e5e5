import { DRILL_PHASES, drillAt, nextDrillMs, type DrillSchedule } from './drill-schedule';

const T0 = Date.parse('2026-12-03T08:00:00Z');
const s: DrillSchedule = { anchorMs: T0, firstMs: 180_000, everyMs: 1_800_000, phases: DRILL_PHASES };

describe('drill schedule', () => {
  it('is quiet before the first drill and between drills', () => {
    expect(drillAt(s, T0)).toBeNull();
    expect(drillAt(s, T0 + 179_999)).toBeNull();
    expect(drillAt(s, T0 + 180_000 + 270_000)).toBeNull();
    expect(drillAt(s, T0 + 180_000 + 1_799_999)).toBeNull();
  });

  it('plays the chlorine leak, then the overfill, then again every period', () => {
    expect(drillAt(s, T0 + 180_000)).toEqual({
      cycle: 0,
      phase: DRILL_PHASES[0],
      phaseStartMs: T0 + 180_000,
      startMs: T0 + 180_000,
      endMs: T0 + 450_000,
    });
    expect(drillAt(s, T0 + 180_000 + 120_000)).toMatchObject({ cycle: 0, phase: { scenario: 'overfill' } });
    expect(drillAt(s, T0 + 180_000 + 1_800_000 + 5_000)).toMatchObject({
      cycle: 1,
      phase: { scenario: 'chlorine-leak' },
      startMs: T0 + 1_980_000,
    });
  });

  it('runs once when everyMs is 0, and names the next start', () => {
    const once = { ...s, everyMs: 0 };
    expect(drillAt(once, T0 + 200_000)).toMatchObject({ cycle: 0 });
    expect(drillAt(once, T0 + 1_990_000)).toBeNull();
    expect(nextDrillMs(once, T0)).toBe(T0 + 180_000);
    expect(nextDrillMs(once, T0 + 200_000)).toBeNull();
    expect(nextDrillMs(s, T0 + 200_000)).toBe(T0 + 1_980_000);
  });
});
