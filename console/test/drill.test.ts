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

describe('declared drills (recorded windows)', () => {
  const windows = [
    {
      id: 'd1',
      siteId: 'bohai-chem',
      scenario: '液氯泄漏演练',
      startedAt: '2026-03-01T08:00:00.000Z',
      startedBy: 'supervisor',
      endedAt: '2026-03-01T09:00:00.000Z',
      endedBy: 'supervisor',
      running: false,
    },
  ];
  const alarm = (siteId: string, raisedAt: string): Alarm =>
    ({ id: 'a', siteId, raisedAt, message: '氯气二级报警' }) as unknown as Alarm;

  it('should tag an alarm of the site raised inside the window, and no other', () => {
    expect(isDrillAlarm(alarm('bohai-chem', '2026-03-01T08:30:00.000Z'), null, windows)).toBe(true);
    expect(isDrillAlarm(alarm('bohai-chem', '2026-03-01T09:00:01.000Z'), null, windows)).toBe(false);
    expect(isDrillAlarm(alarm('bohai-chem', '2026-03-01T07:59:59.000Z'), null, windows)).toBe(false);
    expect(isDrillAlarm(alarm('nangang-petro', '2026-03-01T08:30:00.000Z'), null, windows)).toBe(false);
  });

  it('should tag every later alarm of the site while the drill is running', () => {
    const open = [{ ...windows[0]!, endedAt: null, endedBy: null, running: true }];
    expect(isDrillAlarm(alarm('bohai-chem', '2027-01-01T00:00:00.000Z'), null, open)).toBe(true);
  });
});
