import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { makeReading } from '../../test/factories/reading.factory';
import { pollUntil } from '../../test/setup/poll-until';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { Reading } from '../common/types';
import type { AppConfig } from '../config/app-config';
import { loadEnv, loadPlant } from '../config/config.loader';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import type { ConditionChange } from './domain/condition';
import type { HazardStatus } from './domain/hazard-grading';
import type { DeviceStateEvent } from './domain/offline.rule';
import { RulesService } from './rules.service';

JsonLogger.setLevel('error');
const demoDir = join(__dirname, '..', '..', 'config');

function configDir(rulesYaml?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-rulesvc-'));
  copyFileSync(join(demoDir, 'plant.yaml'), join(dir, 'plant.yaml'));
  writeFileSync(join(dir, 'rules.yaml'), rulesYaml ?? readFileSync(join(demoDir, 'rules.yaml'), 'utf8'));
  return dir;
}

function appConfig(dir: string): AppConfig {
  return Object.freeze({
    env: loadEnv({ CONFIG_DIR: dir }),
    configDir: dir,
    dataDir: dir,
    plant: loadPlant(dir),
  });
}

async function metricValue(
  metrics: HazwatchMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (
    m?.values as Array<{ value: number; labels: Record<string, string | number> }> | undefined
  )?.find((x) => Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val));
  return v?.value ?? 0;
}

type Rig = {
  service: RulesService;
  metrics: HazwatchMetrics;
  out: ConditionChange[];
  hazards: HazardStatus[];
  telemetry$: Subject<Reading>;
  state$: Subject<DeviceStateEvent>;
  clock: ManualClock;
  dir: string;
};

function rig(scheduler: TestScheduler | undefined, dir = configDir(), watch = false): Rig {
  const metrics = new HazwatchMetrics(false);
  const clock = new ManualClock(0);
  const service = new RulesService(appConfig(dir), clock, metrics, scheduler, watch);
  service.onModuleInit();
  const telemetry$ = new Subject<Reading>();
  const state$ = new Subject<DeviceStateEvent>();
  const out: ConditionChange[] = [];
  const hazards: HazardStatus[] = [];
  service.conditions$.subscribe((c) => out.push(c));
  service.hazard$.subscribe((h) => hazards.push(h));
  service.start(telemetry$, state$);
  return { service, metrics, out, hazards, telemetry$, state$, clock, dir };
}

const gas = (value: number, ts: number, deviceId = 'cl-gd-1'): Reading =>
  makeReading({ deviceId, channel: 'conc', value, ts, receivedAt: ts });
const brief = (c: ConditionChange): string =>
  `${c.deviceId ?? c.ruleId}:${c.condition}${c.active ? '+' : '-'}`;

describe('RulesService', () => {
  it('should publish and count a condition raised by a reading, with its latency', async () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    let r!: Rig;
    ts.run(({ flush }) => {
      r = rig(ts);
      ts.schedule(() => r.telemetry$.next(gas(5, 0)), 0);
      ts.schedule(() => r.telemetry$.next(gas(5, 2000)), 2000);
      flush();
    });
    // (after the two readings the detector goes silent: stale is expected too, and not counted as reading-driven)
    expect(r.out.filter((c) => c.deviceId === 'cl-gd-1').map(brief)).toEqual([
      'cl-gd-1:gas_l1+',
      'cl-gd-1:gas_l2+',
      'cl-gd-1:stale+',
    ]);
    expect(
      await metricValue(r.metrics, 'hazwatch_rules_condition_changes_total', {
        active: 'true',
        priority: 'high',
      }),
    ).toBeGreaterThanOrEqual(1);
    const latency = (await r.metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'hazwatch_rules_condition_latency_seconds',
    );
    expect(
      (latency?.values as Array<{ metricName?: string; value: number }>).find(
        (v) => v.metricName === 'hazwatch_rules_condition_latency_seconds_count',
      )?.value,
    ).toBe(2);
    r.service.onModuleDestroy();
  });

  it("should attach the site's latest wind to the conditions raised there, and no stale wind", () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    let r!: Rig;
    ts.run(({ flush }) => {
      r = rig(ts);
      const wind = (ch: string, v: number, t: number): Reading =>
        makeReading({ deviceId: 'bhc-weather', channel: ch, value: v, ts: t, receivedAt: t });
      ts.schedule(() => {
        r.telemetry$.next(wind('wind_speed_ms', 3.2, 0));
        r.telemetry$.next(wind('wind_dir_deg', 135, 0));
        r.telemetry$.next(gas(1.5, 0));
      }, 0);
      ts.schedule(() => r.telemetry$.next(gas(1.5, 2000)), 2000);
      // 11 min later, no new wind: a level-2 on another detector carries no (stale) wind
      ts.schedule(() => {
        r.clock.set(660_000);
        r.telemetry$.next(gas(5, 660_000, 'cl-gd-2'));
      }, 660_000);
      ts.schedule(() => r.telemetry$.next(gas(5, 662_000, 'cl-gd-2')), 662_000);
      flush();
    });
    const l1 = r.out.find((c) => c.deviceId === 'cl-gd-1' && c.condition === 'gas_l1' && c.active)!;
    expect(l1.weather).toEqual({ windSpeedMs: 3.2, windDirDeg: 135, ts: 0 });
    expect(l1.message).toMatch(/ · wind 3\.2 m\/s from SE \(135°\)$/);
    const l2 = r.out.find((c) => c.deviceId === 'cl-gd-2' && c.condition === 'gas_l2' && c.active)!;
    expect(l2.weather).toBeUndefined();
    expect(l2.message).not.toContain('wind');
    // other sites have no weather station: nothing attached
    r.service.onModuleDestroy();
  });

  it('should keep the running rules and count the rejection when a reload finds an invalid file', async () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    let r!: Rig;
    ts.run(({ flush }) => {
      r = rig(ts);
      writeFileSync(
        join(r.dir, 'rules.yaml'),
        'version: 1\nvotes: [ { site: bohai-chem, area: cl-a1, k: 9, faulted: tripped } ]\n',
      );
      expect(r.service.reload()).toBe(false);
      // the old rules still evaluate: level 2 on two chlorine detectors votes (k = 2)
      for (const t of [0, 2000])
        ts.schedule(() => ['cl-gd-1', 'cl-gd-2'].forEach((d) => r.telemetry$.next(gas(5, t, d))), t);
      flush();
    });
    expect(await metricValue(r.metrics, 'hazwatch_rules_reloads_total', { result: 'invalid' })).toBe(1);
    expect(await metricValue(r.metrics, 'hazwatch_rules_reloads_total', { result: 'ok' })).toBe(0);
    expect(r.out.filter((c) => c.condition === 'vote' || c.condition === 'gas_l2').map(brief)).toEqual([
      'cl-gd-1:gas_l2+',
      'cl-gd-2:gas_l2+',
      'vote:cl-a1:vote+',
    ]);
  });

  it('should apply a changed limit after a reload and clear conditions of removed rules', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    let r!: Rig;
    ts.run(({ flush }) => {
      r = rig(ts, configDir('version: 1\n'));
      // tank temperature H (90 % of the design window −40…50 °C = 41 °C, HH 45.5 °C; on-delay 15 s like HH: docs/alarm-lifecycle.md)
      const temp = (v: number, t: number): Reading =>
        makeReading({ deviceId: 'cl-tk-1', channel: 'temp_c', value: v, ts: t, receivedAt: t });
      ts.schedule(() => r.telemetry$.next(temp(43, 0)), 0);
      ts.schedule(() => r.telemetry$.next(temp(43, 61_000)), 61_000);
      ts.schedule(() => {
        writeFileSync(join(r.dir, 'rules.yaml'), 'version: 1\ndisable: [ "limit:cl-tk-1:temp_c" ]\n');
        r.clock.set(62_000);
        expect(r.service.reload()).toBe(true);
      }, 62_000);
      ts.schedule(() => {
        writeFileSync(
          join(r.dir, 'rules.yaml'),
          'version: 1\nlimits:\n  - { site: bohai-chem, device: cl-gd-1, channel: conc, limits: [ { condition: gas_l1, value: 0.5, onDelayS: 0 } ] }\n',
        );
        expect(r.service.reload()).toBe(true);
        r.telemetry$.next(gas(0.6, 63_000));
      }, 63_000);
      flush();
    });
    const got = r.out
      .filter((c) => (c.deviceId === 'cl-tk-1' || c.deviceId === 'cl-gd-1') && c.condition !== 'stale')
      .map((c) => `${brief(c)}@${c.ts}`);
    expect(got).toEqual(['cl-tk-1:H+@15000', 'cl-tk-1:H-@62000', 'cl-gd-1:gas_l1+@63000']);
    expect(
      r.out.find((c) => c.deviceId === 'cl-tk-1' && c.condition === 'H' && !c.active)?.message,
    ).toContain('removed by a configuration reload');
    r.service.onModuleDestroy();
  });

  it('should not re-raise a condition still true after a reload (state survives the engine swap)', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    let r!: Rig;
    ts.run(({ flush }) => {
      r = rig(ts);
      ts.schedule(() => r.telemetry$.next(gas(5, 0)), 0);
      ts.schedule(() => r.telemetry$.next(gas(5, 2000)), 2000);
      ts.schedule(() => expect(r.service.reload()).toBe(true), 3000);
      ts.schedule(() => r.telemetry$.next(gas(5, 4000)), 4000);
      ts.schedule(() => r.telemetry$.next(gas(0, 6000)), 6000);
      flush();
    });
    // raised once; after the reload the seeded rule clears normally (off-delay 5 s)
    expect(
      r.out
        .filter((c) => c.deviceId === 'cl-gd-1' && c.condition !== 'stale')
        .map((c) => `${brief(c)}@${c.ts}`),
    ).toEqual([
      'cl-gd-1:gas_l1+@2000',
      'cl-gd-1:gas_l2+@2000',
      'cl-gd-1:gas_l1-@11000',
      'cl-gd-1:gas_l2-@11000',
    ]);
  });

  it('should publish hazard$ only when a grade changes and keep the snapshot current', () => {
    const r = rig(undefined);
    expect(r.service.hazardSnapshot()).toHaveLength(6);
    const lvl = (deviceId: string, v: number, t: number): Reading =>
      makeReading({ deviceId, channel: 'level_pct', value: v, ts: t, receivedAt: t });
    r.telemetry$.next(lvl('cl-tk-1', 50, 1)); // 22.05 t + 39.5 t design share → R 73.7, grade 2 (unchanged)
    r.telemetry$.next(lvl('cl-tk-2', 100, 2)); // 22.05 + 44.1 = 66.15 t → R 79.4, grade 2
    r.telemetry$.next(lvl('cl-tk-1', 100, 3)); // 88.2 t → R 105.8, grade 1
    expect(r.hazards.map((h) => [h.sourceId, h.grade])).toEqual([['bhc-cl2', 1]]);
    expect(r.service.hazardSnapshot().find((h) => h.sourceId === 'bhc-cl2')).toMatchObject({
      R: 105.84,
      grade: 1,
      level: 'red',
      updatedAt: 3,
    });
    r.service.onModuleDestroy();
  });

  it('should fail start-up with a ConfigError naming rules.yaml when the file is invalid', () => {
    const dir = configDir('version: 2\n');
    const service = new RulesService(
      appConfig(dir),
      new ManualClock(0),
      new HazwatchMetrics(false),
      undefined,
      false,
    );
    expect(() => service.onModuleInit()).toThrow(
      /Invalid configuration in .*rules\.yaml:\n {2}- version: version must be 1/,
    );
  });

  it('should reload by itself when rules.yaml changes on disk', async () => {
    const r = rig(undefined, configDir(), true);
    writeFileSync(join(r.dir, 'rules.yaml'), 'version: 1\n');
    await pollUntil(
      async () => (await metricValue(r.metrics, 'hazwatch_rules_reloads_total', { result: 'ok' })) >= 1,
      { timeoutMs: 5000, what: 'a hot reload after writing rules.yaml' },
    );
    writeFileSync(join(r.dir, 'rules.yaml'), 'not: [valid');
    await pollUntil(
      async () => (await metricValue(r.metrics, 'hazwatch_rules_reloads_total', { result: 'invalid' })) >= 1,
      { timeoutMs: 5000, what: 'a rejected reload after writing a broken rules.yaml' },
    );
    r.service.onModuleDestroy();
  });
});
