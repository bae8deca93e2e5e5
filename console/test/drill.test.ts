import { describe, expect, it } from 'vitest';
import { DRILL_PHASES, type DrillSchedule } from '../../src/common/domain/drill-schedule';
import { isDrillAlarm } from '../src/drill';
import type { Alarm } from '../src/model';

const T0 = Date.parse('2026-12-03T08:00:00Z');
const s: DrillSchedule = { anchorMs: T0, firstMs: 180_000, everyMs: 1_800_000, phases: DRILL_PHASES };
const alarm = (raisedAt: number, o: Partial<Alarm> = {}): Alarm =>
  ({
    id: 'a',
    siteId: 'bohai-chem',
    sourceId: 'bhc-cl2',
    ruleId: 'r',
    condition: 'gas_l2',
    priority: 'high',
    level: 'orange',
    state: 'unacknowledged',
    active: true,
    acked: false,
    message: 'chlorine level 2',
    raisedAt: new Date(raisedAt).toISOString(),
    seq: 1,
    ...o,
  }) as Alarm;

describe('drill alarms', () => {
  it('are the alarms raised during a drill or within a minute after it', () => {
    expect(isDrillAlarm(alarm(T0 + 180_000 + 30_000), s)).toBe(true);
    expect(isDrillAlarm(alarm(T0 + 180_000 + 270_000 + 59_000), s)).toBe(true);
    expect(isDrillAlarm(alarm(T0 + 180_000 + 1_800_000 + 10_000), s)).toBe(true);
  });

  it('are not the alarms raised before, between or long after drills', () => {
    expect(isDrillAlarm(alarm(T0 + 179_000), s)).toBe(false);
    expect(isDrillAlarm(alarm(T0 + 180_000 + 270_000 + 61_000), s)).toBe(false);
    expect(isDrillAlarm(alarm(T0 + 180_000 + 30_000), null)).toBe(false);
  });

  it('include alarms the server or their message marks as a drill', () => {
    expect(isDrillAlarm(alarm(T0, { drill: true }), null)).toBe(true);
    expect(isDrillAlarm(alarm(T0, { message: '演练：氯气泄漏' }), null)).toBe(true);
  });
});
