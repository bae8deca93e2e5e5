/**
 * Pure value generation for simulated devices: no I/O, no clock. A model is advanced by *model time*
 * (ms since the simulator started, normally sample index × period), so the same seed and the same
 * sampling give the same values, whatever the wall clock does.
 */
import type { ChannelValue, Quality } from '../src/common/types';
import type { DeviceInfo } from '../src/config/config.loader';
import type { ChannelSpec } from '../src/config/device-channels';
import { maxFillLevelPct } from '../src/rules/domain/tank-geometry';
import { createRng, hashSeed, type Rng } from './prng.util';

export type ChannelValues = Record<string, ChannelValue>;
export type Sample = { values: ChannelValues; quality: Quality };

/** The device fields a model needs (a `DeviceInfo` from the plant model satisfies it). */
export type SimDevice = Pick<
  DeviceInfo,
  | 'siteId'
  | 'id'
  | 'kind'
  | 'area'
  | 'sourceId'
  | 'periodS'
  | 'channels'
  | 'gas'
  | 'gasClass'
  | 'unit'
  | 'level1'
  | 'level2'
  | 'substance'
  | 'travelTimeS'
  | 'system'
  | 'maxFillPct'
  | 'geometry'
  | 'strapping'
  | 'levelSwitchHHPct'
  | 'limits'
  | 'alarmWhen'
  | 'reliefSetKpa'
>;

export type DeviceModel = {
  readonly device: SimDevice;
  /** Advances the model to `tMs` (non-decreasing) and returns the channel values at that time. */
  sample(tMs: number): Sample;
};

export const deviceKey = (d: Pick<SimDevice, 'siteId' | 'id'>): string => `${d.siteId}/${d.id}`;

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Rounds to a resolution that suits the span (about 1/2000 of it, to a power of ten). */
export function roundForSpan(v: number, span: readonly [number, number]): number {
  const decimals = clamp(-Math.floor(Math.log10((span[1] - span[0]) / 2000)), 0, 6);
  return Number(v.toFixed(decimals));
}

export function numberSpan(device: Pick<SimDevice, 'channels'>, channel: string): readonly [number, number] {
  const spec: ChannelSpec | undefined = device.channels.get(channel);
  if (!spec || spec.type !== 'number') throw new Error(`channel '${channel}' is not numeric`);
  return spec.span;
}

/** Ornstein–Uhlenbeck step: mean-reverting random walk with stationary sd `sd` and time constant `tauS`. */
function ouStep(rng: Rng, x: number, mean: number, sd: number, tauS: number, dtS: number): number {
  if (dtS <= 0) return x;
  const decay = Math.exp(-dtS / tauS);
  return mean + (x - mean) * decay + sd * Math.sqrt(1 - decay * decay) * rng.normal();
}

/**
 * Gas detector: clean air reads near zero with sensor noise, a slow zero drift and rare small blips
 * (a whiff from a flange, a passing truck) that decay within seconds. Everything stays well below level 1.
 */
function gasDetectorModel(device: SimDevice, rng: Rng): DeviceModel {
  const span = numberSpan(device, 'conc');
  const full = span[1] - span[0];
  const level1 = device.level1 ?? span[0] + 0.25 * full;
  const ceiling = span[0] + 0.5 * (level1 - span[0]);
  const noiseSd = Math.min(0.004 * full, 0.03 * (level1 - span[0]));
  const zero = span[0] + rng.uniform(0, 0.02) * (level1 - span[0]);
  const driftSd = 0.04 * (level1 - span[0]);
  let drift = rng.normal(0, driftSd);
  let blip = 0;
  let lastT: number | null = null;
  return {
    device,
    sample(tMs) {
      const dtS = lastT === null ? 0 : Math.max(0, (tMs - lastT) / 1000);
      lastT = tMs;
      drift = ouStep(rng, drift, 0, driftSd, 600, dtS);
      blip *= Math.exp(-dtS / 8);
      // About one blip per detector per half hour, 10–30 % of level 1.
      if (dtS > 0 && rng.chance(Math.min(1, dtS / 1800))) blip += rng.uniform(0.1, 0.3) * (level1 - span[0]);
      const raw = zero + drift + blip + rng.normal(0, noiseSd);
      const conc = roundForSpan(clamp(raw, span[0], Math.min(span[1], ceiling)), span);
      return { values: { conc, fault: false }, quality: 'good' };
    },
  };
}

/**
 * Vapour pressure at 20 °C, kPa absolute, of liquefied gases stored under pressure; others are atmospheric tanks.
 * Tank pressure channels read kPa gauge (docs/plant-model.md): absolute − 101.3.
 */
const VAPOUR_P20_KPA: Record<string, number> = {
  chlorine: 680,
  ammonia: 857,
  'vinyl chloride': 343,
  propane: 836,
  lpg: 750,
  butadiene: 240,
  '1,3-butadiene': 240,
};
const ATMOSPHERIC_KPA = 101.3;
/** Nitrogen blanket of an atmospheric tank, kPa gauge (well below a breather valve set at 1.5–2 kPa). */
const BLANKET_KPA_G = 0.3;
const DAY_MS = 86_400_000;

type TankMode = 'filling' | 'emptying' | 'idle';

/**
 * Normal operation stays clear of every alarm: at most 72 % and at least 10 % below the tank's level HH (which sits
 * at the level holding its filling limit; H is 5 % below it), at least 20 % (L 10), and transfers of 5–12 %/h, so a
 * trend projected to HH is always more than 45 min away (the predictive overfill horizon is 30 min) and the rate of
 * change is far below 5 %/min.
 */
const MAX_FILL_PCT = 72;
const MIN_EMPTY_PCT = 20;
const MIN_RATE_PCT_PER_H = 5;
const MAX_RATE_PCT_PER_H = 12;

/** Highest level the normal-operation model fills a tank to. */
export function normalMaxLevel(device: Pick<SimDevice, 'maxFillPct' | 'geometry' | 'strapping'>): number {
  return Math.min(MAX_FILL_PCT, maxFillLevelPct(device) - 10);
}

/**
 * Tank: level moves slowly through fill / idle / empty cycles inside 20 % … normalMaxLevel; temperature follows a
 * daily swing plus a slow wobble; pressure (kPa gauge) follows temperature (vapour pressure of a liquefied gas) or,
 * for atmospheric tanks, sits at the nitrogen blanket with a small, smooth rise while filling. A tank with an
 * independent HH level switch reports it (level_switch_hh, false in normal operation).
 */
function tankModel(device: SimDevice, rng: Rng): DeviceModel {
  const levelSpan = numberSpan(device, 'level_pct');
  const tempSpan = numberSpan(device, 'temp_c');
  const pressSpan = numberSpan(device, 'pressure_kpa');
  const p20 = device.substance ? VAPOUR_P20_KPA[device.substance.toLowerCase()] : undefined;
  const maxLevel = normalMaxLevel(device);
  const ambient = rng.uniform(14, 24);
  const phase = rng.uniform(0, 2 * Math.PI);
  let level = rng.uniform(30, Math.min(65, maxLevel - 7));
  let mode: TankMode = 'idle';
  let ratePctPerS = 0;
  let target = level;
  let idleLeftS = rng.uniform(60, 600);
  let wobble = 0;
  let fillOffset = 0;
  let lastT: number | null = null;

  const chooseNext = (): void => {
    const canFill = level < maxLevel - 7;
    const canEmpty = level > 25;
    if (canFill && (!canEmpty || rng.chance(0.5))) {
      mode = 'filling';
      target = rng.uniform(Math.max(level + 5, 50), maxLevel);
    } else if (canEmpty) {
      mode = 'emptying';
      target = rng.uniform(MIN_EMPTY_PCT, Math.min(level - 5, 40));
    } else {
      mode = 'idle';
      idleLeftS = rng.uniform(60, 600);
      return;
    }
    ratePctPerS = rng.uniform(MIN_RATE_PCT_PER_H, MAX_RATE_PCT_PER_H) / 3600;
  };

  const advance = (dtS: number): void => {
    let left = dtS;
    while (left > 0) {
      if (mode === 'idle') {
        const d = Math.min(left, idleLeftS);
        idleLeftS -= d;
        left -= d;
        if (idleLeftS <= 0) chooseNext();
        continue;
      }
      const dir = mode === 'filling' ? 1 : -1;
      const toTarget = Math.abs(target - level) / ratePctPerS;
      const d = Math.min(left, toTarget);
      level += dir * ratePctPerS * d;
      left -= d;
      if (d >= toTarget) {
        level = target;
        mode = 'idle';
        idleLeftS = rng.uniform(300, 1800);
      }
    }
  };

  return {
    device,
    sample(tMs) {
      const dtS = lastT === null ? 0 : Math.max(0, (tMs - lastT) / 1000);
      lastT = tMs;
      advance(dtS);
      wobble = ouStep(rng, wobble, 0, 0.3, 900, dtS);
      const temp =
        ambient +
        3 * Math.sin((2 * Math.PI * tMs) / DAY_MS + phase) +
        wobble +
        (mode === 'filling' ? 0.4 : 0);
      // The blanket pressure follows filling / emptying with a 2-minute lag (no steps).
      const fillTarget = mode === 'filling' ? 0.4 : mode === 'emptying' ? -0.2 : 0;
      fillOffset = fillTarget + (fillOffset - fillTarget) * Math.exp(-dtS / 120);
      const pressure =
        p20 !== undefined
          ? p20 * Math.exp(0.028 * (temp - 20)) - ATMOSPHERIC_KPA + rng.normal(0, 2)
          : BLANKET_KPA_G + fillOffset + rng.normal(0, 0.03);
      const levelNow = clamp(level + rng.normal(0, 0.05), levelSpan[0], levelSpan[1]);
      const values: ChannelValues = {
        level_pct: roundForSpan(levelNow, levelSpan),
        temp_c: roundForSpan(clamp(temp + rng.normal(0, 0.05), tempSpan[0], tempSpan[1]), tempSpan),
        pressure_kpa: roundForSpan(clamp(pressure, pressSpan[0], pressSpan[1]), pressSpan),
      };
      if (device.levelSwitchHHPct !== undefined) values.level_switch_hh = levelNow >= device.levelSwitchHHPct;
      return { values, quality: 'good' };
    },
  };
}

/** Emergency shut-off valve in normal service: demanded open and open. */
function shutoffValveModel(device: SimDevice): DeviceModel {
  return { device, sample: () => ({ values: { position: 'open', demand: 'open' }, quality: 'good' }) };
}

/** One of the four safety systems, healthy. */
function safetySystemModel(device: SimDevice): DeviceModel {
  return { device, sample: () => ({ values: { status: 'ok' }, quality: 'good' }) };
}

/** Generic analog input (temperature, pressure, flow): wanders in the middle of its normal band, clear of its limits. */
function analogModel(device: SimDevice, rng: Rng): DeviceModel {
  const span = numberSpan(device, 'value');
  const lo = device.limits?.L ?? device.limits?.LL ?? span[0];
  const hi = device.limits?.H ?? device.limits?.HH ?? span[1];
  const mean = (lo + hi) / 2;
  const sd = 0.06 * (hi - lo);
  let x = mean + rng.normal(0, sd);
  let lastT: number | null = null;
  return {
    device,
    sample(tMs) {
      const dtS = lastT === null ? 0 : Math.max(0, (tMs - lastT) / 1000);
      lastT = tMs;
      x = ouStep(rng, x, mean, sd, 300, dtS);
      const v = clamp(x, lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo));
      return { values: { value: roundForSpan(v, span) }, quality: 'good' };
    },
  };
}

/** Discrete alarm input in normal service: the value that does not mean alarm. */
function discreteModel(device: SimDevice): DeviceModel {
  const normal = !(device.alarmWhen ?? true);
  return { device, sample: () => ({ values: { state: normal }, quality: 'good' }) };
}

/** Weather station: a sea breeze of a few m/s whose direction wanders slowly around the south-east. */
function weatherModel(device: SimDevice, rng: Rng): DeviceModel {
  let speed = rng.uniform(2, 5);
  let dir = rng.uniform(100, 170);
  let lastT: number | null = null;
  return {
    device,
    sample(tMs) {
      const dtS = lastT === null ? 0 : Math.max(0, (tMs - lastT) / 1000);
      lastT = tMs;
      speed = ouStep(rng, speed, 3.5, 1.2, 600, dtS);
      dir = ouStep(rng, dir, 135, 30, 1800, dtS);
      return {
        values: {
          wind_speed_ms: Number(clamp(speed, 0, 20).toFixed(1)),
          wind_dir_deg: Math.round(((dir % 360) + 360) % 360),
        },
        quality: 'good',
      };
    },
  };
}

/** A model for one device; its random stream depends only on `seed` and the device key. */
export function createDeviceModel(device: SimDevice, seed: number): DeviceModel {
  const rng = createRng(hashSeed(seed, deviceKey(device)));
  switch (device.kind) {
    case 'gas_detector':
      return gasDetectorModel(device, rng);
    case 'tank':
      return tankModel(device, rng);
    case 'shutoff_valve':
      return shutoffValveModel(device);
    case 'safety_system':
      return safetySystemModel(device);
    case 'analog':
      return analogModel(device, rng);
    case 'discrete':
      return discreteModel(device);
    case 'weather':
      return weatherModel(device, rng);
  }
}
