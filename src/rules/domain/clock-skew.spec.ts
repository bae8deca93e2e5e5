/**
 * A device's clock never blinds the rule engine (docs/ingest-time-and-sequence.md): a reading dated in the future
 * does not move the engine's clock for that device, a late reading never suppresses a level alarm, and ingest's clock
 * changes raise and clear `clock_fault`. Virtual time: readings arrive at their frame (`receivedAt` = frame).
 */
import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { join } from 'node:path';
import { makeReading } from '../../../test/factories/reading.factory';
import { loadPlant } from '../../config/config.loader';
import { loadRules } from '../rules.loader';
import type { ChannelValue, Reading } from '../../common/types';
import type { ClockChange } from '../../common/types';
import type { ConditionChange } from './condition';
import { ConditionStore } from './condition-store';
import { buildEngine, evaluationTime } from './engine';
import type { DeviceStateEvent } from './offline.rule';

const demoDir = join(__dirname, '..', '..', '..', 'config');
const rules = loadRules(demoDir, loadPlant(demoDir)).rules;
const SITE = 'bohai-chem';

type Out = ConditionChange & { at: number };
type Send = (at: number, values: Record<string, ChannelValue>, over?: Partial<Reading>) => void;
type Scenario = {
  send: Send;
  clock(at: number, e: Omit<ClockChange, 'siteId' | 'deviceId' | 'ts'>): void;
};

/** Runs the demo rules in virtual time; `build` schedules cl-gd-1's messages (one batch per message, as ingest). */
function run(
  build: (s: Scenario) => void,
  mode: 'messages' | 'readings' = 'messages',
): { out: Out[]; late: number[] } {
  const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
  const out: Out[] = [];
  const late: number[] = [];
  ts.run(({ flush }) => {
    const telemetry$ = new Subject<Reading | readonly Reading[]>();
    const deviceState$ = new Subject<DeviceStateEvent>();
    const clock$ = new Subject<ClockChange>();
    const engine = buildEngine(
      rules,
      { telemetry$, deviceState$, clock$ },
      {
        scheduler: ts,
        store: new ConditionStore(),
        futureToleranceMs: 5000,
        hooks: {
          onRuleError: (k, id) => out.push({ error: `${k}:${id}` } as never),
          onLate: (_r, lag) => late.push(lag),
        },
      },
    );
    engine.conditions$.subscribe((c) => out.push({ ...c, at: ts.now() }));
    build({
      send: (at, values, over = {}) =>
        ts.schedule(() => {
          const readings = Object.entries(values).map(([channel, value]) =>
            makeReading({
              siteId: SITE,
              deviceId: 'cl-gd-1',
              channel,
              value,
              ts: at,
              receivedAt: at,
              ...over,
            }),
          );
          if (mode === 'messages') telemetry$.next(readings);
          else for (const r of readings) telemetry$.next(r);
        }, at),
      clock: (at, e) =>
        ts.schedule(() => clock$.next({ siteId: SITE, deviceId: 'cl-gd-1', ts: at, ...e }), at),
    });
    flush();
  });
  return { out, late };
}

const of = (out: Out[], condition: string): string[] =>
  out
    .filter((c) => c.deviceId === 'cl-gd-1' && c.condition === condition)
    .map((c) => `${c.active ? 'raised' : 'cleared'}@${c.at}`);

/** cl-gd-1 (level 2 = 2 mg/m3, on-delay 2 s): normal every 2 s, a real leak (5 mg/m3) from 20 s to 60 s. */
function leak(s: Scenario, extra: (s: Scenario) => void): void {
  for (let t = 0; t <= 60_000; t += 2000)
    if (t !== 10_000) s.send(t, { conc: t >= 20_000 ? 5 : 0.1, fault: false });
  extra(s);
}

describe('rule engine and device clocks', () => {
  it.each(['messages', 'readings'] as const)(
    'should raise a level alarm within its on-delay after a reading dated 280 s in the future (%s)',
    (mode) => {
      const { out } = run(
        (s) =>
          leak(s, () =>
            // the detector's clock jumps 280 s ahead for one message (inside INGEST_MAX_SKEW_S), then is right again
            s.send(10_000, { conc: 0.1, fault: false }, { ts: 10_000 + 280_000 }),
          ),
        mode,
      );
      // excursion from 20 s, on-delay 2 s: raised by the 22 s reading (before the fix: never within the test)
      expect(of(out, 'gas_l2')).toEqual(['raised@22000']);
      expect(of(out, 'gas_l1')).toEqual(['raised@22000']);
    },
  );

  it('should time a future-dated reading at its arrival, never ahead of it', () => {
    const at = evaluationTime(5000);
    expect(at(makeReading({ ts: 1_000_000 + 280_000, receivedAt: 1_000_000 }))).toBe(1_000_000);
    expect(at(makeReading({ ts: 1_000_000 + 5000, receivedAt: 1_000_000 }))).toBe(1_005_000); // within tolerance
    expect(at(makeReading({ ts: 1_000_000 - 60_000, receivedAt: 1_000_000 }))).toBe(940_000); // late: its own time
  });

  it('should not let a future-dated reading clear an active level alarm early', () => {
    const { out } = run((s) =>
      leak(s, () => {
        // while the leak is on (alarm raised at 22 s), one reading dated 280 s ahead says the gas is gone
        s.send(31_000, { conc: 0.1, fault: false }, { ts: 31_000 + 280_000 });
      }),
    );
    // it is evaluated at arrival (31 s): the next real readings (5 mg/m3 at 32 s) are not late and keep it raised;
    // the off-delay (5 s) never completes while the leak goes on
    expect(
      of(out, 'gas_l2').filter((x) => x.startsWith('cleared') && Number(x.split('@')[1]) <= 60_000),
    ).toEqual([]);
    expect(of(out, 'gas_l2')[0]).toBe('raised@22000');
  });

  it('should not let a late reading suppress a level alarm for the current readings', () => {
    const { out, late } = run((s) =>
      leak(s, () => {
        // buffered old readings arrive during the excursion: one beyond the lateness tolerance (30 s), one within
        s.send(21_000, { conc: 0.1, fault: false }, { ts: 21_000 - 60_000 });
        s.send(21_500, { conc: 0.1, fault: false }, { ts: 21_500 - 10_000 });
      }),
    );
    expect(of(out, 'gas_l2')).toEqual(['raised@22000']);
    expect(late.length).toBeGreaterThan(0); // the one beyond the tolerance was counted, not evaluated
  });

  it('should raise clock_fault (low) when ingest finds the clock ahead, and clear it when the clock is right again', () => {
    const { out } = run((s) => {
      for (let t = 0; t <= 30_000; t += 2000) s.send(t, { conc: 0.1, fault: false });
      s.clock(5000, { state: 'ahead', offsetMs: 280_000, limitMs: 5000 });
      s.clock(12_000, { state: 'ok', offsetMs: 200, limitMs: 5000 });
      s.clock(20_000, { state: 'behind', offsetMs: -600_000, limitMs: 60_000 });
    });
    const faults = out.filter((c) => c.condition === 'clock_fault');
    expect(faults.map((c) => [c.active, c.priority, c.at, c.value, c.ruleId])).toEqual([
      [true, 'low', 5000, 280, 'clock:cl-gd-1'],
      [false, 'low', 12_000, 0, 'clock:cl-gd-1'],
      [true, 'low', 20_000, -600, 'clock:cl-gd-1'],
    ]);
    expect(faults[0]!.message).toBe(
      'cl-gd-1 clock 280 s ahead of the server (tolerance 5 s): readings timed at arrival',
    );
    expect(faults[2]!.message).toBe(
      'cl-gd-1 clock 600 s behind the server (limit 60 s): readings timed at arrival',
    );
  });
});
