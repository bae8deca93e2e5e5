import { maxFillLevelPct } from '../src/rules/domain/tank-geometry';
import { createDeviceModel, normalMaxLevel, numberSpan, roundForSpan, type SimDevice } from './device.model';
import { demoDevices } from './demo-plant.fixture';

const HOUR_MS = 3_600_000;

type Samples = ReturnType<ReturnType<typeof createDeviceModel>['sample']>[];
const cache = new Map<string, Samples>();

/** Samples a device every period for `durationMs` of model time (memoised: several tests read the same long runs). */
function run(device: SimDevice, seed: number, durationMs: number, periodMs = device.periodS * 1000): Samples {
  const key = `${device.siteId}/${device.id}:${seed}:${durationMs}:${periodMs}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const model = createDeviceModel(device, seed);
  const out: Samples = [];
  for (let t = 0; t <= durationMs; t += periodMs) out.push(model.sample(t));
  cache.set(key, out);
  return out;
}

const ofKind = (kind: SimDevice['kind']): SimDevice[] => demoDevices().filter((d) => d.kind === kind);

describe('createDeviceModel', () => {
  it('should repeat the exact value sequence of every device when the seed is the same', () => {
    const fresh = (d: SimDevice, seed: number): Samples => {
      const model = createDeviceModel(d, seed);
      return Array.from({ length: 300 }, (_, k) => model.sample(k * d.periodS * 1000));
    };
    for (const d of demoDevices()) expect(fresh(d, 7)).toEqual(fresh(d, 7));
  });

  it('should give different gas and tank values when the seed differs', () => {
    for (const d of [...ofKind('gas_detector'), ...ofKind('tank')])
      expect(run(d, 7, 60_000)).not.toEqual(run(d, 8, 60_000));
  });

  it('should give two devices of the same kind different values when they share a seed', () => {
    const [a, b] = ofKind('gas_detector');
    expect(run(a!, 7, 60_000).map((s) => s.values.conc)).not.toEqual(
      run(b!, 7, 60_000).map((s) => s.values.conc),
    );
  });

  it('should keep gas readings inside the span and below half of level 1 when run for 12 simulated hours', () => {
    const bad: string[] = [];
    for (const d of ofKind('gas_detector')) {
      const span = numberSpan(d, 'conc');
      const top = Math.min(span[1], 0.5 * d.level1!);
      for (const s of run(d, 42, 12 * HOUR_MS)) {
        const conc = s.values.conc as number;
        if (s.quality !== 'good' || s.values.fault !== false || conc < span[0] || conc > top)
          bad.push(`${d.id}: ${JSON.stringify(s)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('should show sensor noise and occasional blips when a gas detector runs for hours', () => {
    for (const d of ofKind('gas_detector')) {
      const concs = run(d, 42, 12 * HOUR_MS).map((s) => s.values.conc as number);
      expect(new Set(concs).size).toBeGreaterThan(10);
      // A blip reaches at least 10 % of level 1 at some point in 12 h (about 24 blips expected).
      expect(Math.max(...concs)).toBeGreaterThan(0.1 * d.level1!);
    }
  });

  it('should keep tank values inside their spans and the level inside the operating band when run for 24 simulated hours', () => {
    const bad: string[] = [];
    for (const d of ofKind('tank')) {
      for (const s of run(d, 42, 24 * HOUR_MS)) {
        for (const ch of ['level_pct', 'temp_c', 'pressure_kpa']) {
          const span = numberSpan(d, ch);
          const v = s.values[ch] as number;
          if (v < span[0] || v > span[1]) bad.push(`${d.id}.${ch}=${v} outside span`);
        }
        const level = s.values.level_pct as number;
        const top = normalMaxLevel(d) + 0.5;
        if (level < 19.5 || level > top) bad.push(`${d.id}.level_pct=${level} outside 19.5–${top}`);
        // the independent HH switch stays quiet in normal operation
        if (s.values.level_switch_hh !== false)
          bad.push(`${d.id}.level_switch_hh=${String(s.values.level_switch_hh)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('should move tank levels slowly when a tank fills or empties', () => {
    for (const d of ofKind('tank')) {
      const levels = run(d, 42, 24 * HOUR_MS).map((s) => s.values.level_pct as number);
      expect(Math.max(...levels) - Math.min(...levels)).toBeGreaterThan(5);
      // Never faster than 12 %/h plus noise between two 5 s samples.
      const maxStep = Math.max(...levels.slice(1).map((l, i) => Math.abs(l - levels[i]!)));
      expect(maxStep).toBeLessThan(0.5);
    }
  });

  it("should never trend toward a tank's level HH within the 30 min overfill horizon in normal operation", () => {
    // Least-squares slope over the trailing 10 min (120 samples at 5 s), as the predictive overfill rule does.
    let worstMin = Infinity;
    for (const d of ofKind('tank')) {
      const hh = maxFillLevelPct(d);
      const levels = run(d, 42, 24 * HOUR_MS).map((s) => s.values.level_pct as number);
      for (let end = 120; end <= levels.length; end += 12) {
        const win = levels.slice(end - 120, end);
        const n = win.length;
        const mx = (n - 1) / 2;
        const my = win.reduce((a, b) => a + b, 0) / n;
        let num = 0;
        let den = 0;
        win.forEach((y, i) => {
          num += (i - mx) * (y - my);
          den += (i - mx) ** 2;
        });
        const slopePerMin = (num / den) * 12;
        if (slopePerMin > 0) worstMin = Math.min(worstMin, (hh - win.at(-1)!) / slopePerMin);
      }
    }
    expect(worstMin).toBeGreaterThan(45);
  });

  it('should make a liquefied-gas tank pressure follow its temperature (vapour pressure)', () => {
    const chlorine = ofKind('tank').find((d) => d.substance === 'chlorine')!;
    // kPa gauge: absolute vapour pressure − 101.3
    const errors = run(chlorine, 42, 24 * HOUR_MS).map((s) =>
      Math.abs(
        (s.values.pressure_kpa as number) -
          (680 * Math.exp(0.028 * ((s.values.temp_c as number) - 20)) - 101.3),
      ),
    );
    expect(Math.max(...errors)).toBeLessThan(15);
  });

  it('should keep an atmospheric tank at its nitrogen blanket, below 90 % of its breather valve set point (kPa gauge)', () => {
    const benzene = ofKind('tank').find((d) => d.substance === 'benzene')!;
    const pressures = run(benzene, 42, 6 * HOUR_MS).map((s) => s.values.pressure_kpa as number);
    expect(Math.min(...pressures)).toBeGreaterThan(-0.5);
    expect(Math.max(...pressures)).toBeLessThan(0.9 * benzene.reliefSetKpa!);
  });

  it('should keep analog inputs inside their L…H band, discrete inputs out of alarm and the weather plausible', () => {
    for (const d of ofKind('analog')) {
      const vs = run(d, 42, 6 * HOUR_MS).map((s) => s.values.value as number);
      expect(new Set(vs).size).toBeGreaterThan(10);
      expect(Math.min(...vs)).toBeGreaterThan(d.limits?.L ?? d.limits?.LL ?? numberSpan(d, 'value')[0]);
      expect(Math.max(...vs)).toBeLessThan(d.limits?.H ?? d.limits?.HH ?? numberSpan(d, 'value')[1]);
    }
    for (const d of ofKind('discrete'))
      for (const s of run(d, 42, HOUR_MS)) expect(s.values.state).toBe(!(d.alarmWhen ?? true));
    for (const d of ofKind('weather')) {
      const ss = run(d, 42, 6 * HOUR_MS);
      const speeds = ss.map((s) => s.values.wind_speed_ms as number);
      const dirs = ss.map((s) => s.values.wind_dir_deg as number);
      expect(Math.min(...speeds)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...speeds)).toBeLessThan(20);
      expect(new Set(speeds).size).toBeGreaterThan(10);
      expect(Math.min(...dirs)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...dirs)).toBeLessThan(360);
    }
    expect(
      ofKind('analog').length + ofKind('discrete').length + ofKind('weather').length,
    ).toBeGreaterThanOrEqual(3);
  });

  it('should report valves open on an open demand and safety systems ok in normal service', () => {
    for (const d of ofKind('shutoff_valve'))
      for (const s of run(d, 1, 60_000)) expect(s.values).toEqual({ position: 'open', demand: 'open' });
    for (const d of ofKind('safety_system'))
      for (const s of run(d, 1, 60_000)) expect(s.values).toEqual({ status: 'ok' });
  });
});

describe('roundForSpan', () => {
  it('should round to about 1/2000 of the span when given a value', () => {
    expect(roundForSpan(0.123456, [0, 20])).toBe(0.01 * Math.round(12.3456));
    expect(roundForSpan(12.3456, [0, 200])).toBe(12.3);
    expect(roundForSpan(612.345, [0, 2500])).toBe(612);
  });
});

describe('numberSpan', () => {
  it('should throw when the channel is not numeric', () => {
    const valve = ofKind('shutoff_valve')[0]!;
    expect(() => numberSpan(valve, 'position')).toThrow(/not numeric/);
  });
});
