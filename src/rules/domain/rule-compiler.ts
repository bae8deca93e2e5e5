/**
 * Compiles the rule set: defaults derived from the plant model (so every device of the demo plant is covered), then
 * the overrides and explicit rules of rules.yaml. Pure: returns the compiled rules, or the problems found (path +
 * reason) for the loader to report with the file name.
 *
 * Defaults (DOMAIN §3–§5 priority table):
 * - gas detector: gas_l1 at level1 (medium), gas_l2 at level2 (high), deadband 10 % of the set point, on-delay 2 s,
 *   off-delay 5 s; over_range above span (high: a catalytic sensor can read falsely low, treat as level 2);
 *   under_range below −5 % of span (low: drift); `fault` → detector_fault (medium);
 * - tank level_pct: H 85 (medium), HH 90 (high), L 10 (low), LL 5 (medium), deadband 5 % of span, on-delay 10 s for
 *   all four (a milder limit never waits longer than the severer one: docs/alarm-lifecycle.md), off-delay 60 s;
 *   rate of change ±5 %/min (medium); predictive overfill 30 min (high);
 *   temp_c / pressure_kpa: H at 75 % / 80 % of span (medium), HH at 87.5 % / 90 % (high); over/under range (medium);
 * - shut-off valve: discrepancy / stuck / uncommanded / fault / trip with its travel time;
 * - safety system: fault (ESD: critical, others high), bypass (high → critical after the allowed time);
 * - every device: quality_bad (medium), stale after 3 periods (min 10 s, medium), LWT offline (medium), clock_fault
 *   (low: the device clock is ahead or behind, docs/ingest-time-and-sequence.md);
 * - every area with ≥ 2 gas detectors: vote 2ooN of gas_l2 within 60 s (critical), faulted excluded, vote_degraded
 *   (high); every area with a vote and shut-off valves: interlock supervision of the vote (travel time + 5 s, critical);
 * - every hazard source: live grading.
 */
import type { Priority } from '../../common/types';
import { onDelayOrderProblems } from './limit-order';
import { geometryOf, maxFillLevelPct, DEFAULT_MAX_FILL_PCT } from './tank-geometry';
import type { DeviceView, PlantView, SiteView } from './plant-view';
import {
  producibleKey,
  type ChannelRule,
  type ChannelRules,
  type CompiledRules,
  type CompositeRule,
  type CompositeTerm,
  type ConditionRef,
  type DeviceRule,
  type DeviceRules,
  type HazardSourceSpec,
  type InterlockRule,
  type LimitRule,
  type LimitSpec,
  type OverfillRule,
  type RocRule,
  type VoteRule,
} from './rule-spec';
import {
  DEFAULT_SETTINGS,
  type ConditionRefConfig,
  type LimitConfig,
  type RulesConfig,
  type RulesSettings,
} from './rules-config';

export type Problem = { path: string; reason: string };
export type CompileResult = { ok: true; rules: CompiledRules } | { ok: false; problems: Problem[] };

const S = 1000;

export const GAS_FAULT_CONDITIONS = ['detector_fault', 'quality_bad', 'stale', 'offline'] as const;

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

const unitOf = (d: DeviceView, channel: string): string =>
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

type Ctx = { problems: Problem[]; settings: RulesSettings };

function findDevice(site: SiteView | undefined, id: string): DeviceView | undefined {
  return site?.devices.find((d) => d.id === id);
}

function mergeLimits(base: LimitSpec[], cfg: LimitConfig, path: string, ctx: Ctx): LimitSpec[] {
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

function expandRef(ref: ConditionRefConfig, site: SiteView, path: string, ctx: Ctx): ConditionRef[] {
  const base = {
    siteId: site.id,
    condition: ref.condition,
    ...(ref.rule !== undefined ? { ruleId: ref.rule } : {}),
    ...(ref.source !== undefined ? { sourceId: ref.source } : {}),
  };
  if (ref.source !== undefined && !site.hazardSources.some((s) => s.id === ref.source))
    ctx.problems.push({
      path: `${path}.source`,
      reason: `unknown hazard source '${ref.source}' in site '${site.id}'`,
    });
  if (ref.device !== undefined) {
    if (!findDevice(site, ref.device))
      ctx.problems.push({
        path: `${path}.device`,
        reason: `unknown device '${ref.device}' in site '${site.id}'`,
      });
    return [{ ...base, deviceId: ref.device }];
  }
  if (ref.area !== undefined) {
    const devices = site.devices.filter((d) => d.area === ref.area);
    if (devices.length === 0) {
      ctx.problems.push({
        path: `${path}.area`,
        reason: `no device in area '${ref.area}' of site '${site.id}'`,
      });
      return [];
    }
    return devices.map((d) => ({ ...base, deviceId: d.id }));
  }
  return [base];
}

export function compileRules(plant: PlantView, config: RulesConfig): CompileResult {
  const settings: RulesSettings = { ...DEFAULT_SETTINGS, ...(config.settings ?? {}) };
  const ctx: Ctx = { problems: [], settings };
  const siteById = new Map(plant.sites.map((s) => [s.id, s]));
  const disabled = new Set(config.disable ?? []);
  const usedDisable = new Set<string>();
  const isOn = (ruleId: string): boolean => {
    if (!disabled.has(ruleId)) return true;
    usedDisable.add(ruleId);
    return false;
  };
  const site = (id: string, path: string): SiteView | undefined => {
    const s = siteById.get(id);
    if (!s) ctx.problems.push({ path: `${path}.site`, reason: `unknown site '${id}'` });
    return s;
  };
  const device = (
    s: SiteView,
    id: string,
    path: string,
    kind?: DeviceView['kind'],
  ): DeviceView | undefined => {
    const d = findDevice(s, id);
    if (!d) ctx.problems.push({ path: `${path}.device`, reason: `unknown device '${id}' in site '${s.id}'` });
    else if (kind && d.kind !== kind)
      ctx.problems.push({ path: `${path}.device`, reason: `'${id}' is a ${d.kind}, not a ${kind}` });
    return d;
  };

  // ---- index the overrides by site/device/channel
  const limitCfg = new Map<string, { cfg: LimitConfig; path: string }>();
  (config.limits ?? []).forEach((cfg, i) => {
    const path = `limits[${i}]`;
    const s = site(cfg.site, path);
    if (!s) return;
    const d = device(s, cfg.device, path);
    if (!d) return;
    const ch = d.channels.get(cfg.channel);
    if (!ch)
      ctx.problems.push({ path: `${path}.channel`, reason: `a ${d.kind} has no channel '${cfg.channel}'` });
    else if (ch.type !== 'number')
      ctx.problems.push({ path: `${path}.channel`, reason: `'${cfg.channel}' is not numeric` });
    const key = `${cfg.site}/${cfg.device}/${cfg.channel}`;
    if (limitCfg.has(key)) ctx.problems.push({ path, reason: `duplicate limits entry for ${key}` });
    limitCfg.set(key, { cfg, path });
  });
  const rocCfg = new Map<string, { cfg: NonNullable<RulesConfig['rateOfChange']>[number]; path: string }>();
  (config.rateOfChange ?? []).forEach((cfg, i) => {
    const path = `rateOfChange[${i}]`;
    const s = site(cfg.site, path);
    const d = s && device(s, cfg.device, path);
    if (d && d.channels.get(cfg.channel)?.type !== 'number')
      ctx.problems.push({
        path: `${path}.channel`,
        reason: `'${cfg.channel}' is not a numeric channel of ${d.kind}`,
      });
    rocCfg.set(`${cfg.site}/${cfg.device}/${cfg.channel}`, { cfg, path });
  });
  const overfillCfg = new Map<string, NonNullable<RulesConfig['overfill']>[number]>();
  (config.overfill ?? []).forEach((cfg, i) => {
    const path = `overfill[${i}]`;
    const s = site(cfg.site, path);
    if (s) device(s, cfg.device, path, 'tank');
    overfillCfg.set(`${cfg.site}/${cfg.device}`, cfg);
  });
  const systemCfg = new Map<string, NonNullable<RulesConfig['safetySystems']>[number]>();
  (config.safetySystems ?? []).forEach((cfg, i) => {
    const path = `safetySystems[${i}]`;
    const s = site(cfg.site, path);
    if (s) device(s, cfg.device, path, 'safety_system');
    systemCfg.set(`${cfg.site}/${cfg.device}`, cfg);
  });

  // ---- per-device rules
  const devices = new Map<string, Map<string, DeviceRules>>();
  const producible = new Set<string>();
  let ruleCount = 0;
  const produce = (siteId: string, ruleId: string, conditions: readonly string[]): void => {
    ruleCount++;
    for (const c of conditions) producible.add(producibleKey(siteId, ruleId, c));
  };
  const limitsByDevice = new Map<string, LimitSpec[]>();

  for (const s of plant.sites) {
    const siteDevices = new Map<string, DeviceRules>();
    devices.set(s.id, siteDevices);
    for (const d of s.devices) {
      const base = { siteId: s.id, sourceId: d.sourceId, deviceId: d.id };
      const channels = new Map<string, ChannelRule[]>();
      const add = (channel: string, rule: ChannelRule, conditions: readonly string[]): void => {
        if (!isOn(rule.ruleId)) return;
        let list = channels.get(channel);
        if (!list) channels.set(channel, (list = []));
        list.push(rule);
        produce(s.id, rule.ruleId, conditions);
      };
      for (const [channel, spec] of d.channels) {
        if (spec.type !== 'number') continue;
        const key = `${s.id}/${d.id}/${channel}`;
        const override = limitCfg.get(key);
        const limits = override
          ? mergeLimits(defaultLimits(d, channel), override.cfg, override.path, ctx)
          : defaultLimits(d, channel);
        ctx.problems.push(
          ...onDelayOrderProblems(
            limits,
            override ? `${override.path}.limits` : `(generated limits of ${s.id}/${d.id}.${channel})`,
          ),
        );
        if (channel === 'level_pct') {
          limitsByDevice.set(`${s.id}/${d.id}`, limits);
          if (d.kind === 'tank')
            checkLevelLimits(d, limits, override?.path ?? `(plant) site '${s.id}' tank '${d.id}'`, ctx);
        }
        if (limits.length) {
          const rule: LimitRule = {
            kind: 'limit',
            ruleId: `limit:${d.id}:${channel}`,
            ...base,
            channel,
            unit: unitOf(d, channel),
            limits,
          };
          add(
            channel,
            rule,
            limits.map((l) => l.condition),
          );
        }
        const [lo, hi] = spec.span;
        const w = hi - lo;
        const isGas = d.kind === 'gas_detector';
        add(
          channel,
          {
            kind: 'range',
            ruleId: `range:${d.id}:${channel}`,
            ...base,
            channel,
            unit: unitOf(d, channel),
            span: [lo, hi],
            overAbove: hi,
            underBelow: isGas ? lo - 0.05 * w : lo,
            overPriority: isGas ? 'high' : 'medium',
            underPriority: isGas ? 'low' : 'medium',
          },
          ['over_range', 'under_range'],
        );

        const roc = rocCfg.get(key);
        const rise =
          d.kind === 'tank' && channel === 'temp_c' ? substancePack(d.substance)?.tempRise : undefined;
        if (rise && !roc)
          add(
            channel,
            {
              kind: 'roc',
              ruleId: `roc:${d.id}:${channel}`,
              ...base,
              channel,
              unit: unitOf(d, channel),
              windowMs: rise.windowS * S,
              maxRisePerMin: rise.perMin,
              maxFallPerMin: null,
              clearFraction: 0.5,
              priority: rise.priority,
            },
            ['roc_rise', 'roc_fall'],
          );
        const rocDefault = d.kind === 'tank' && (channel === 'level_pct' || channel === 'pressure_kpa');
        if ((rocDefault || roc) && !roc?.cfg.disabled) {
          const dflt =
            channel === 'level_pct'
              ? { rise: 5, fall: 5, windowS: 60 }
              : { rise: w * 0.1, fall: w * 0.1, windowS: 30 };
          const rule: RocRule = {
            kind: 'roc',
            ruleId: `roc:${d.id}:${channel}`,
            ...base,
            channel,
            unit: unitOf(d, channel),
            windowMs: (roc?.cfg.windowS ?? dflt.windowS) * S,
            maxRisePerMin:
              roc?.cfg.maxRisePerMin !== undefined ? roc.cfg.maxRisePerMin : rocDefault ? dflt.rise : null,
            maxFallPerMin:
              roc?.cfg.maxFallPerMin !== undefined ? roc.cfg.maxFallPerMin : rocDefault ? dflt.fall : null,
            clearFraction: 0.5,
            priority: roc?.cfg.priority ?? 'medium',
          };
          if (rule.maxRisePerMin === null && rule.maxFallPerMin === null && roc)
            ctx.problems.push({ path: roc.path, reason: 'set maxRisePerMin and/or maxFallPerMin' });
          else add(channel, rule, ['roc_rise', 'roc_fall']);
        }
      }
      if (d.kind === 'tank') {
        const ov = overfillCfg.get(`${s.id}/${d.id}`);
        if (!ov?.disabled) {
          const hhLimit = limitsByDevice.get(`${s.id}/${d.id}`)?.find((l) => l.condition === 'HH')?.value;
          const hh = ov?.hh ?? hhLimit;
          if (hh === undefined)
            ctx.problems.push({
              path: `overfill`,
              reason: `tank '${d.id}' has no HH limit; set overfill.hh`,
            });
          else {
            const rule: OverfillRule = {
              kind: 'overfill',
              ruleId: `overfill:${d.id}`,
              ...base,
              channel: 'level_pct',
              hh,
              horizonMin: ov?.horizonMin ?? settings.overfillHorizonMin,
              windowMs: (ov?.windowS ?? settings.overfillWindowS) * S,
              minPoints: 6,
              priority: ov?.priority ?? 'high',
            };
            add('level_pct', rule, ['overfill_predicted']);
          }
        }
      }
      if (d.kind === 'gas_detector')
        add(
          'fault',
          {
            kind: 'flag',
            ruleId: `fault:${d.id}`,
            ...base,
            channel: 'fault',
            condition: 'detector_fault',
            priority: 'medium',
          },
          ['detector_fault'],
        );
      if (d.kind === 'tank' && d.channels.has('level_switch_hh'))
        add(
          'level_switch_hh',
          {
            kind: 'flag',
            ruleId: `lshh:${d.id}`,
            ...base,
            channel: 'level_switch_hh',
            condition: 'LSHH',
            priority: 'high',
          },
          ['LSHH'],
        );
      if (d.kind === 'discrete')
        add(
          'state',
          {
            kind: 'flag',
            ruleId: `discrete:${d.id}`,
            ...base,
            channel: 'state',
            condition: 'discrete_alarm',
            priority: d.priority ?? 'high',
            activeWhen: d.alarmWhen ?? true,
          },
          ['discrete_alarm'],
        );
      if (d.kind === 'safety_system') {
        const cfg = systemCfg.get(`${s.id}/${d.id}`);
        add(
          'status',
          {
            kind: 'safety_system',
            ruleId: `system:${d.id}`,
            ...base,
            channel: 'status',
            system: d.system ?? 'unknown',
            faultPriority: d.system === 'esd' ? 'critical' : 'high',
            bypassPriority: 'high',
            bypassAllowedMs: (cfg?.bypassAllowedS ?? settings.bypassAllowedS) * S,
            escalatedPriority: 'critical',
          },
          ['system_fault', 'bypassed'],
        );
      }
      const deviceRules: DeviceRule[] = [];
      if (isOn(`quality:${d.id}`)) {
        deviceRules.push({ kind: 'quality', ruleId: `quality:${d.id}`, ...base, priority: 'medium' });
        produce(s.id, `quality:${d.id}`, ['quality_bad']);
      }
      if (d.kind === 'shutoff_valve' && isOn(`valve:${d.id}`)) {
        deviceRules.push({
          kind: 'valve',
          ruleId: `valve:${d.id}`,
          ...base,
          travelMs: (d.travelTimeS ?? 30) * S,
          graceMs: settings.valveGraceS * S,
        });
        produce(s.id, `valve:${d.id}`, ['discrepancy', 'stuck', 'uncommanded', 'valve_fault', 'trip']);
      }
      const staleOn = isOn(`stale:${d.id}`);
      if (staleOn) produce(s.id, `stale:${d.id}`, ['stale']);
      const offlineOn = isOn(`offline:${d.id}`);
      if (offlineOn) produce(s.id, `offline:${d.id}`, ['offline']);
      const clockOn = isOn(`clock:${d.id}`);
      if (clockOn) produce(s.id, `clock:${d.id}`, ['clock_fault']);
      const chRules = new Map<string, ChannelRules>();
      for (const [ch, rules] of channels) chRules.set(ch, { channel: ch, rules });
      siteDevices.set(d.id, {
        siteId: s.id,
        deviceId: d.id,
        sourceId: d.sourceId,
        kind: d.kind,
        channels: chRules,
        deviceRules,
        stale: staleOn
          ? {
              kind: 'stale',
              ruleId: `stale:${d.id}`,
              ...base,
              timeoutMs: Math.max(settings.staleAfterPeriods * d.periodS, settings.staleMinS) * S,
              priority: 'medium',
            }
          : null,
        offline: offlineOn
          ? {
              kind: 'offline',
              ruleId: `offline:${d.id}`,
              ...base,
              delayMs: settings.offlineDelayS * S,
              priority: 'medium',
            }
          : null,
        // A wrong device clock is a maintenance condition: the readings are still evaluated (at arrival time).
        clock: clockOn ? { kind: 'clock', ruleId: `clock:${d.id}`, ...base, priority: 'low' } : null,
      });
    }
  }

  // ---- votes: defaults per area, replaced by explicit entries for the same site/area
  const votes = new Map<string, VoteRule>();
  for (const s of plant.sites) {
    const areas = new Map<string, DeviceView[]>();
    for (const d of s.devices)
      if (d.kind === 'gas_detector') areas.set(d.area, [...(areas.get(d.area) ?? []), d]);
    for (const [area, ds] of areas) {
      if (ds.length < 2) continue;
      votes.set(`${s.id}/${area}`, {
        kind: 'vote',
        ruleId: `vote:${area}`,
        siteId: s.id,
        sourceId: ds[0]!.sourceId,
        area,
        members: ds.map((d) => d.id),
        k: 2,
        memberCondition: 'gas_l2',
        faultConditions: GAS_FAULT_CONDITIONS,
        windowMs: 60 * S,
        faulted: 'excluded',
        priority: 'critical',
        degradedPriority: 'high',
      });
    }
  }
  (config.votes ?? []).forEach((cfg, i) => {
    const path = `votes[${i}]`;
    const s = site(cfg.site, path);
    if (!s) return;
    const key = `${s.id}/${cfg.area}`;
    if (cfg.disabled) {
      votes.delete(key);
      return;
    }
    const members =
      cfg.members ??
      s.devices.filter((d) => d.area === cfg.area && d.kind === 'gas_detector').map((d) => d.id);
    members.forEach((m, j) => device(s, m, `${path}.members[${j}]`, 'gas_detector'));
    if (members.length === 0)
      ctx.problems.push({
        path: `${path}.area`,
        reason: `no gas detector in area '${cfg.area}' of site '${s.id}'`,
      });
    if (cfg.k < 1 || cfg.k > members.length)
      ctx.problems.push({
        path: `${path}.k`,
        reason: `must be between 1 and the number of members (${members.length})`,
      });
    const sources = new Set(
      members.map((m) => findDevice(s, m)?.sourceId).filter((x): x is string => x !== undefined),
    );
    if (sources.size > 1)
      ctx.problems.push({
        path: `${path}.members`,
        reason: `members belong to different hazard sources (${[...sources].join(', ')})`,
      });
    votes.set(key, {
      kind: 'vote',
      ruleId: cfg.id ?? `vote:${cfg.area}`,
      siteId: s.id,
      sourceId: [...sources][0] ?? '',
      area: cfg.area,
      members,
      k: cfg.k,
      memberCondition: cfg.condition ?? 'gas_l2',
      faultConditions: GAS_FAULT_CONDITIONS,
      windowMs: (cfg.windowS ?? 60) * S,
      faulted: cfg.faulted,
      priority: cfg.priority ?? 'critical',
      degradedPriority: 'high',
    });
  });
  const voteList = [...votes.values()].filter((v) => isOn(v.ruleId));
  for (const v of voteList) produce(v.siteId, v.ruleId, ['vote', 'vote_degraded']);

  // ---- interlocks: default per voted area with valves, plus explicit ones
  const interlocks: InterlockRule[] = [];
  const valveSpec = (s: SiteView, d: DeviceView, closeWithinS?: number) => ({
    deviceId: d.id,
    sourceId: d.sourceId,
    closeWithinMs: (closeWithinS ?? (d.travelTimeS ?? 30) + settings.interlockMarginS) * S,
  });
  // Interlock supervision comes only from the plant's cause-and-effect matrix (never guessed from a vote).
  for (const s of plant.sites) {
    (s.causeAndEffect ?? []).forEach((ce, i) => {
      const path = `(plant) site '${s.id}' causeAndEffect[${i}]`;
      const c = ce.cause;
      let trigger: ConditionRef[] = [];
      if (c.vote !== undefined) {
        const v = voteList.find((x) => x.siteId === s.id && x.area === c.vote);
        if (!v)
          ctx.problems.push({
            path: `${path}.cause.vote`,
            reason: `no active vote for area '${c.vote}' (disabled?)`,
          });
        else trigger = [{ siteId: s.id, ruleId: v.ruleId, condition: 'vote' }];
      } else if (c.levelSwitchHH !== undefined)
        trigger = [
          { siteId: s.id, ruleId: `lshh:${c.levelSwitchHH}`, deviceId: c.levelSwitchHH, condition: 'LSHH' },
        ];
      else if (c.discrete !== undefined)
        trigger = [
          {
            siteId: s.id,
            ruleId: `discrete:${c.discrete}`,
            deviceId: c.discrete,
            condition: 'discrete_alarm',
          },
        ];
      else if (c.rule !== undefined && c.condition !== undefined)
        trigger = [{ siteId: s.id, ruleId: c.rule, condition: c.condition }];
      const valves = ce.close
        .map((id, j) => device(s, id, `${path}.close[${j}]`, 'shutoff_valve'))
        .filter((d): d is DeviceView => d !== undefined && d.kind === 'shutoff_valve');
      if (trigger.length === 0 || valves.length === 0) return;
      interlocks.push({
        kind: 'interlock',
        ruleId: ce.id,
        siteId: s.id,
        sourceId: valves[0]!.sourceId,
        trigger,
        valves: valves.map((d) => valveSpec(s, d, ce.closeWithinS)),
        priority: 'critical',
      });
    });
  }
  (config.interlocks ?? []).forEach((cfg, i) => {
    const path = `interlocks[${i}]`;
    const s = site(cfg.site, path);
    if (!s) return;
    const trigger = cfg.when.flatMap((ref, j) => expandRef(ref, s, `${path}.when[${j}]`, ctx));
    const valves = cfg.valves
      .map((id, j) => device(s, id, `${path}.valves[${j}]`, 'shutoff_valve'))
      .filter((d): d is DeviceView => d !== undefined && d.kind === 'shutoff_valve');
    if (cfg.when.length === 0)
      ctx.problems.push({ path: `${path}.when`, reason: 'needs at least one trigger condition' });
    interlocks.push({
      kind: 'interlock',
      ruleId: cfg.id,
      siteId: s.id,
      sourceId: valves[0]?.sourceId ?? '',
      trigger,
      valves: valves.map((d) => valveSpec(s, d, cfg.closeWithinS)),
      priority: cfg.priority ?? 'critical',
    });
  });
  const interlockList = interlocks.filter((r) => isOn(r.ruleId));
  for (const r of interlockList) produce(r.siteId, r.ruleId, ['shutoff_failed']);

  // ---- composites
  const composites: CompositeRule[] = [];
  (config.composites ?? []).forEach((cfg, i) => {
    const path = `composites[${i}]`;
    const s = site(cfg.site, path);
    if (!s) return;
    if (!s.hazardSources.some((h) => h.id === cfg.source))
      ctx.problems.push({
        path: `${path}.source`,
        reason: `unknown hazard source '${cfg.source}' in site '${s.id}'`,
      });
    const terms: CompositeTerm[] = [];
    cfg.terms.forEach((t, j) => {
      const tp = `${path}.terms[${j}]`;
      if ((t.condition === undefined) === (t.channel === undefined)) {
        ctx.problems.push({ path: tp, reason: 'needs exactly one of condition or channel' });
        return;
      }
      if (t.condition)
        terms.push({ kind: 'condition', refs: expandRef(t.condition, s, `${tp}.condition`, ctx) });
      if (t.channel) {
        const d = device(s, t.channel.device, `${tp}.channel`);
        if (d && !d.channels.has(t.channel.channel))
          ctx.problems.push({
            path: `${tp}.channel.channel`,
            reason: `a ${d.kind} has no channel '${t.channel.channel}'`,
          });
        if (['gt', 'ge', 'lt', 'le'].includes(t.channel.op) && typeof t.channel.value !== 'number')
          ctx.problems.push({
            path: `${tp}.channel.value`,
            reason: `must be a number for op '${t.channel.op}'`,
          });
        terms.push({
          kind: 'channel',
          siteId: s.id,
          deviceId: t.channel.device,
          channel: t.channel.channel,
          op: t.channel.op,
          value: t.channel.value,
        });
      }
    });
    if (cfg.terms.length === 0)
      ctx.problems.push({ path: `${path}.terms`, reason: 'needs at least one term' });
    composites.push({
      kind: 'composite',
      ruleId: cfg.id,
      siteId: s.id,
      sourceId: cfg.source,
      condition: cfg.condition,
      priority: cfg.priority,
      op: cfg.op,
      forMs: (cfg.forS ?? 0) * S,
      withinMs: (cfg.withinS ?? 0) * S,
      terms,
      message: cfg.message ?? `${cfg.id}: ${cfg.condition}`,
    });
  });
  const compositeList = composites.filter((r) => isOn(r.ruleId));
  for (const r of compositeList) produce(r.siteId, r.ruleId, [r.condition]);

  // ---- unique explicit ids per site
  const seen = new Set<string>();
  for (const r of [...voteList, ...interlockList, ...compositeList]) {
    const k = `${r.siteId}|${r.ruleId}`;
    if (seen.has(k))
      ctx.problems.push({ path: '(rules)', reason: `duplicate rule id '${r.ruleId}' in site '${r.siteId}'` });
    seen.add(k);
  }
  for (const id of disabled)
    if (!usedDisable.has(id)) ctx.problems.push({ path: 'disable', reason: `no rule with id '${id}'` });

  // ---- hazard sources
  const hazardSources: HazardSourceSpec[] = [];
  for (const s of plant.sites) {
    for (const h of s.hazardSources) {
      const tanks = s.devices.filter(
        (d) => d.kind === 'tank' && d.sourceId === h.id && d.substance !== undefined,
      );
      hazardSources.push({
        sourceId: h.id,
        siteId: s.id,
        name: h.name,
        filedGrade: h.filedGrade,
        peopleWithin500m: h.peopleWithin500m,
        substances: h.substances.map((sub) => ({
          substance: sub.substance,
          criticalQ: sub.criticalQ,
          beta: sub.beta,
          fixedQ: sub.fixedQ ?? 0,
          designQ: sub.designQ,
          tankCount: tanks.filter((t) => t.substance === sub.substance).length,
        })),
        tanks: tanks.map((t) => {
          const sub = h.substances.find((x) => x.substance === t.substance)!;
          const same = tanks.filter((x) => x.substance === t.substance);
          const totalCap = same.reduce((a, x) => a + (x.capacityM3 ?? 0), 0);
          const share =
            totalCap > 0
              ? (Math.max(0, sub.designQ - (sub.fixedQ ?? 0)) * (t.capacityM3 ?? 0)) / totalCap
              : 0;
          return {
            deviceId: t.id,
            substance: t.substance!,
            capacityM3: t.capacityM3 ?? 0,
            densityTPerM3: t.densityTPerM3 ?? 0,
            channel: 'level_pct',
            designShareT: share,
            geometry: geometryOf(t),
            maxFillT:
              ((t.capacityM3 ?? 0) * (t.densityTPerM3 ?? 0) * (t.maxFillPct ?? DEFAULT_MAX_FILL_PCT)) / 100,
          };
        }),
      });
    }
  }

  if (ctx.problems.length) return { ok: false, problems: ctx.problems };
  const rules: CompiledRules = {
    settings: { lateToleranceMs: settings.lateToleranceS * S, groupIdleMs: settings.groupIdleS * S },
    devices,
    votes: voteList,
    interlocks: interlockList,
    composites: compositeList,
    hazardSources,
    producible,
    ruleCount,
  };
  return { ok: true, rules };
}

/** Tank level limits: H < HH ≤ the level holding the filling limit (an error names the numbers). */
function checkLevelLimits(d: DeviceView, limits: readonly LimitSpec[], path: string, ctx: Ctx): void {
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

/** Priority order for sorting (critical first). */
export const PRIORITY_ORDER: readonly Priority[] = ['critical', 'high', 'medium', 'low'];
