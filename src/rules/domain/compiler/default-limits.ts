/**
 * Default limits derived from the plant model (set points, instrument span, tank geometry, substance packs) and their
 * merge with rules.yaml: the numbers of the DOMAIN §3–§5 priority table (see ../rule-compiler.ts).
 */
import type { Priority } from '../../../common/types';
import type { DeviceView } from '../plant-view';
import type { LimitSpec } from '../rule-spec';
import type { LimitConfig } from '../rules-config';
import { DEFAULT_MAX_FILL_PCT, maxFillLevelPct } from '../tank-geometry';
import { S, type CompileContext } from './compile-context';

/** Default limits per channel, from the device's set points and instrument span. */
export function defaultLimits(d: DeviceView, channel: string): LimitSpec[] {
  const spec = d.channels.get(channel);
  if (!spec || spec.type !== 'number') return [];
  const [lo, hi] = spec.span;
  const w = hi - lo;
  if (d.kind === 'gas_detector' && channel === 'conc') {
    const out: LimitSpec[] = [];
    if (d.level1 !== undefined)
      out.push({
        condition: 'gas_l1',
        direction: 'high',
        value: d.level1,
        deadband: d.level1 * 0.1,
        onDelayMs: 2 * S,
        offDelayMs: 5 * S,
        priority: 'medium',
      });
    if (d.level2 !== undefined)
      out.push({
        condition: 'gas_l2',
        direction: 'high',
        value: d.level2,
        deadband: d.level2 * 0.1,
        onDelayMs: 2 * S,
        offDelayMs: 5 * S,
        priority: 'high',
      });
    return out;
  }
  if (d.kind === 'tank' && channel === 'level_pct') {
    const db = w * 0.05;
    // HH at the level that holds the filling limit (maxFillPct of volume, through the tank's geometry); H 5 % below.
    const hh = lo + (w * maxFillLevelPct(d)) / 100;
    return [
      {
        condition: 'LL',
        direction: 'low',
        value: lo + w * 0.05,
        deadband: db,
        onDelayMs: 10 * S,
        offDelayMs: 60 * S,
        priority: 'medium',
      },
      {
        condition: 'L',
        direction: 'low',
        value: lo + w * 0.1,
        deadband: db,
        onDelayMs: 10 * S,
        offDelayMs: 60 * S,
        priority: 'low',
      },
      {
        condition: 'H',
        direction: 'high',
        value: round1(hh - w * 0.05),
        deadband: db,
        onDelayMs: 10 * S,
        offDelayMs: 60 * S,
        priority: 'medium',
      },
      {
        condition: 'HH',
        direction: 'high',
        value: round1(hh),
        deadband: db,
        onDelayMs: 10 * S,
        offDelayMs: 60 * S,
        priority: 'high',
      },
    ];
  }
  if (d.kind === 'tank' && channel === 'temp_c') return tankTempLimits(d, lo, hi);
  if (d.kind === 'tank' && channel === 'pressure_kpa') return tankPressureLimits(d, lo, hi);
  if (d.kind === 'analog' && channel === 'value') return analogLimits(d, lo, hi);
  return [];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

const lim = (
  condition: string,
  direction: 'high' | 'low',
  value: number,
  deadband: number,
  onS: number,
  offS: number,
  priority: Priority,
): LimitSpec => ({
  condition,
  direction,
  value: round1(value),
  deadband,
  onDelayMs: onS * S,
  offDelayMs: offS * S,
  priority,
});

/**
 * Tank temperature: from the design window when the tank type is declared (H at 90 %, HH at 95 % of the window, L
 * 5 % above the design minimum; every on-delay ≤ the severer limit's, docs/alarm-lifecycle.md), else from the instrument span (75 % / 87.5 %). Substance packs replace the generic
 * values where the hazard needs them (docs/plant-model.md): hydrogen peroxide H 40 °C / HH 45 °C (decomposition;
 * with a rate-of-rise rule), benzene L 8 °C / LL 6.5 °C (freezes at 5.5 °C).
 */
function tankTempLimits(d: DeviceView, lo: number, hi: number): LimitSpec[] {
  const w = hi - lo;
  const db = w * 0.01;
  const out = new Map<string, LimitSpec>();
  if (d.tankType !== undefined && d.designMinTempC !== undefined && d.designMaxTempC !== undefined) {
    const dw = d.designMaxTempC - d.designMinTempC;
    out.set('L', lim('L', 'low', d.designMinTempC + 0.05 * dw, db, 15, 60, 'medium'));
    out.set('H', lim('H', 'high', d.designMaxTempC - 0.1 * dw, db, 15, 60, 'medium'));
    out.set('HH', lim('HH', 'high', d.designMaxTempC - 0.05 * dw, db, 15, 60, 'high'));
  } else {
    out.set('H', lim('H', 'high', lo + w * 0.75, db, 15, 60, 'medium'));
    out.set('HH', lim('HH', 'high', lo + w * 0.875, db, 15, 60, 'high'));
  }
  const pack = substancePack(d.substance);
  if (pack?.tempH !== undefined) out.set('H', lim('H', 'high', pack.tempH, db, 15, 60, 'medium'));
  if (pack?.tempHH !== undefined) out.set('HH', lim('HH', 'high', pack.tempHH, db, 15, 60, 'high'));
  if (pack?.tempL !== undefined) out.set('L', lim('L', 'low', pack.tempL, db, 15, 60, 'medium'));
  if (pack?.tempLL !== undefined) out.set('LL', lim('LL', 'low', pack.tempLL, db, 15, 60, 'high'));
  return [...out.values()];
}

/** Tank pressure (kPa gauge): H at 90 %, HH at 95 % of the relief set point (default the design pressure); else span. */
function tankPressureLimits(d: DeviceView, lo: number, hi: number): LimitSpec[] {
  const w = hi - lo;
  const relief = d.reliefSetKpa ?? d.designPressureKpa;
  if (d.tankType !== undefined && relief !== undefined && relief > 0)
    return [
      lim('H', 'high', 0.9 * relief, relief * 0.02, 5, 15, 'medium'),
      lim('HH', 'high', 0.95 * relief, relief * 0.02, 5, 15, 'high'),
    ];
  return [
    lim('H', 'high', lo + w * 0.8, w * 0.02, 5, 15, 'medium'),
    lim('HH', 'high', lo + w * 0.9, w * 0.02, 5, 15, 'high'),
  ];
}

/** Generic analog input: the limits it declares (LL/HH high-priority, L low, H medium), deadband 1 % of span. */
function analogLimits(d: DeviceView, lo: number, hi: number): LimitSpec[] {
  const db = (hi - lo) * 0.01;
  const l = d.limits ?? {};
  const out: LimitSpec[] = [];
  if (l.LL !== undefined) out.push({ ...lim('LL', 'low', l.LL, db, 5, 10, 'high'), value: l.LL });
  if (l.L !== undefined) out.push({ ...lim('L', 'low', l.L, db, 5, 10, 'low'), value: l.L });
  if (l.H !== undefined) out.push({ ...lim('H', 'high', l.H, db, 5, 10, 'medium'), value: l.H });
  if (l.HH !== undefined) out.push({ ...lim('HH', 'high', l.HH, db, 5, 10, 'high'), value: l.HH });
  return out;
}

/** Substance rule packs (docs/plant-model.md). */
type SubstancePack = {
  readonly tempH?: number;
  readonly tempHH?: number;
  readonly tempL?: number;
  readonly tempLL?: number;
  /** Temperature rate of rise, °C/min over the window (decomposition). */
  readonly tempRise?: { readonly perMin: number; readonly windowS: number; readonly priority: Priority };
};
const PACKS: Readonly<Record<string, SubstancePack>> = {
  'hydrogen peroxide': { tempH: 40, tempHH: 45, tempRise: { perMin: 0.2, windowS: 600, priority: 'high' } },
  benzene: { tempL: 8, tempLL: 6.5 },
};
export function substancePack(substance: string | undefined): SubstancePack | undefined {
  return substance === undefined ? undefined : PACKS[substance.trim().toLowerCase()];
}

/** The unit a channel's alarm messages show. */
export const unitOf = (d: DeviceView, channel: string): string =>
  channel === 'conc'
    ? (d.unit ?? '')
    : channel === 'level_pct'
      ? '%'
      : channel === 'temp_c'
        ? '°C'
        : channel === 'pressure_kpa'
          ? 'kPa'
          : channel === 'value'
            ? (d.unit ?? '')
            : channel === 'wind_speed_ms'
              ? 'm/s'
              : channel === 'wind_dir_deg'
                ? '°'
                : '';

/**
 * A channel's limits after its rules.yaml entry: entries override generated limits by condition key, add new ones
 * (direction, value and priority required) or disable them; the entry's deadband and delays apply to every limit it
 * does not list. Problems (low above high, negative deadband, …) go to the context.
 */
export function mergeLimits(
  base: LimitSpec[],
  cfg: LimitConfig,
  path: string,
  ctx: CompileContext,
): LimitSpec[] {
  const out = new Map(base.map((l) => [l.condition, l]));
  cfg.limits.forEach((e, i) => {
    const p = `${path}.limits[${i}]`;
    const prev = out.get(e.condition);
    if (e.disabled) {
      if (!prev)
        ctx.problems.push({
          path: `${p}.condition`,
          reason: `no limit '${e.condition}' to disable on this channel`,
        });
      out.delete(e.condition);
      return;
    }
    const direction = e.direction ?? prev?.direction;
    const value = e.value ?? prev?.value;
    const priority = e.priority ?? prev?.priority;
    if (direction === undefined)
      ctx.problems.push({ path: `${p}.direction`, reason: `required for the new limit '${e.condition}'` });
    if (value === undefined)
      ctx.problems.push({ path: `${p}.value`, reason: `required for the new limit '${e.condition}'` });
    if (priority === undefined)
      ctx.problems.push({ path: `${p}.priority`, reason: `required for the new limit '${e.condition}'` });
    if (direction === undefined || value === undefined || priority === undefined) return;
    out.set(e.condition, {
      condition: e.condition,
      direction,
      value,
      priority,
      deadband: e.deadband ?? cfg.deadband ?? prev?.deadband ?? 0,
      onDelayMs:
        e.onDelayS !== undefined
          ? e.onDelayS * S
          : cfg.onDelayS !== undefined
            ? cfg.onDelayS * S
            : (prev?.onDelayMs ?? 0),
      offDelayMs:
        e.offDelayS !== undefined
          ? e.offDelayS * S
          : cfg.offDelayS !== undefined
            ? cfg.offDelayS * S
            : (prev?.offDelayMs ?? 0),
    });
  });
  // Channel-wide deadband / delays also apply to the generated limits the entry did not list.
  const listed = new Set(cfg.limits.map((e) => e.condition));
  const merged = [...out.values()].map((l) =>
    listed.has(l.condition)
      ? l
      : {
          ...l,
          deadband: cfg.deadband ?? l.deadband,
          onDelayMs: cfg.onDelayS !== undefined ? cfg.onDelayS * S : l.onDelayMs,
          offDelayMs: cfg.offDelayS !== undefined ? cfg.offDelayS * S : l.offDelayMs,
        },
  );
  const highs = merged.filter((l) => l.direction === 'high').sort((a, b) => a.value - b.value);
  const lows = merged.filter((l) => l.direction === 'low').sort((a, b) => a.value - b.value);
  if (highs.length && lows.length && lows[lows.length - 1]!.value >= highs[0]!.value)
    ctx.problems.push({
      path: `${path}.limits`,
      reason: `low limit ${lows[lows.length - 1]!.condition} (${lows[lows.length - 1]!.value}) must be below high limit ${highs[0]!.condition} (${highs[0]!.value})`,
    });
  for (const l of merged)
    if (l.deadband < 0)
      ctx.problems.push({ path: `${path}.limits`, reason: `deadband of ${l.condition} must be ≥ 0` });
  return merged;
}

/** Tank level limits: H < HH ≤ the level holding the filling limit (an error names the numbers). */
export function checkLevelLimits(
  d: DeviceView,
  limits: readonly LimitSpec[],
  path: string,
  ctx: CompileContext,
): void {
  const h = limits.find((l) => l.condition === 'H')?.value;
  const hh = limits.find((l) => l.condition === 'HH')?.value;
  const fill = maxFillLevelPct(d);
  if (h !== undefined && hh !== undefined && !(h < hh))
    ctx.problems.push({ path, reason: `tank '${d.id}': level H ${h} % must be below HH ${hh} %` });
  if (hh !== undefined && hh > fill + 1e-9)
    ctx.problems.push({
      path,
      reason: `tank '${d.id}': level HH ${hh} % is above ${fill} %, the level that holds its filling limit of ${d.maxFillPct ?? DEFAULT_MAX_FILL_PCT} % of volume (${d.geometry ?? 'vertical_cylinder'}): HH would trip only after the limit is passed`,
    });
  if (hh === undefined)
    ctx.problems.push({
      path,
      reason: `tank '${d.id}': level HH must not be disabled (it guards the filling limit)`,
    });
}
