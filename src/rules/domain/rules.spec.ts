/** Virtual-time tests of the rule kinds other than limits (limit.rule.spec.ts) and the engine (engine.spec.ts). */
import { map, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { makeReading, readingAt } from '../../../test/factories/reading.factory';
import type { Reading } from '../../common/types';
import type { ConditionChange } from './condition';
import { createCompositeMachine } from './composite.rule';
import { alphaFor, gradeFor, gradeInventory } from './hazard-grading';
import { createInterlockMachine } from './interlock.rule';
import { TrendWindow } from './least-squares';
import { createOfflineMachine, type DeviceStateEvent } from './offline.rule';
import { createOverfillMachine, minutesToLimit } from './overfill.rule';
import { createQualityMachine } from './quality.rule';
import { createRangeMachine } from './range.rule';
import { createRocMachine } from './rate-of-change.rule';
import { runMachine, runMachines, type RuleMachine } from './rule-machine';
import type {
  CompositeRule,
  InterlockRule,
  OverfillRule,
  RangeRule,
  RocRule,
  SafetySystemRule,
  StaleRule,
  ValveRule,
  VoteRule,
} from './rule-spec';
import { createSafetySystemMachine } from './safety-system.rule';
import { createStaleMachine } from './stale.rule';
import { createValveMachine } from './valve.rule';
import { createVoteMachine } from './vote.rule';

const base = { siteId: 'bohai-chem', sourceId: 'bhc-cl2' };
const sched = (): TestScheduler => new TestScheduler((a, e) => expect(a).toEqual(e));
const short = (c: ConditionChange): string =>
  `${c.deviceId ? `${c.deviceId}:` : ''}${c.condition}${c.active ? '+' : '-'}${c.active && c.priority !== 'high' ? `/${c.priority}` : ''}@${c.ts}`;

/** Runs a machine over inputs pushed at their own `ts` (virtual time) and returns the compact changes. */
function drive<I extends { ts: number }>(
  create: () => RuleMachine<I>,
  inputs: I[],
  opts: { timeOf?: (i: I) => number } = {},
): string[] {
  const ts = sched();
  const out: string[] = [];
  ts.run(({ flush }) => {
    const src = new Subject<I>();
    for (const i of inputs) ts.schedule(() => src.next(i), opts.timeOf ? opts.timeOf(i) : i.ts);
    src
      .pipe(
        runMachine(create, { scheduler: ts, ...(opts.timeOf ? { timeOf: opts.timeOf } : {}) }),
        map(short),
      )
      .subscribe((s) => out.push(s));
    flush();
  });
  return out;
}

const cond = (over: Partial<ConditionChange>): ConditionChange => ({
  ruleId: 'limit:x:conc',
  condition: 'gas_l2',
  active: true,
  priority: 'high',
  value: 0,
  limit: 0,
  message: '',
  ts: 0,
  ...base,
  ...over,
});

describe('range rule', () => {
  const rule: RangeRule = {
    kind: 'range',
    ruleId: 'range:cl-gd-1:conc',
    ...base,
    deviceId: 'cl-gd-1',
    channel: 'conc',
    unit: 'mg/m3',
    span: [0, 20],
    overAbove: 20,
    underBelow: -1,
    overPriority: 'high',
    underPriority: 'low',
  };
  it('should flag over-range above the span and under-range below −5 % of span, and clear back in range', () => {
    expect(
      drive(
        () => createRangeMachine(rule),
        [readingAt(0, 21), readingAt(1, 19), readingAt(2, -0.5), readingAt(3, -2), readingAt(4, 0)],
      ),
    ).toEqual([
      'cl-gd-1:over_range+@0',
      'cl-gd-1:over_range-@1',
      'cl-gd-1:under_range+/low@3',
      'cl-gd-1:under_range-@4',
    ]);
  });
});

describe('quality rule', () => {
  it('should raise quality_bad on a bad reading and clear on the next good or uncertain one', () => {
    const rule = {
      kind: 'quality' as const,
      ruleId: 'quality:cl-gd-1',
      ...base,
      deviceId: 'cl-gd-1',
      priority: 'medium' as const,
    };
    expect(
      drive(
        () => createQualityMachine(rule),
        [
          readingAt(0, 1, { quality: 'bad' }),
          readingAt(1, 1, { quality: 'bad' }),
          readingAt(2, 1, { quality: 'uncertain' }),
        ],
      ),
    ).toEqual(['cl-gd-1:quality_bad+/medium@0', 'cl-gd-1:quality_bad-@2']);
  });
});

describe('rate-of-change rule', () => {
  const rule: RocRule = {
    kind: 'roc',
    ruleId: 'roc:t:level_pct',
    ...base,
    deviceId: 'cl-tk-1',
    channel: 'level_pct',
    unit: '%',
    windowMs: 60_000,
    maxRisePerMin: 5,
    maxFallPerMin: 5,
    clearFraction: 0.5,
    priority: 'medium',
  };
  const lvl = (t: number, v: number): Reading =>
    readingAt(t, v, { deviceId: 'cl-tk-1', channel: 'level_pct' });
  it('should raise when the level rises faster than the limit over the window and clear when it slows', () => {
    const inputs: Reading[] = [];
    for (let t = 0; t <= 60_000; t += 5000) inputs.push(lvl(t, 50 + (t / 60_000) * 10)); // 10 %/min
    for (let t = 65_000; t <= 180_000; t += 5000) inputs.push(lvl(t, 60)); // flat
    const got = drive(() => createRocMachine(rule), inputs);
    expect(got[0]).toBe('cl-tk-1:roc_rise+/medium@30000'); // half the window is needed
    expect(got[1]).toMatch(/^cl-tk-1:roc_rise-@\d+$/);
    expect(got).toHaveLength(2);
  });
  it('should ignore noise that has no trend', () => {
    const inputs = Array.from({ length: 40 }, (_, i) => lvl(i * 5000, 50 + (i % 2 === 0 ? 1 : -1)));
    expect(drive(() => createRocMachine(rule), inputs)).toEqual([]);
  });
});

describe('predictive overfill rule', () => {
  const rule: OverfillRule = {
    kind: 'overfill',
    ruleId: 'overfill:cl-tk-1',
    ...base,
    deviceId: 'cl-tk-1',
    channel: 'level_pct',
    hh: 85,
    horizonMin: 30,
    windowMs: 600_000,
    minPoints: 6,
    priority: 'high',
  };
  const lvl = (t: number, v: number): Reading =>
    readingAt(t, v, { deviceId: 'cl-tk-1', channel: 'level_pct' });
  it('should compute minutes to the limit from level and rate', () => {
    expect(minutesToLimit(70, 0.5, 85)).toBe(30);
    expect(minutesToLimit(90, 0.5, 85)).toBe(0);
    expect(minutesToLimit(70, 0, 85)).toBe(Infinity);
  });
  it('should raise when the fitted trend reaches HH within the horizon and clear when the trend reverses', () => {
    const inputs: Reading[] = [];
    // 1 %/min from 40 %: HH 85 is 45 min away at first, 30 min away at 55 %; filling stops at 60 % and the level falls
    for (let t = 0; t <= 20 * 60_000; t += 30_000) inputs.push(lvl(t, 40 + t / 60_000));
    for (let t = 20 * 60_000 + 30_000; t <= 40 * 60_000; t += 30_000)
      inputs.push(lvl(t, 60 - (t - 20 * 60_000) / 120_000));
    const got = drive(() => createOverfillMachine(rule), inputs);
    expect(got).toHaveLength(2);
    expect(got[0]).toBe(`cl-tk-1:overfill_predicted+@${15 * 60_000 + 30_000}`); // first fit with < 30 min left (55.5 %)
    expect(got[1]).toMatch(/^cl-tk-1:overfill_predicted-@\d+$/);
  });
  it('should fit a line exactly through collinear points, in event-time order even when a point arrives late', () => {
    const w = new TrendWindow(60_000, 8);
    w.add(0, 10);
    w.add(20_000, 30);
    w.add(10_000, 20); // late
    expect(w.fit()).toEqual({ slope: 0.001, yAtNewest: 30 });
    w.add(100_000, 110); // evicts points older than 40 s
    expect(w.size).toBe(1);
  });
});

describe('safety-system rule', () => {
  const rule = (system: string): SafetySystemRule => ({
    kind: 'safety_system',
    ruleId: `system:${system}`,
    ...base,
    deviceId: `cl-sys-${system}`,
    channel: 'status',
    system,
    faultPriority: system === 'esd' ? 'critical' : 'high',
    bypassPriority: 'high',
    bypassAllowedMs: 3_600_000,
    escalatedPriority: 'critical',
  });
  const st = (t: number, v: string, d: string): Reading =>
    readingAt(t, v, { deviceId: d, channel: 'status' });
  it('should raise a critical fault for the ESD and a high one for video', () => {
    expect(
      drive(
        () => createSafetySystemMachine(rule('esd')),
        [st(0, 'fault', 'cl-sys-esd'), st(10, 'ok', 'cl-sys-esd')],
      ),
    ).toEqual(['cl-sys-esd:system_fault+/critical@0', 'cl-sys-esd:system_fault-@10']);
    expect(drive(() => createSafetySystemMachine(rule('video')), [st(0, 'fault', 'cl-sys-video')])).toEqual([
      'cl-sys-video:system_fault+@0',
    ]);
  });
  it('should escalate a bypass to critical after the allowed time and report its duration on clear', () => {
    const got: ConditionChange[] = [];
    const ts = sched();
    ts.run(({ hot, flush }) => {
      hot('a 5399999ms b', {
        a: st(0, 'bypassed', 'cl-sys-lightning'),
        b: st(5_400_000, 'ok', 'cl-sys-lightning'),
      })
        .pipe(runMachine(() => createSafetySystemMachine(rule('lightning')), { scheduler: ts }))
        .subscribe((c) => got.push(c));
      flush();
    });
    expect(got.map(short)).toEqual([
      'cl-sys-lightning:bypassed+@0',
      'cl-sys-lightning:bypassed+/critical@3600000',
      'cl-sys-lightning:bypassed-@5400000',
    ]);
    expect(got[2]!.message).toContain('after 90 min');
  });
});

describe('valve rule', () => {
  const rule: ValveRule = {
    kind: 'valve',
    ruleId: 'valve:cl-xv-1',
    ...base,
    deviceId: 'cl-xv-1',
    travelMs: 15_000,
    graceMs: 2000,
  };
  const v = (t: number, position: string, demand?: string): Reading[] => [
    readingAt(t, position, { deviceId: 'cl-xv-1', channel: 'position' }),
    ...(demand ? [readingAt(t, demand, { deviceId: 'cl-xv-1', channel: 'demand' })] : []),
  ];
  it('should raise a critical discrepancy and stuck when a valve demanded closed is still moving after its travel time', () => {
    const got = drive(
      () => createValveMachine(rule),
      [...v(0, 'open', 'open'), ...v(1000, 'moving', 'closed'), ...v(20_000, 'closed', 'closed')],
    );
    expect(got).toEqual([
      'cl-xv-1:discrepancy+/critical@16000',
      'cl-xv-1:stuck+@16000',
      'cl-xv-1:stuck-@20000',
      'cl-xv-1:discrepancy-@20000',
      'cl-xv-1:trip+@20000',
    ]);
  });
  it('should date discrepancy and stuck at their deadline when an input past it arrives before the timer fires', () => {
    const m = createValveMachine(rule);
    const out: string[] = [];
    const emit = (c: ConditionChange): void => void out.push(short(c));
    for (const r of [...v(0, 'open', 'open'), ...v(1000, 'moving', 'closed'), ...v(16_001, 'moving')])
      m.input(r, r.ts, emit);
    expect(out).toEqual(['cl-xv-1:discrepancy+/critical@16000', 'cl-xv-1:stuck+@16000']);
  });
  it('should not raise anything when the valve closes within its travel time, except the trip', () => {
    expect(
      drive(
        () => createValveMachine(rule),
        [
          ...v(0, 'open', 'open'),
          ...v(1000, 'moving', 'closed'),
          ...v(10_000, 'closed', 'closed'),
          ...v(60_000, 'open', 'open'),
        ],
      ),
    ).toEqual(['cl-xv-1:trip+@10000', 'cl-xv-1:trip-@60000']);
  });
  it('should raise uncommanded when the position leaves the demand with no demand change', () => {
    expect(
      drive(
        () => createValveMachine(rule),
        [...v(0, 'open', 'open'), ...v(30_000, 'closed', 'open'), ...v(40_000, 'open', 'open')],
      ),
    ).toEqual(['cl-xv-1:uncommanded+@30000', 'cl-xv-1:uncommanded-@40000']);
  });
  it('should raise valve_fault on a fault position', () => {
    expect(
      drive(
        () => createValveMachine(rule),
        [...v(0, 'open', 'open'), ...v(5000, 'fault', 'open'), ...v(6000, 'open', 'open')],
      ),
    ).toEqual(expect.arrayContaining(['cl-xv-1:valve_fault+@5000', 'cl-xv-1:valve_fault-@6000']));
  });
});

describe('stale rule', () => {
  const rules: StaleRule[] = ['a', 'b'].map((d) => ({
    kind: 'stale',
    ruleId: `stale:${d}`,
    ...base,
    deviceId: d,
    timeoutMs: d === 'a' ? 10_000 : 30_000,
    priority: 'medium',
  }));
  it('should raise stale per device after its timeout without readings, from engine start for never-seen devices', () => {
    const r = (t: number, d: string): Reading => makeReading({ deviceId: d, ts: t, receivedAt: t });
    const got = drive(() => createStaleMachine(rules, 0), [r(5000, 'a'), r(25_000, 'b'), r(40_000, 'a')], {
      timeOf: (x) => x.receivedAt,
    });
    expect(got).toEqual([
      'a:stale+/medium@15000',
      'a:stale-@40000',
      'a:stale+/medium@50000',
      'b:stale+/medium@55000',
    ]);
  });
  it('should keep devices of the same id on different sites apart when their readings alternate', () => {
    const twoSites: StaleRule[] = ['s1', 's2'].map((siteId) => ({
      ...rules[0]!,
      ruleId: `stale:${siteId}:a`,
      siteId,
    }));
    const r = (t: number, siteId: string): Reading =>
      makeReading({ siteId, deviceId: 'a', ts: t, receivedAt: t });
    const m = createStaleMachine(twoSites, 0);
    const out: string[] = [];
    const emit = (c: ConditionChange): void => void out.push(`${c.siteId}:${short(c)}`);
    for (const x of [r(5000, 's1'), r(5000, 's1'), r(8000, 's2')]) m.input(x, x.receivedAt, emit);
    m.advance(16_000, emit);
    expect(out).toEqual(['s1:a:stale+/medium@15000']); // s2 heard at 8000: due at 18000
    m.advance(18_000, emit);
    expect(out).toEqual(['s1:a:stale+/medium@15000', 's2:a:stale+/medium@18000']);
  });
});

describe('offline rule', () => {
  it('should raise offline on the last will and clear when the device is back online', () => {
    const rule = {
      kind: 'offline' as const,
      ruleId: 'offline:cl-gd-1',
      ...base,
      deviceId: 'cl-gd-1',
      delayMs: 0,
      priority: 'medium' as const,
    };
    const e = (t: number, state: 'online' | 'offline'): DeviceStateEvent => ({
      siteId: 'bohai-chem',
      deviceId: 'cl-gd-1',
      state,
      ts: t,
    });
    expect(
      drive(() => createOfflineMachine(rule), [e(0, 'online'), e(1000, 'offline'), e(9000, 'online')]),
    ).toEqual(['cl-gd-1:offline+/medium@1000', 'cl-gd-1:offline-@9000']);
  });
});

describe('vote rule', () => {
  const vote = (over: Partial<VoteRule> = {}): VoteRule => ({
    kind: 'vote',
    ruleId: 'vote:cl-a1',
    ...base,
    area: 'cl-a1',
    members: ['g1', 'g2', 'g3'],
    k: 2,
    memberCondition: 'gas_l2',
    faultConditions: ['detector_fault', 'stale'],
    windowMs: 60_000,
    faulted: 'excluded',
    priority: 'critical',
    degradedPriority: 'high',
    ...over,
  });
  it('should trip 2oo3 when a second detector reaches level 2 within the window, and reset when the window expires', () => {
    const got = drive(
      () => createVoteMachine(vote()),
      [
        cond({ deviceId: 'g1', ts: 0 }),
        cond({ deviceId: 'g1', ts: 10_000, active: false }),
        cond({ deviceId: 'g2', ts: 50_000 }),
        cond({ deviceId: 'g2', ts: 80_000, active: false }),
      ],
    );
    // g1 counts until 10 s + 60 s = 70 s
    expect(got).toEqual(['vote+/critical@50000', 'vote-@70000']);
  });
  it('should not trip when the second detector comes after the window', () => {
    expect(
      drive(
        () => createVoteMachine(vote()),
        [
          cond({ deviceId: 'g1', ts: 0 }),
          cond({ deviceId: 'g1', ts: 1000, active: false }),
          cond({ deviceId: 'g2', ts: 62_000 }),
        ],
      ),
    ).toEqual([]);
  });
  it('should count a faulted detector as tripped when configured so (2oo3 → 1oo2)', () => {
    const got = drive(
      () => createVoteMachine(vote({ faulted: 'tripped' })),
      [cond({ deviceId: 'g3', condition: 'detector_fault', ts: 0 }), cond({ deviceId: 'g1', ts: 5000 })],
    );
    expect(got).toEqual(['vote+/critical@5000']);
  });
  it('should exclude faulted detectors when configured so (2oo3 → 2oo2) and report the vote degraded below k healthy', () => {
    const got = drive(
      () => createVoteMachine(vote()),
      [
        cond({ deviceId: 'g3', condition: 'detector_fault', ts: 0 }),
        cond({ deviceId: 'g1', ts: 5000 }),
        cond({ deviceId: 'g2', condition: 'stale', ts: 6000 }),
        cond({ deviceId: 'g2', condition: 'stale', ts: 7000, active: false }),
      ],
    );
    expect(got).toEqual(['vote_degraded+@6000', 'vote_degraded-@7000']);
  });
  it('should ignore other conditions and other areas', () => {
    expect(
      drive(
        () => createVoteMachine(vote()),
        [
          cond({ deviceId: 'other', ts: 0 }),
          cond({ deviceId: 'g1', condition: 'gas_l1', ts: 0 }),
          cond({ deviceId: 'g2', ts: 1, siteId: 'elsewhere' }),
        ],
      ),
    ).toEqual([]);
  });
});

describe('interlock rule', () => {
  const rule: InterlockRule = {
    kind: 'interlock',
    ruleId: 'interlock:cl-a1',
    ...base,
    trigger: [{ siteId: 'bohai-chem', ruleId: 'vote:cl-a1', condition: 'vote' }],
    valves: [
      { deviceId: 'cl-xv-1', sourceId: 'bhc-cl2', closeWithinMs: 20_000 },
      { deviceId: 'cl-xv-2', sourceId: 'bhc-cl2', closeWithinMs: 20_000 },
    ],
    priority: 'critical',
  };
  const trig = (t: number, active = true): ConditionChange =>
    cond({ ruleId: 'vote:cl-a1', condition: 'vote', ts: t, active });
  const pos = (t: number, d: string, p: string): Reading =>
    readingAt(t, p, { deviceId: d, channel: 'position' });
  it('should raise shutoff_failed for a valve that is not closed within its time and clear it when it closes', () => {
    const got = drive(
      () => createInterlockMachine(rule),
      [
        pos(0, 'cl-xv-1', 'open'),
        pos(0, 'cl-xv-2', 'open'),
        trig(1000),
        pos(8000, 'cl-xv-2', 'closed'),
        pos(30_000, 'cl-xv-1', 'closed'),
      ],
    );
    expect(got).toEqual(['cl-xv-1:shutoff_failed+/critical@21000', 'cl-xv-1:shutoff_failed-@30000']);
  });
  it('should clear a pending or active failure when the trigger ends', () => {
    expect(drive(() => createInterlockMachine(rule), [trig(0), trig(25_000, false)])).toEqual([
      'cl-xv-1:shutoff_failed+/critical@20000',
      'cl-xv-2:shutoff_failed+/critical@20000',
      'cl-xv-1:shutoff_failed-@25000',
      'cl-xv-2:shutoff_failed-@25000',
    ]);
    expect(drive(() => createInterlockMachine(rule), [trig(0), trig(5000, false)])).toEqual([]);
  });
  it('should not raise for a valve already closed when the trigger comes', () => {
    expect(
      drive(
        () => createInterlockMachine(rule),
        [pos(0, 'cl-xv-1', 'closed'), pos(0, 'cl-xv-2', 'closed'), trig(1000)],
      ),
    ).toEqual([]);
  });
});

describe('composite rule', () => {
  const composite = (over: Partial<CompositeRule> = {}): CompositeRule => ({
    kind: 'composite',
    ruleId: 'gas-valve-open',
    ...base,
    condition: 'gas_l2_valve_open',
    priority: 'critical',
    op: 'and',
    forMs: 10_000,
    withinMs: 0,
    terms: [
      {
        kind: 'condition',
        refs: [
          { siteId: 'bohai-chem', condition: 'gas_l2', deviceId: 'g1' },
          { siteId: 'bohai-chem', condition: 'gas_l2', deviceId: 'g2' },
        ],
      },
      {
        kind: 'channel',
        siteId: 'bohai-chem',
        deviceId: 'cl-xv-1',
        channel: 'position',
        op: 'eq',
        value: 'open',
      },
    ],
    message: 'gas with valve open',
    ...over,
  });
  const pos = (t: number, p: string): Reading =>
    readingAt(t, p, { deviceId: 'cl-xv-1', channel: 'position' });
  it('should raise "gas level 2 AND valve open after 10 s" and clear when the valve closes', () => {
    expect(
      drive(
        () => createCompositeMachine(composite()),
        [pos(0, 'open'), cond({ deviceId: 'g2', ts: 1000 }), pos(12_000, 'closed')],
      ),
    ).toEqual(['gas_l2_valve_open+/critical@11000', 'gas_l2_valve_open-@12000']);
  });
  it('should not raise when the valve closes before the 10 s', () => {
    expect(
      drive(
        () => createCompositeMachine(composite()),
        [pos(0, 'open'), cond({ deviceId: 'g1', ts: 1000 }), pos(9000, 'closed')],
      ),
    ).toEqual([]);
  });
  it('should raise an OR as soon as one term is true', () => {
    expect(
      drive(
        () => createCompositeMachine(composite({ op: 'or', forMs: 0 })),
        [
          pos(0, 'closed'),
          cond({ deviceId: 'g1', ts: 1000 }),
          cond({ deviceId: 'g1', ts: 2000, active: false }),
        ],
      ),
    ).toEqual(['gas_l2_valve_open+/critical@1000', 'gas_l2_valve_open-@2000']);
  });
  it('should correlate terms true within the window even if not at the same time', () => {
    const c = composite({
      forMs: 0,
      withinMs: 60_000,
      terms: [
        {
          kind: 'condition',
          refs: [{ siteId: 'bohai-chem', condition: 'system_fault', deviceId: 'lightning' }],
        },
        { kind: 'condition', refs: [{ siteId: 'bohai-chem', condition: 'bypassed', deviceId: 'esd' }] },
      ],
    });
    const got = drive(
      () => createCompositeMachine(c),
      [
        cond({ deviceId: 'lightning', condition: 'system_fault', ts: 0 }),
        cond({ deviceId: 'lightning', condition: 'system_fault', ts: 5000, active: false }),
        cond({ deviceId: 'esd', condition: 'bypassed', ts: 30_000 }),
      ],
    );
    // lightning fault counts until 65 s; the ESD bypass continues, so the composite clears at 65 s
    expect(got).toEqual(['gas_l2_valve_open+/critical@30000', 'gas_l2_valve_open-@65000']);
  });
});

describe('hazard grading (GB 18218-2018)', () => {
  it('should reproduce the DOMAIN worked example: 40 t Cl2 + 30 t NH3, α 1.5 → S 11, R 57, grade 2', () => {
    const r = gradeInventory(
      [
        { q: 40, Q: 5, beta: 4 },
        { q: 30, Q: 10, beta: 2 },
      ],
      1.5,
    );
    expect(r.S).toBe(11);
    expect(r.R).toBeCloseTo(57, 10);
    expect(r.grade).toBe(2);
  });
  it('should map people within 500 m to α and R to the grade thresholds 100 / 50 / 10', () => {
    expect([0, 1, 29, 30, 49, 50, 99, 100].map(alphaFor)).toEqual([0.5, 1, 1, 1.2, 1.2, 1.5, 1.5, 2]);
    expect([100, 99.99, 50, 49.99, 10, 9.99].map(gradeFor)).toEqual([1, 2, 2, 3, 3, 4]);
  });
});

describe('runMachines (one device group)', () => {
  it('should isolate a failing rule: the others keep evaluating and the failure is reported with its id', () => {
    const errors: string[] = [];
    const out: string[] = [];
    const range: RangeRule = {
      kind: 'range',
      ruleId: 'range:cl-gd-1:conc',
      ...base,
      deviceId: 'cl-gd-1',
      channel: 'conc',
      unit: '',
      span: [0, 20],
      overAbove: 20,
      underBelow: -1,
      overPriority: 'high',
      underPriority: 'low',
    };
    const broken = (): RuleMachine<Reading> => ({
      input: () => {
        throw new Error('boom');
      },
      advance: () => undefined,
      nextDue: () => Infinity,
    });
    const ts = sched();
    ts.run(({ hot, flush }) => {
      hot('a b', { a: readingAt(0, 25), b: readingAt(2, 5) })
        .pipe(
          runMachines(
            [
              { id: 'broken', create: broken },
              { id: 'range', create: () => createRangeMachine(range) },
            ],
            { scheduler: ts, onError: (id) => errors.push(id) },
          ),
          map(short),
        )
        .subscribe((s) => out.push(s));
      flush();
    });
    expect(out).toEqual(['cl-gd-1:over_range+@0', 'cl-gd-1:over_range-@2']);
    expect(errors).toEqual(['broken', 'broken']);
  });

  it('should route each input to the machines of its key plus the key-less ones, and arm the earliest cached deadline', () => {
    type In = { ts: number; ch: string };
    const seen: string[] = [];
    const fired: string[] = [];
    // A machine that records its inputs and asks to be advanced `after` ms after each one.
    const recorder = (name: string, after: number) => (): RuleMachine<In, string> => {
      let due = Infinity;
      return {
        input: (i, at) => {
          seen.push(`${name}<${i.ch}@${at}`);
          due = at + after;
        },
        advance: (at, emit) => {
          fired.push(`${name}@${at}`);
          emit(`${name}@${at}`);
          due = Infinity;
        },
        nextDue: () => due,
      };
    };
    const ts = sched();
    const out: string[] = [];
    ts.run(({ hot, flush }) => {
      hot('a 9ms b 49ms c', {
        a: { ts: 0, ch: 'conc' },
        b: { ts: 10, ch: 'fault' },
        c: { ts: 60, ch: 'other' },
      })
        .pipe(
          runMachines<In, string>(
            [
              { id: 'conc', key: 'conc', create: recorder('conc', 100) },
              { id: 'fault', key: 'fault', create: recorder('fault', 30) },
              { id: 'device', create: recorder('device', 1000) },
            ],
            { scheduler: ts, keyOf: (i) => i.ch },
          ),
        )
        .subscribe((o) => out.push(o));
      flush();
    });
    expect(seen).toEqual([
      'conc<conc@0',
      'device<conc@0',
      'fault<fault@10',
      'device<fault@10',
      'device<other@60',
    ]);
    // fault's deadline (10 + 30) comes first although conc's (0 + 100) was armed earlier; device's moves with each input.
    expect(fired).toEqual(['fault@40', 'conc@100', 'device@1060']);
    expect(out).toEqual(fired);
  });

  it('should refuse keyed machines without a keyOf', () => {
    expect(() =>
      runMachines(
        [
          {
            id: 'x',
            key: 'conc',
            create: () => ({ input: () => undefined, advance: () => undefined, nextDue: () => Infinity }),
          },
        ],
        { scheduler: sched() },
      ),
    ).toThrow(/keyOf/);
  });
});
