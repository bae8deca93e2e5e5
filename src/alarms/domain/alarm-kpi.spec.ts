import { makeAlarm, T0 } from '../../../test/factories/alarm.factory';
import type { Priority } from '../../common/types';
import { computeAlarmKpis, floodIntervals, intervalCounts, maxInWindow, type KpiRaise } from './alarm-kpi';

const MIN = 60_000;
const raise = (at: number, over: Partial<KpiRaise> = {}): KpiRaise => ({
  alarmId: 'a1',
  siteId: 's1',
  sourceId: 'src',
  ruleId: 'r',
  condition: 'c',
  priority: 'low',
  at,
  ...over,
});
const kpis = (raises: KpiRaise[], hours = 1, current = [makeAlarm({ active: false, state: 'normal' })]) =>
  computeAlarmKpis({ from: T0, to: T0 + hours * 60 * MIN, raises, current, now: T0 + hours * 60 * MIN });

describe('alarm KPIs', () => {
  it('should count raises per fixed 10-minute interval aligned to from', () => {
    expect(
      intervalCounts(
        [{ at: T0 }, { at: T0 + 9 * MIN }, { at: T0 + 10 * MIN }, { at: T0 + 60 * MIN }],
        T0,
        T0 + 60 * MIN,
      ),
    ).toEqual([2, 1, 0, 0, 0, 0]);
  });

  it('should compute average and peak per 10 minutes', () => {
    const raises = [
      ...Array.from({ length: 7 }, (_, i) => raise(T0 + 20 * MIN + i * 1000, { alarmId: `x${i}` })),
      raise(T0 + 50 * MIN),
    ];
    const k = kpis(raises);
    expect(k.totalAlarms).toBe(8);
    expect(k.averagePer10Min).toBeCloseTo(8 / 6, 2);
    expect(k.peakPer10Min).toBe(7);
    expect(k.peakIntervalStart).toBe(new Date(T0 + 20 * MIN).toISOString());
  });

  it('should ignore raises outside the window', () => {
    expect(kpis([raise(T0 - 1), raise(T0 + 60 * MIN)]).totalAlarms).toBe(0);
  });

  it('should start a flood above 10 per interval and end it only below 5', () => {
    expect(floodIntervals([10, 11, 6, 5, 4, 11])).toEqual([false, true, true, true, false, true]);
  });

  it('should report the percentage of time in flood per site and overall', () => {
    // site s1: 11 raises in interval 0, 5 in interval 1 (flood continues), 0 after → 2 of 6 intervals
    const s1 = [
      ...Array.from({ length: 11 }, (_, i) => raise(T0 + i * 1000, { alarmId: `f${i}` })),
      ...Array.from({ length: 5 }, (_, i) => raise(T0 + 10 * MIN + i * 1000, { alarmId: `g${i}` })),
    ];
    // site s2: a flood in interval 4 only
    const s2 = Array.from({ length: 12 }, (_, i) =>
      raise(T0 + 40 * MIN + i * 1000, { siteId: 's2', alarmId: `h${i}` }),
    );
    const k = kpis([...s1, ...s2]);
    expect(k.bySite).toEqual([
      expect.objectContaining({ siteId: 's1', percentTimeInFlood: 33.33, floods: 1, peakPer10Min: 11 }),
      expect.objectContaining({ siteId: 's2', percentTimeInFlood: 16.67, floods: 1 }),
    ]);
    expect(k.percentTimeInFlood).toBe(50);
  });

  it('should judge each site, not the aggregate, against the per-operator target and label the all-sites rate as an aggregate', () => {
    // three sites with 5 raises each in 1 h: each 0.83 per 10 min (within ~1 per 10 min per operator position);
    // the all-sites rate 2.5 per 10 min is an aggregate of three control rooms, not an operator load
    const raises = ['s1', 's2', 's3'].flatMap((siteId) =>
      Array.from({ length: 5 }, (_, i) => raise(T0 + i * 10 * MIN, { siteId, alarmId: `${siteId}-${i}` })),
    );
    const k = kpis(raises);
    expect(k.bySite.map((x) => [x.siteId, x.averagePer10Min, x.averageWithinTarget])).toEqual([
      ['s1', 0.83, true],
      ['s2', 0.83, true],
      ['s3', 0.83, true],
    ]);
    expect(k.aggregate).toMatchObject({
      sites: 3,
      alarms: 15,
      averagePer10Min: 2.5,
      comparableToOperatorTarget: false,
    });
    expect(k.aggregate.label).toContain('aggregate');
    expect(k.targetsApplyTo).toContain('each site');
    expect(Object.keys(k).indexOf('bySite')).toBeLessThan(Object.keys(k).indexOf('averagePer10Min'));
  });

  it('should find the largest number of activations in any 60 s', () => {
    expect(maxInWindow([0, 30_000, 59_999, 60_000, 200_000])).toBe(3);
    expect(maxInWindow([0, 60_000, 120_000])).toBe(1);
    expect(maxInWindow([])).toBe(0);
  });

  it('should list an alarm as chattering at 3 activations within 60 s but not 2', () => {
    const k = kpis([
      raise(T0, { alarmId: 'chat' }),
      raise(T0 + 20_000, { alarmId: 'chat' }),
      raise(T0 + 50_000, { alarmId: 'chat' }),
      raise(T0, { alarmId: 'calm' }),
      raise(T0 + 30_000, { alarmId: 'calm' }),
    ]);
    expect(k.chattering).toEqual([expect.objectContaining({ alarmId: 'chat', maxActivationsIn60s: 3 })]);
  });

  it('should rank the top 10 most frequent alarms with their share of the load', () => {
    const raises: KpiRaise[] = [];
    for (let a = 0; a < 12; a++)
      for (let i = 0; i <= a; i++)
        raises.push(raise(T0 + a * MIN + i * 2 * MIN, { alarmId: `a${String(a).padStart(2, '0')}` }));
    const k = kpis(raises, 2);
    expect(k.top10).toHaveLength(10);
    expect(k.top10[0]).toMatchObject({ alarmId: 'a11', count: 12 });
    expect(k.top10[9]).toMatchObject({ alarmId: 'a02', count: 3 });
    const total = raises.length; // 78
    expect(k.top10[0]!.percentOfLoad).toBeCloseTo((100 * 12) / total, 2);
    expect(k.top10PercentOfLoad).toBeCloseTo((100 * (total - 1 - 2)) / total, 1);
  });

  it('should give the priority distribution against the 80/15/5 target', () => {
    const prios: Priority[] = ['low', 'low', 'low', 'medium', 'high', 'critical', 'low', 'low', 'low', 'low'];
    const k = kpis(prios.map((p, i) => raise(T0 + i * MIN, { priority: p, alarmId: `p${i}` })));
    expect(k.priorityDistribution.counts).toEqual({ critical: 1, high: 1, medium: 1, low: 7 });
    expect(k.priorityDistribution.percent).toEqual({ critical: 10, high: 10, medium: 10, low: 70 });
    expect(k.priorityDistribution.targetPercent).toEqual({ low: 80, medium: 15, high: 5, critical: 1 });
  });

  it('should report stale, standing and shelved alarms from the current state', () => {
    const now = T0 + 60 * MIN;
    const current = [
      makeAlarm({ id: 'old', active: true, raisedAt: now - 25 * 3_600_000 }),
      makeAlarm({ id: 'young', active: true, raisedAt: now - 23 * 3_600_000 }),
      makeAlarm({ id: 'shelf', state: 'shelved', active: true, raisedAt: now - 60_000 }),
      makeAlarm({ id: 'clear', state: 'normal', active: false, raisedAt: now - 48 * 3_600_000 }),
    ];
    const k = kpis([], 1, current);
    expect(k.stale.map((s) => s.alarmId)).toEqual(['old']);
    expect(k.stale[0]!.hoursActive).toBe(25);
    expect(k.standing).toBe(3);
    expect(k.shelved).toBe(1);
  });

  it('should refuse an empty or inverted window', () => {
    expect(() => computeAlarmKpis({ from: T0, to: T0, raises: [], current: [], now: T0 })).toThrow(
      RangeError,
    );
  });
});
