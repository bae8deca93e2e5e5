/**
 * In-process micro-benchmark of the rule engine: pushes synthetic readings through the full rule set (the demo
 * plant's config/rules.yaml, or a generated plant of N gas detectors in areas of 3 with votes) and prints the
 * evaluation cost per reading (µs) and the per-reading dispatch time p50/p99 (reading in → all its conditions out,
 * which is the engine's share of the condition latency).
 *
 *   npm run build && node dist/bench/rules.bench.js [--readings 2000000] [--devices 0 (=demo plant) | N] [--alarm-every 5000]
 */
import 'reflect-metadata';
import { join } from 'node:path';
import { asyncScheduler, Subject } from 'rxjs';
import { JsonLogger } from '../src/common/logger';
import type { Reading } from '../src/common/types';
import { indexPlant, loadPlant, type PlantModel } from '../src/config/config.loader';
import type { PlantSchema } from '../src/config/plant.schema';
import { ConditionStore } from '../src/rules/domain/condition-store';
import { buildEngine } from '../src/rules/domain/engine';
import type { DeviceStateEvent } from '../src/rules/domain/offline.rule';
import { compileRules } from '../src/rules/domain/rule-compiler';
import { loadRules, toPlantView } from '../src/rules/rules.loader';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v)) throw new Error(`--${name} must be a number`);
  return v;
}

function generatedPlant(n: number): PlantModel {
  const sites: PlantSchema['sites'] = [];
  const perSite = 500;
  for (let s = 0; s * perSite < n; s++) {
    const count = Math.min(perSite, n - s * perSite);
    sites.push({
      id: `bench-${s}`,
      name: `bench ${s}`,
      jurisdiction: 'tianjin/bench',
      location: { lat: 39, lon: 117 },
      hazardSources: [
        {
          id: `bench-${s}-src`,
          name: 'bench source',
          unitType: 'storage',
          peopleWithin500m: 10,
          filedGrade: 3,
          substances: [{ substance: 'methane', cas: '74-82-8', criticalQ: 50, beta: 1.5, designQ: 100 }],
        },
      ],
      devices: Array.from({ length: count }, (_, i) => ({
        id: `gd-${i}`,
        kind: 'gas_detector' as const,
        name: `gd ${i}`,
        sourceId: `bench-${s}-src`,
        area: `a${Math.floor(i / 3)}`,
        periodS: 2,
        gas: 'methane',
        gasClass: 'combustible' as const,
        unit: '%LEL' as const,
        level1: 20,
        level2: 40,
      })),
    });
  }
  return indexPlant({ sites });
}

function main(): void {
  JsonLogger.setLevel('error');
  const total = arg('readings', 2_000_000);
  const devicesArg = arg('devices', 0);
  const alarmEvery = arg('alarm-every', 5000);
  const configDir = join(__dirname, '..', '..', 'config');
  const plant = devicesArg > 0 ? generatedPlant(devicesArg) : loadPlant(configDir);
  const rules =
    devicesArg > 0
      ? (() => {
          const r = compileRules(toPlantView(plant), { version: 1 });
          if (!r.ok) throw new Error(JSON.stringify(r.problems));
          return r.rules;
        })()
      : loadRules(configDir, plant).rules;

  // one template reading per device channel with a normal value
  const templates: Array<{
    siteId: string;
    deviceId: string;
    channel: string;
    value: number | boolean | string;
  }> = [];
  for (const d of plant.deviceByKey.values()) {
    for (const [channel, spec] of d.channels) {
      const value =
        spec.type === 'boolean'
          ? false
          : spec.type === 'enum'
            ? channel === 'status'
              ? 'ok'
              : 'open'
            : channel === 'level_pct'
              ? 50
              : channel === 'temp_c'
                ? 20
                : channel === 'pressure_kpa'
                  ? 600
                  : 0.5;
      templates.push({ siteId: d.siteId, deviceId: d.id, channel, value });
    }
  }
  const telemetry$ = new Subject<Reading>();
  const deviceState$ = new Subject<DeviceStateEvent>();
  const store = new ConditionStore();
  let conditions = 0;
  let errors = 0;
  const engine = buildEngine(
    rules,
    { telemetry$, deviceState$ },
    { scheduler: asyncScheduler, store, hooks: { onRuleError: () => errors++, onLate: () => undefined } },
  );
  const sub = engine.conditions$.subscribe(() => conditions++);
  sub.add(engine.hazard$.subscribe());

  const startTs = Date.now();
  const samples: number[] = [];
  const alarmSamples: number[] = [];
  // Readings are pre-built in a ring so the loop measures the engine, not the generator.
  const ring: Reading[] = [];
  const ringSize = Math.max(templates.length * 4, 10_000);
  for (let i = 0; i < ringSize; i++) {
    const t = templates[i % templates.length]!;
    ring.push({
      siteId: t.siteId,
      deviceId: t.deviceId,
      channel: t.channel,
      value: t.value,
      quality: 'good',
      ts: 0,
      receivedAt: 0,
    });
  }
  const concs = templates.filter((t) => t.channel === 'conc');
  let spikes = 0;
  const run = (n: number, measure: boolean): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      // every `alarmEvery` readings one gas detector reads over its span (over_range raised at once, cleared by
      // its next normal reading): the dispatch time of readings that change conditions
      const spike = alarmEvery > 0 && i % alarmEvery === 0 && concs.length > 0;
      const base = spike ? concs[spikes++ % concs.length]! : ring[i % ringSize]!;
      // event time advances 1 ms per reading (50 k readings ≈ 50 s of plant time)
      const ts = startTs + i;
      const r: Reading = {
        siteId: base.siteId,
        deviceId: base.deviceId,
        channel: base.channel,
        value: spike ? 1e6 : base.value,
        quality: 'good',
        ts,
        receivedAt: ts,
      };
      if (measure && (i % 97 === 0 || spike)) {
        const before = conditions;
        const a = process.hrtime.bigint();
        telemetry$.next(r);
        const us = Number(process.hrtime.bigint() - a) / 1000;
        samples.push(us);
        if (conditions > before) alarmSamples.push(us);
      } else telemetry$.next(r);
    }
    return Number(process.hrtime.bigint() - t0) / 1000;
  };
  run(Math.min(200_000, total), false); // warm-up (JIT)
  const us = run(total, true);
  engine.dispose();
  sub.unsubscribe();
  const pct = (xs: number[], p: number): number => {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  };
  const perReading = us / total;
  const result = {
    plant: devicesArg > 0 ? `${devicesArg} generated gas detectors` : 'demo plant (config/)',
    devices: plant.deviceByKey.size,
    rules: rules.ruleCount,
    readings: total,
    usPerReading: Number(perReading.toFixed(3)),
    readingsPerSecondOneCore: Math.round(1e6 / perReading),
    cpuShareAt50kPerS: `${(((perReading * 50_000) / 1e6) * 100).toFixed(1)} % of one core`,
    dispatchUs: { p50: Number(pct(samples, 50).toFixed(2)), p99: Number(pct(samples, 99).toFixed(2)) },
    conditionDispatchUs: {
      count: alarmSamples.length,
      p50: Number(pct(alarmSamples, 50).toFixed(2)),
      p99: Number(pct(alarmSamples, 99).toFixed(2)),
    },
    conditionChanges: conditions,
    ruleErrors: errors,
    heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1e6),
  };
  process.stdout.write(
    `rule engine: ${result.usPerReading} µs/reading (${result.readingsPerSecondOneCore} readings/s on one core; at 50 k/s: ${result.cpuShareAt50kPerS})\n`,
  );
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  // asyncScheduler timers (stale, delays) would keep the process alive
  process.exit(0);
}

main();
