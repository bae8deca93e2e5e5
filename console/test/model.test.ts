import { describe, expect, it } from 'vitest';
import {
  type Alarm,
  type AlarmFilter,
  Store,
  alarmKind,
  blinks,
  countAlarms,
  filterAlarms,
  firstOut,
  siteLevel,
  type SiteInfo,
} from '../src/model';

let n = 0;
const alarm = (o: Partial<Alarm> = {}): Alarm => ({
  id: `al-${++n}`,
  siteId: 'bohai-chem',
  sourceId: 'bhc-cl2',
  ruleId: 'gas-limit',
  deviceId: 'cl-gd-1',
  condition: 'gas_l2',
  priority: 'high',
  level: 'orange',
  state: 'unacknowledged',
  active: true,
  acked: false,
  value: 2.6,
  limit: 2,
  message: 'chlorine level 2',
  raisedAt: '2026-12-03T10:00:00.000Z',
  seq: n,
  ...o,
});
const filter = (o: Partial<AlarmFilter> = {}): AlarmFilter => ({
  view: 'active',
  priorities: new Set(),
  text: '',
  sort: 'priority',
  ...o,
});

describe('Store.applyAlarm', () => {
  it('keeps the newest snapshot per alarm by seq and ignores an older one arriving late', () => {
    const s = new Store();
    const a = alarm({ seq: 5 });
    expect(s.applyAlarm(a)).toBe(true);
    s.applyAlarm({ ...a, seq: 7, state: 'acknowledged', acked: true, event: 'acknowledged' });
    s.applyAlarm({ ...a, seq: 6, state: 'unacknowledged' }, false);
    expect(s.alarms.get(a.id)?.state).toBe('acknowledged');
    expect(s.lastSeq).toBe(7);
  });

  it('drops an alarm that returned to normal and reports a re-raise as newly raised', () => {
    const s = new Store();
    const a = alarm({ seq: 1 });
    s.applyAlarm(a);
    s.applyAlarm({ ...a, seq: 2, state: 'normal', active: false, acked: true });
    expect(s.alarms.has(a.id)).toBe(false);
    expect(s.applyAlarm({ ...a, seq: 3, event: 'raised', raisedAt: '2026-12-03T11:00:00.000Z' })).toBe(true);
  });

  it('does not count list loads (not events) toward since, and clears the not-journalled mark on journalled', () => {
    const s = new Store();
    s.lastSeq = 10;
    const a = alarm({ seq: 40, journalled: false });
    s.applyAlarm(a, false);
    expect(s.lastSeq).toBe(10);
    s.journalled(39);
    expect(s.alarms.get(a.id)?.journalled).toBe(false);
    s.journalled(40);
    expect(s.alarms.get(a.id)?.journalled).toBe(true);
  });

  it('notifies subscribers on change', () => {
    const s = new Store();
    let calls = 0;
    s.subscribe(() => calls++);
    s.applyAlarm(alarm());
    s.applyTelemetry({ siteId: 'bohai-chem', deviceId: 'cl-gd-1', ts: 1000, values: { conc: 1 } });
    expect(calls).toBe(2);
  });
});

describe('telemetry', () => {
  it('keeps numeric points of the last hour per channel and the latest value of every channel', () => {
    const s = new Store();
    s.applyTelemetry({ siteId: 'a', deviceId: 'd', ts: 0, values: { conc: 1, fault: false } });
    s.applyTelemetry({ siteId: 'a', deviceId: 'd', ts: 3_000_000, values: { conc: 2 } });
    s.applyTelemetry({ siteId: 'a', deviceId: 'd', ts: 3_700_000, values: { conc: 3 } });
    expect(s.live.get('a/d/conc')).toEqual([
      { t: 3_000_000, v: 2 },
      { t: 3_700_000, v: 3 },
    ]);
    expect(s.devices.get('a/d')?.values).toEqual({ conc: 3, fault: false });
    expect(s.live.has('a/d/fault')).toBe(false);
  });

  it('applies a batch of frames in order and tells the views once', () => {
    const s = new Store();
    const topics: string[] = [];
    s.subscribe((t) => topics.push(t));
    s.applyTelemetryBatch([
      { siteId: 'a', deviceId: 'd', ts: 1000, values: { conc: 1 } },
      { siteId: 'a', deviceId: 'e', ts: 1000, values: { level_pct: 40 } },
      { siteId: 'a', deviceId: 'd', ts: 2000, values: { conc: 2 } },
    ]);
    expect(topics).toEqual(['telemetry']);
    expect(s.devices.get('a/d')).toMatchObject({ values: { conc: 2 }, lastSeen: 2000, online: true });
    expect(s.live.get('a/d/conc')).toEqual([
      { t: 1000, v: 1 },
      { t: 2000, v: 2 },
    ]);
    s.applyTelemetryBatch([]);
    expect(topics).toHaveLength(1);
  });

  it('counts devices online now per site and overall, from the server state and live frames', () => {
    const s = new Store();
    const dev = (siteId: string, id: string, state: string, lastSeen: string) =>
      ({ siteId, id, name: id, kind: 'gas_detector', state, lastSeen }) as const;
    s.applyDevices([
      dev('a', 'd1', 'online', '2026-01-01T00:00:00Z'),
      dev('a', 'd2', 'offline', '2026-01-01T00:00:05Z'),
      dev('b', 'd1', 'offline', '2026-01-01T00:00:01Z'),
    ]);
    expect(s.onlineNow('a')).toEqual({ online: 1, total: 2, lastSeen: Date.parse('2026-01-01T00:00:05Z') });
    expect(s.onlineNow()).toMatchObject({ online: 1, total: 3 });
    // a frame from an offline device: it is back
    s.applyTelemetry({
      siteId: 'b',
      deviceId: 'd1',
      ts: Date.parse('2026-01-01T00:01:00Z'),
      values: { conc: 0 },
    });
    expect(s.onlineNow()).toEqual({ online: 2, total: 3, lastSeen: Date.parse('2026-01-01T00:01:00Z') });
    // the server's refresh later says it went silent again
    s.applyDevices([dev('b', 'd1', 'offline', '2026-01-01T00:01:00Z')]);
    expect(s.onlineNow('b')).toMatchObject({ online: 0, total: 1 });
  });
});

describe('counts, blink and kind', () => {
  it('counts active alarms by priority, unacknowledged ones, and each hidden state apart', () => {
    const c = countAlarms([
      alarm({ priority: 'critical' }),
      alarm({ priority: 'high', state: 'acknowledged', acked: true }),
      alarm({ priority: 'low', state: 'rtn_unacknowledged', active: false }),
      alarm({ state: 'shelved' }),
      alarm({ state: 'suppressed' }),
      alarm({ state: 'out_of_service', acked: false }),
    ]);
    expect(c.byPriority).toEqual({ critical: 1, high: 1, medium: 0, low: 1 });
    expect(c.unacked).toBe(2);
    expect([c.shelved, c.suppressed, c.outOfService]).toEqual([1, 1, 1]);
  });

  it('blinks only while unacknowledged and shown', () => {
    expect(blinks(alarm())).toBe(true);
    expect(blinks(alarm({ state: 'rtn_unacknowledged', active: false }))).toBe(true);
    expect(blinks(alarm({ state: 'acknowledged', acked: true }))).toBe(false);
    expect(blinks(alarm({ state: 'shelved' }))).toBe(false);
  });

  it('colours a fault condition yellow, a cleared one green', () => {
    expect(alarmKind(alarm({ condition: 'calibration_overdue' }))).toBe('fault');
    expect(alarmKind(alarm({ active: false, state: 'rtn_unacknowledged' }))).toBe('normal');
    expect(alarmKind(alarm({ active: false, state: 'latched' }))).toBe('alarm');
    expect(alarmKind(alarm({ state: 'out_of_service' }))).toBe('hidden');
  });
});

describe('filterAlarms', () => {
  const label = (a: Alarm): string => `${a.siteId} ${a.message}`;
  const low = alarm({ priority: 'low', raisedAt: '2026-12-03T10:05:00Z', message: 'calibration' });
  const crit = alarm({ priority: 'critical', raisedAt: '2026-12-03T10:01:00Z' });
  const highOld = alarm({ priority: 'high', raisedAt: '2026-12-03T10:00:00Z', sourceId: 'bhc-nh3' });
  const highNew = alarm({ priority: 'high', raisedAt: '2026-12-03T10:03:00Z' });
  const shelved = alarm({ state: 'shelved' });
  const all = [low, crit, highOld, highNew, shelved];

  it('sorts by priority then newest, or newest first', () => {
    expect(filterAlarms(all, filter(), label).map((a) => a.id)).toEqual([
      crit.id,
      highNew.id,
      highOld.id,
      low.id,
    ]);
    expect(filterAlarms(all, filter({ sort: 'time' }), label).map((a) => a.id)).toEqual([
      low.id,
      highNew.id,
      crit.id,
      highOld.id,
    ]);
  });

  it('shows hidden states only in their own view', () => {
    expect(filterAlarms(all, filter({ view: 'shelved' }), label).map((a) => a.id)).toEqual([shelved.id]);
    expect(filterAlarms(all, filter(), label).some((a) => a.id === shelved.id)).toBe(false);
  });

  it('filters by priority and by text (case-insensitive)', () => {
    expect(filterAlarms(all, filter({ priorities: new Set(['high']) }), label)).toHaveLength(2);
    expect(filterAlarms(all, filter({ text: 'CALIB' }), label).map((a) => a.id)).toEqual([low.id]);
  });
});

describe('firstOut', () => {
  it('marks the first alarm of a hazard source when another follows within the window', () => {
    const a = alarm({ raisedAt: '2026-12-03T10:00:00Z' });
    const b = alarm({ raisedAt: '2026-12-03T10:00:20Z', deviceId: 'cl-gd-2' });
    const lone = alarm({ sourceId: 'bhc-nh3' });
    const late = alarm({ sourceId: 'x', raisedAt: '2026-12-03T10:00:00Z' });
    const later = alarm({ sourceId: 'x', raisedAt: '2026-12-03T10:05:00Z' });
    expect(firstOut([b, a, lone, late, later])).toEqual(new Set([a.id]));
  });
});

describe('siteLevel', () => {
  const site: SiteInfo = {
    id: 's',
    name: 'S',
    jurisdiction: 'tianjin/binhai',
    hazardSources: [
      { id: 'h1', name: 'H1', filedGrade: 3, siteId: 's' },
      { id: 'h2', name: 'H2', filedGrade: 4, siteId: 's' },
    ],
  };
  it('is the worst level of the sources, live grade first, filed grade without live data', () => {
    expect(siteLevel(site, new Map())).toBe('yellow');
    expect(
      siteLevel(site, new Map([['h2', { sourceId: 'h2', siteId: 's', grade: 1, level: 'red' as const }]])),
    ).toBe('red');
  });
});

describe('sort ties', () => {
  it('puts the later event first among alarms raised in the same millisecond', () => {
    const at = '2026-12-03T10:00:00.000Z';
    const a = alarm({ raisedAt: at, seq: 1 });
    const b = alarm({ raisedAt: at, seq: 2, priority: 'low' });
    expect(filterAlarms([a, b], filter({ sort: 'time' }), (x) => x.id).map((x) => x.id)).toEqual([
      b.id,
      a.id,
    ]);
  });
});
