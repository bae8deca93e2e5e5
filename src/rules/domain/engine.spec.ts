import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { makeReading } from '../../../test/factories/reading.factory';
import { loadPlant } from '../../config/config.loader';
import { loadRules } from '../rules.loader';
import type { ChannelValue, Reading } from '../../common/types';
import type { ConditionChange } from './condition';
import { ConditionStore } from './condition-store';
import { buildEngine, idleFor } from './engine';
import type { DeviceStateEvent } from './offline.rule';
import type { CompiledRules } from './rule-spec';
import { join } from 'node:path';

const demoDir = join(__dirname, '..', '..', '..', 'config');
const plant = loadPlant(demoDir);
const demoRules = loadRules(demoDir, plant).rules;

type Harness = {
  ts: TestScheduler;
  out: Array<ConditionChange & { at: number }>;
  errors: string[];
  late: number[];
  send(at: number, deviceId: string, values: Record<string, ChannelValue>, over?: Partial<Reading>): void;
  state(at: number, deviceId: string, state: 'online' | 'offline'): void;
  every(from: number, to: number, stepMs: number, fn: (t: number) => void): void;
};

/** Runs the demo rule engine in virtual time: readings are pushed at their event time (ts = frame). */
function runEngine(
  build: (h: Harness) => void,
  rules: CompiledRules = demoRules,
  siteId = 'bohai-chem',
  store = new ConditionStore(),
  /** 'messages': each send is one batch (as ingest emits); 'readings': one element per channel. */
  mode: 'readings' | 'messages' = 'readings',
): Harness {
  const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
  const out: Harness['out'] = [];
  const errors: string[] = [];
  const late: number[] = [];
  ts.run(({ flush }) => {
    const telemetry$ = new Subject<Reading | readonly Reading[]>();
    const deviceState$ = new Subject<DeviceStateEvent>();
    const engine = buildEngine(
      rules,
      { telemetry$, deviceState$ },
      {
        scheduler: ts,
        store,
        hooks: { onRuleError: (k, id) => errors.push(`${k}:${id}`), onLate: (_r, lag) => late.push(lag) },
      },
    );
    engine.conditions$.subscribe((c) => out.push({ ...c, at: ts.now() }));
    const h: Harness = {
      ts,
      out,
      errors,
      late,
      send: (at, deviceId, values, over = {}) =>
        ts.schedule(() => {
          const readings = Object.entries(values).map(([channel, value]) =>
            makeReading({ siteId, deviceId, channel, value, ts: at, receivedAt: at, ...over }),
          );
          if (mode === 'messages') telemetry$.next(readings);
          else for (const r of readings) telemetry$.next(r);
        }, at),
      state: (at, deviceId, state) =>
        ts.schedule(() => deviceState$.next({ siteId, deviceId, state, ts: at }), at),
      every: (from, to, step, fn) => {
        for (let t = from; t <= to; t += step) fn(t);
      },
    };
    build(h);
    flush();
  });
  return { ts, out, errors, late, send: () => undefined, state: () => undefined, every: () => undefined };
}

const fmtc = (c: ConditionChange): string =>
  `${c.deviceId ?? c.ruleId}:${c.condition}${c.active ? '+' : '-'}${c.active ? `(${c.priority})` : ''}`;
/** Changes of the bohai-chem site up to `until` (after the test data ends, every device goes stale — as it should). */
const rows = (
  out: Harness['out'],
  until: number,
  filter: (c: ConditionChange) => boolean = () => true,
): Array<ConditionChange & { at: number }> =>
  out.filter((c) => c.at <= until && c.siteId === 'bohai-chem' && filter(c));
const seq = (
  out: Harness['out'],
  until: number,
  filter: (c: ConditionChange) => boolean = () => true,
): string[] => rows(out, until, filter).map(fmtc);

/** Keeps every device of a site reporting normally, so nothing goes stale. */
function background(h: Harness, to: number, skip: ReadonlySet<string> = new Set()): void {
  for (const d of plant.sites.find((s) => s.id === 'bohai-chem')!.devices) {
    if (skip.has(d.id)) continue;
    const values: Record<string, ChannelValue> =
      d.kind === 'gas_detector'
        ? { conc: 0.1, fault: false }
        : d.kind === 'tank'
          ? { level_pct: 50, temp_c: 20, pressure_kpa: 600, level_switch_hh: false }
          : d.kind === 'shutoff_valve'
            ? { position: 'open', demand: 'open' }
            : d.kind === 'analog'
              ? { value: 10 }
              : d.kind === 'discrete'
                ? { state: !(d.alarmWhen ?? true) }
                : d.kind === 'weather'
                  ? { wind_speed_ms: 3, wind_dir_deg: 135 }
                  : { status: 'ok' };
    h.every(0, to, d.periodS * 1000, (t) => h.send(t, d.id, values));
  }
}

const CHLORINE_GDS = ['cl-gd-1', 'cl-gd-2', 'cl-gd-3'];
/** Gas rises across the chlorine area, the ESD demands the valves closed, XV-1 closes late. */
function chlorineLeak(h: Harness): void {
  const gds = CHLORINE_GDS;
  background(h, 120_000, new Set([...gds, 'cl-xv-1', 'cl-xv-2']));
  // gas rises on GD-1 from 10 s, on GD-2 from 14 s; GD-3 only reaches level 1
  const conc = (t: number, start: number, peak: number): number =>
    Math.min(peak, t < start ? 0.1 : 0.1 + ((t - start) / 1000) * 0.2);
  h.every(0, 120_000, 2000, (t) => {
    h.send(t, 'cl-gd-1', { conc: conc(t, 10_000, 5), fault: false });
    h.send(t, 'cl-gd-2', { conc: conc(t, 14_000, 5), fault: false });
    h.send(t, 'cl-gd-3', { conc: conc(t, 18_000, 1.5), fault: false });
  });
  // ESD demands both valves closed at 30 s; XV-2 closes at 36 s, XV-1 stays open until 70 s
  h.every(0, 120_000, 5000, (t) => {
    const demand = t >= 30_000 ? 'closed' : 'open';
    h.send(t, 'cl-xv-1', { position: t >= 70_000 ? 'closed' : t >= 30_000 ? 'moving' : 'open', demand });
    h.send(t, 'cl-xv-2', { position: t >= 36_000 ? 'closed' : t >= 30_000 ? 'moving' : 'open', demand });
  });
  h.send(36_000, 'cl-xv-2', { position: 'closed', demand: 'closed' });
}

describe('rule engine on the demo plant', () => {
  it('should raise nothing when every device reports normal values', () => {
    const h = runEngine((h) => background(h, 120_000));
    expect(seq(h.out, 120_000)).toEqual([]);
    expect(h.errors).toEqual([]);
  });

  it('should raise gas levels, the vote, the interlock and the composite in causal order during a chlorine leak', () => {
    const h = runEngine(chlorineLeak);
    const list = rows(h.out, 120_000);
    const got = list.map(fmtc);
    expect(h.errors).toEqual([]);
    // gas_l1 on GD-1: first ≥ 1 mg/m3 at 14.5 s → reading at 16 s, on-delay 2 s → 18 s
    const at = (s: string): number => {
      const i = got.indexOf(s);
      if (i < 0) throw new Error(`${s} not raised; got ${got.join(', ')}`);
      return list[i]!.ts;
    };
    expect(at('cl-gd-1:gas_l1+(medium)')).toBe(18_000);
    // gas_l2: ≥ 2 mg/m3 from 19.5 s → reading at 20 s, + 2 s on-delay; GD-2 4 s later
    expect(at('cl-gd-1:gas_l2+(high)')).toBe(22_000);
    expect(at('cl-gd-2:gas_l2+(high)')).toBe(26_000);
    expect(at('vote:cl-a1:vote+(critical)')).toBe(26_000);
    // interlock: vote at 26 s, valves must be closed by 26 + 15 + 5 = 46 s; XV-1 closes only at 70 s
    expect(at('cl-xv-1:shutoff_failed+(critical)')).toBe(46_000);
    expect(at('cl-xv-1:shutoff_failed-')).toBe(70_000);
    expect(got).not.toContain('cl-xv-2:shutoff_failed+(critical)');
    // composite "gas_l2 in the area AND XV-1 open after 10 s": XV-1 started moving at 30 s, 8 s after gas_l2 → not raised
    expect(got.some((s) => s.includes('gas_l2_valve_open'))).toBe(false);
    // causal order: level 2 on two detectors, then the vote, then the interlock failure, then its clear
    const order = [
      'cl-gd-1:gas_l2+(high)',
      'cl-gd-2:gas_l2+(high)',
      'vote:cl-a1:vote+(critical)',
      'cl-xv-1:shutoff_failed+(critical)',
      'cl-xv-1:shutoff_failed-',
    ];
    expect(order.map((s) => got.indexOf(s))).toEqual(
      [...order.map((s) => got.indexOf(s))].sort((a, b) => a - b),
    );
    expect(order.every((s) => got.includes(s))).toBe(true);
    // valve supervision: XV-1 still moving after its 15 s travel time
    expect(got).toEqual(
      expect.arrayContaining([
        'cl-xv-1:stuck+(high)',
        'cl-xv-1:discrepancy+(critical)',
        'cl-xv-2:trip+(high)',
        'cl-xv-1:trip+(high)',
      ]),
    );
    expect(got).not.toContain('cl-gd-3:gas_l2+(high)');
    expect(got).toContain('cl-gd-3:gas_l1+(medium)');
  });

  it('should raise exactly the same changes at the same times when readings arrive as whole messages (as from ingest)', () => {
    const one = runEngine(chlorineLeak);
    const batched = runEngine(chlorineLeak, demoRules, 'bohai-chem', new ConditionStore(), 'messages');
    const view = (out: Harness['out']): string[] => out.map((c) => `${fmtc(c)}@${c.ts}/${c.at}`);
    expect(batched.errors).toEqual([]);
    expect(view(batched.out).length).toBeGreaterThan(10);
    expect(view(batched.out)).toEqual(view(one.out));
  });

  it('should not raise offline when the device is back online within the offline delay', () => {
    const h = runEngine((h) => {
      background(h, 60_000);
      h.state(1000, 'cl-gd-2', 'offline');
      h.state(6000, 'cl-gd-2', 'online');
    });
    expect(seq(h.out, 60_000)).toEqual([]);
  });

  it('should raise stale for a silent detector and offline on its last will, and clear both when it returns', () => {
    const h = runEngine((h) => {
      background(h, 60_000, new Set(['cl-gd-1']));
      h.every(0, 10_000, 2000, (t) => h.send(t, 'cl-gd-1', { conc: 0.1, fault: false }));
      h.state(12_000, 'cl-gd-1', 'offline');
      h.state(40_000, 'cl-gd-1', 'online');
      h.every(40_000, 60_000, 2000, (t) => h.send(t, 'cl-gd-1', { conc: 0.1, fault: false }));
    });
    const got = seq(h.out, 60_000, (c) => c.deviceId === 'cl-gd-1');
    expect(got).toEqual([
      'cl-gd-1:stale+(medium)',
      'cl-gd-1:offline+(medium)',
      'cl-gd-1:offline-',
      'cl-gd-1:stale-',
    ]);
    const raisedAt = (condition: string): number =>
      h.out.find((c) => c.deviceId === 'cl-gd-1' && c.condition === condition && c.active)!.ts;
    expect(raisedAt('stale')).toBe(10_000 + 10_000); // last reading 10 s + max(3 × 2 s, 10 s)
    expect(raisedAt('offline')).toBe(12_000 + 10_000); // last will at 12 s + offline on-delay 10 s
  });

  it('should count a detector as tripped for the chlorine vote when it is faulted (faulted: tripped)', () => {
    const h = runEngine((h) => {
      background(h, 60_000, new Set(['cl-gd-1', 'cl-gd-2']));
      h.every(0, 60_000, 2000, (t) => {
        h.send(t, 'cl-gd-1', { conc: t >= 10_000 ? 3 : 0.1, fault: false });
        h.send(t, 'cl-gd-2', { conc: 0, fault: t >= 20_000 });
      });
    });
    const got = seq(h.out, 60_000, (c) => c.deviceId === undefined || c.deviceId.startsWith('cl-gd'));
    expect(got).toEqual([
      'cl-gd-1:gas_l1+(medium)',
      'cl-gd-1:gas_l2+(high)',
      'cl-gd-2:detector_fault+(medium)',
      'vote:cl-a1:vote+(critical)',
      'gas-valve-open:cl-a1:gas_l2_valve_open+(critical)',
    ]);
  });

  it('should not evaluate readings later than the tolerance and count them', () => {
    const h = runEngine((h) => {
      background(h, 60_000, new Set(['cl-gd-1']));
      h.every(0, 60_000, 2000, (t) => h.send(t, 'cl-gd-1', { conc: 0.1, fault: false }));
      // a reading from 40 s before the newest, above level 2: beyond the 30 s tolerance
      h.send(50_001, 'cl-gd-1', { conc: 9 }, { ts: 10_000 });
    });
    expect(seq(h.out, 60_000, (c) => c.deviceId === 'cl-gd-1')).toEqual([]);
    expect(h.late).toEqual([40_000]);
  });
});

describe('interlock supervision from the cause-and-effect matrix', () => {
  it("should supervise a tank's inlet trip from its independent HH level switch, not from the transmitter's HH", () => {
    const h = runEngine((h) => {
      background(h, 120_000, new Set(['nh-tk-1']));
      // The transmitter reads 80 % (above its HH 79.2 %) from 0 s; the switch trips only at 40 s. XV-1 stays open.
      h.every(0, 120_000, 5000, (t) =>
        h.send(t, 'nh-tk-1', { level_pct: 80, temp_c: 20, pressure_kpa: 900, level_switch_hh: t >= 40_000 }),
      );
    });
    const got = rows(h.out, 120_000, (c) => c.deviceId === 'nh-tk-1' || c.deviceId === 'nh-xv-1');
    const at = (cond: string, dev: string): number | undefined =>
      got.find((c) => c.condition === cond && c.deviceId === dev && c.active)?.ts;
    expect(at('HH', 'nh-tk-1')).toBe(10_000); // 10 s on-delay: an alarm, not the trip
    expect(at('LSHH', 'nh-tk-1')).toBe(40_000);
    // The trip is the switch: nh-xv-1 must report closed within 15 s travel + 5 s margin of it.
    expect(got.find((c) => c.ruleId === 'hh-trip:nh-tk-1' && c.active)).toMatchObject({
      condition: 'shutoff_failed',
      priority: 'critical',
      deviceId: 'nh-xv-1',
      ts: 60_000,
    });
  });

  it('should not invent a trip for a voted gas area without a cause-and-effect row (no false 紧急切断失败)', () => {
    // A 2oo3 level-2 vote in the benzene area, whose valves stay open: the plant has no gas → ESD trip there.
    const site = 'nangang-petro';
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const out: ConditionChange[] = [];
    ts.run(({ flush }) => {
      const telemetry$ = new Subject<Reading | readonly Reading[]>();
      const engine = buildEngine(
        demoRules,
        { telemetry$, deviceState$: new Subject() },
        {
          scheduler: ts,
          store: new ConditionStore(),
          hooks: { onRuleError: () => undefined, onLate: () => undefined },
        },
      );
      engine.conditions$.subscribe((c) => out.push(c));
      for (let t = 0; t <= 60_000; t += 2000)
        ts.schedule(() => {
          for (const id of ['bz-gd-1', 'bz-gd-2', 'bz-gd-3'])
            telemetry$.next(
              makeReading({ siteId: site, deviceId: id, channel: 'conc', value: 45, ts: t, receivedAt: t }),
            );
          if (t % 5000 === 0)
            for (const id of ['bz-xv-1', 'bz-xv-2'])
              telemetry$.next(
                makeReading({
                  siteId: site,
                  deviceId: id,
                  channel: 'position',
                  value: 'open',
                  ts: t,
                  receivedAt: t,
                }),
              );
        }, t);
      flush();
    });
    expect(out.some((c) => c.ruleId === 'vote:bz-a1' && c.condition === 'vote' && c.active)).toBe(true);
    // (bohai-chem's silent chlorine detectors count as tripped there — faulted: tripped — so only this site is checked)
    expect(out.filter((c) => c.siteId === site && c.condition === 'shutoff_failed')).toEqual([]);
  });
});

describe('rule engine hazard grading', () => {
  it('should grade the chlorine source from live tank levels', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const statuses: Array<{ R: number; grade: number; S: number; uncertain: boolean }> = [];
    ts.run(({ flush }) => {
      const telemetry$ = new Subject<Reading | readonly Reading[]>();
      const engine = buildEngine(
        demoRules,
        { telemetry$, deviceState$: new Subject() },
        {
          scheduler: ts,
          store: new ConditionStore(),
          hooks: { onRuleError: () => undefined, onLate: () => undefined },
        },
      );
      const initial = engine.initialHazard(0).find((s) => s.sourceId === 'bhc-cl2')!;
      // design inventory 70 t: S = 14, R = 1.5 × 4 × 14 = 84 → grade 2 (the filed grade)
      expect(initial).toMatchObject({
        S: 14,
        R: 84,
        grade: 2,
        level: 'orange',
        alpha: 1.5,
        filedGrade: 2,
        uncertain: false,
      });
      engine.hazard$.subscribe((s) => s.sourceId === 'bhc-cl2' && statuses.push(s));
      ts.schedule(() => {
        telemetry$.next(makeReading({ deviceId: 'cl-tk-1', channel: 'level_pct', value: 100, ts: 0 }));
        telemetry$.next(makeReading({ deviceId: 'cl-tk-2', channel: 'level_pct', value: 100.4, ts: 0 }));
        telemetry$.next(makeReading({ deviceId: 'cl-tk-2', channel: 'level_pct', value: 10, ts: 1000 }));
      }, 0);
      flush();
    });
    // tk-1 full: 44.1 t + tk-2 design share 35 t = 79.1 t; both full (100.4 % clamps to 100): 88.2 t → grade 1;
    // tk-2 at 10 % of the level of a horizontal cylinder holds 5.20 % of its volume: 2.29 t (not 4.41 t).
    expect(statuses.map((s) => [s.S, s.R, s.grade])).toEqual([
      [15.82, 94.92, 2],
      [17.64, 105.84, 1],
      [9.279, 55.67, 2],
      // no more readings: stale (3 × 5 s) → each tank at its filling limit, flagged uncertain
      [7.515, 45.09, 3],
      [14.112, 84.67, 2],
    ]);
  });

  it('should mark the grading uncertain while a tank level is stale or bad, counting it at its filling limit', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const statuses: Array<{ R: number; uncertain: boolean; tanks: readonly string[] }> = [];
    ts.run(({ flush }) => {
      const telemetry$ = new Subject<Reading | readonly Reading[]>();
      const engine = buildEngine(
        demoRules,
        { telemetry$, deviceState$: new Subject() },
        {
          scheduler: ts,
          store: new ConditionStore(),
          hooks: { onRuleError: () => undefined, onLate: () => undefined },
        },
      );
      engine.hazard$.subscribe(
        (s) =>
          s.sourceId === 'bhc-cl2' &&
          statuses.push({ R: s.R, uncertain: s.uncertain, tanks: s.uncertainTanks }),
      );
      ts.schedule(() => {
        telemetry$.next(makeReading({ deviceId: 'cl-tk-1', channel: 'level_pct', value: 50, ts: 0 }));
        telemetry$.next(makeReading({ deviceId: 'cl-tk-2', channel: 'level_pct', value: 50, ts: 0 }));
        // tk-1 goes bad: its frozen 50 % must not be used
        telemetry$.next(
          makeReading({ deviceId: 'cl-tk-1', channel: 'level_pct', value: 50, quality: 'bad', ts: 1000 }),
        );
        telemetry$.next(makeReading({ deviceId: 'cl-tk-1', channel: 'level_pct', value: 40, ts: 2000 }));
      }, 0);
      // tk-2 then falls silent: stale after 3 periods (15 s) → uncertain again
      flush();
    });
    // 50 % level of a horizontal cylinder = 50 % volume: 22.05 t per tank, R = 1.5·4·44.1/5 = 52.92.
    // Bad tk-1 counts at its filling limit (80 % × 44.1 = 35.28 t): R = 1.5·4·(35.28 + 22.05)/5 = 68.8.
    expect(statuses[1]).toEqual({ R: 52.92, uncertain: false, tanks: [] });
    expect(statuses[2]).toEqual({ R: 68.8, uncertain: true, tanks: ['cl-tk-1'] });
    // a good reading (40 %) and the quality condition's clear make it certain again: 22.05·(0.4 vol) … R 46.23
    const certain = statuses.findIndex((s, i) => i > 2 && !s.uncertain);
    expect(statuses[certain]).toEqual({ R: 46.23, uncertain: false, tanks: [] });
    expect(statuses.slice(2, certain).every((s) => s.uncertain && s.R === 68.8)).toBe(true);
    // then both fall silent: stale → each counted at its filling limit (70.56 t), R = 84.67
    expect(statuses.slice(certain + 1)).toEqual([
      { R: 62.1, uncertain: true, tanks: ['cl-tk-2'] },
      { R: 84.67, uncertain: true, tanks: ['cl-tk-1', 'cl-tk-2'] },
    ]);
  });
});

describe('idleFor (device group duration)', () => {
  it('should release a group only after a whole check period without activity, however often it was active before', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ expectObservable, cold }) => {
      const activity = { seen: true };
      // The group's pipeline flags activity at 50 and 150 ms (check period 100 ms: checks at 100, 200, 300).
      cold('50ms a 99ms b').subscribe(() => (activity.seen = true));
      expectObservable(idleFor(100, ts, activity)).toBe('300ms a', { a: true });
    });
  });

  it('should release a group that never saw an element after one period', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ expectObservable }) => {
      expectObservable(idleFor(100, ts, { seen: false })).toBe('100ms a', { a: true });
    });
  });
});
