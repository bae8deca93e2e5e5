/**
 * Load-time consistency of the plant model with its own numbers (pure: no I/O). Errors stop start-up; warnings are
 * logged at start. Every message carries the numbers it was computed from. The rules are in docs/plant-model.md.
 */
import { alphaFor, gradeInventory } from '../rules/domain/hazard-grading';
import { maxFillLevelPct, DEFAULT_MAX_FILL_PCT, strappingProblems } from '../rules/domain/tank-geometry';
import type { DeviceSchema, PlantSchema, SiteSchema } from './plant.schema';
import { fmt, substanceRef, toxicCeilings } from './substances';

export type Problem = { path: string; reason: string };
export type Consistency = { errors: Problem[]; warnings: Problem[] };

const r2 = (x: number): string => (Math.round(x * 100) / 100).toString();

export function checkConsistency(plant: PlantSchema): Consistency {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  plant.sites.forEach((site, si) => {
    const sp = `sites[${si}]`;
    checkSources(site, sp, errors, warnings);
    site.devices.forEach((d, di) => checkDevice(site, d, `${sp}.devices[${di}]`, errors, warnings));
    checkGasCoverage(site, sp, errors);
    checkCauseAndEffect(site, sp, errors);
  });
  return { errors, warnings };
}

/** Design inventory against tank capacity, grade of R at design inventory against the filed grade, S ≥ 1. */
function checkSources(site: SiteSchema, sp: string, errors: Problem[], warnings: Problem[]): void {
  site.hazardSources.forEach((src, hi) => {
    const hp = `${sp}.hazardSources[${hi}]`;
    src.substances.forEach((sub, ki) => {
      const tanks = site.devices.filter(
        (d) => d.kind === 'tank' && d.sourceId === src.id && d.substance === sub.substance,
      );
      if (tanks.length === 0) return;
      let cap = 0;
      const parts: string[] = [];
      for (const t of tanks) {
        const fill = t.maxFillPct ?? DEFAULT_MAX_FILL_PCT;
        const c = (t.capacityM3 ?? 0) * (t.densityTPerM3 ?? 0) * (fill / 100);
        cap += c;
        parts.push(`${t.id} ${t.capacityM3 ?? 0} m³ × ${t.densityTPerM3 ?? 0} t/m³ × ${fill} %`);
      }
      const inTanks = sub.designQ - (sub.fixedQ ?? 0);
      if (inTanks > cap + 1e-9)
        errors.push({
          path: `${hp}.substances[${ki}].designQ`,
          reason: `design inventory ${r2(inTanks)} t of ${sub.substance} in tanks cannot fit them: ${parts.join(' + ')} = ${r2(cap)} t at the filling limit`,
        });
    });
    const alpha = alphaFor(src.peopleWithin500m);
    const { S, R, grade } = gradeInventory(
      src.substances.map((x) => ({ q: x.designQ, Q: x.criticalQ, beta: x.beta })),
      alpha,
    );
    if (grade !== src.filedGrade)
      warnings.push({
        path: `${hp}.filedGrade`,
        reason: `filed grade ${src.filedGrade} but R at design inventory is ${r2(R)} (α ${alpha}, ${src.substances
          .map((x) => `${x.substance} q ${x.designQ} t, Q ${x.criticalQ} t, β ${x.beta}`)
          .join('; ')}), which is grade ${grade}`,
      });
    if (S < 1)
      warnings.push({
        path: `${hp}.substances`,
        reason: `S at design inventory is ${r2(S)} < 1: '${src.id}' is not a major hazard source (GB 18218-2018)`,
      });
  });
}

function checkDevice(
  site: SiteSchema,
  d: DeviceSchema,
  dp: string,
  errors: Problem[],
  warnings: Problem[],
): void {
  if (d.kind !== 'tank') {
    for (const f of ['maxFillPct', 'geometry', 'strapping', 'tankType', 'levelSwitchHHPct'] as const)
      if (d[f] !== undefined)
        errors.push({ path: `${dp}.${f}`, reason: `only for a tank (this is a ${d.kind})` });
  }
  switch (d.kind) {
    case 'tank':
      return checkTank(d, dp, errors, warnings);
    case 'gas_detector':
      return checkGasDetector(d, dp, errors, warnings);
    case 'analog': {
      const l = d.limits ?? {};
      const order = (['LL', 'L', 'H', 'HH'] as const).filter((k) => l[k] !== undefined);
      for (let i = 1; i < order.length; i++)
        if (!(l[order[i]!]! > l[order[i - 1]!]!))
          errors.push({
            path: `${dp}.limits.${order[i]}`,
            reason: `must be above ${order[i - 1]} (${l[order[i - 1]!]})`,
          });
      return;
    }
    case 'weather':
      if (
        site.devices.filter((x) => x.kind === 'weather').length > 1 &&
        site.devices.find((x) => x.kind === 'weather') === d
      )
        warnings.push({
          path: dp,
          reason: `site '${site.id}' has more than one weather station; alarms carry the latest reading of any`,
        });
      return;
    case 'discrete':
    case 'safety_system':
    case 'shutoff_valve':
      return;
  }
}

function checkTank(d: DeviceSchema, dp: string, errors: Problem[], warnings: Problem[]): void {
  if (d.geometry === 'strapping') {
    const issues = strappingProblems(d.strapping);
    for (const reason of issues) errors.push({ path: `${dp}.strapping`, reason });
    const last = d.strapping?.[d.strapping.length - 1];
    if (
      !issues.length &&
      last &&
      d.capacityM3 !== undefined &&
      Math.abs(last[1] - d.capacityM3) > 0.01 * d.capacityM3
    )
      errors.push({
        path: `${dp}.strapping`,
        reason: `volume at level 100 is ${last[1]} m³ but capacityM3 is ${d.capacityM3} m³ (they must agree within 1 %)`,
      });
  } else if (d.strapping !== undefined)
    errors.push({ path: `${dp}.strapping`, reason: "only with geometry 'strapping'" });
  const fillLevel = maxFillLevelPct(d);
  if (d.levelSwitchHHPct !== undefined && d.levelSwitchHHPct > fillLevel)
    errors.push({
      path: `${dp}.levelSwitchHHPct`,
      reason: `HH level switch at ${d.levelSwitchHHPct} % is above the level ${fillLevel} % that holds the filling limit ${d.maxFillPct ?? DEFAULT_MAX_FILL_PCT} % of volume`,
    });
  if (d.tankType === undefined) {
    warnings.push({
      path: `${dp}.tankType`,
      reason:
        'not declared: pressure and temperature limits fall back to the instrument span (declare atmospheric, pressurised or refrigerated with design values)',
    });
    return;
  }
  for (const f of ['designPressureKpa', 'designMinTempC', 'designMaxTempC'] as const)
    if (d[f] === undefined) errors.push({ path: `${dp}.${f}`, reason: `required for a ${d.tankType} tank` });
  if (
    d.designMinTempC !== undefined &&
    d.designMaxTempC !== undefined &&
    d.designMinTempC >= d.designMaxTempC
  )
    errors.push({
      path: `${dp}.designMaxTempC`,
      reason: `must be above designMinTempC (${d.designMinTempC})`,
    });
  if (d.designPressureKpa !== undefined && d.designPressureKpa <= 0)
    errors.push({ path: `${dp}.designPressureKpa`, reason: 'must be > 0 kPa gauge' });
  const relief = d.reliefSetKpa ?? d.designPressureKpa;
  if (
    d.reliefSetKpa !== undefined &&
    d.designPressureKpa !== undefined &&
    d.reliefSetKpa > d.designPressureKpa
  )
    errors.push({
      path: `${dp}.reliefSetKpa`,
      reason: `relief set ${d.reliefSetKpa} kPa is above the design pressure ${d.designPressureKpa} kPa`,
    });
  const span = d.ranges?.pressure_kpa ?? [0, 2500];
  if (relief !== undefined && relief > 0 && 0.95 * relief > span[1])
    errors.push({
      path: `${dp}.ranges.pressure_kpa`,
      reason: `span tops at ${span[1]} kPa, below the pressure HH ${fmt(0.95 * relief)} kPa (95 % of the relief set ${relief} kPa)`,
    });
}

function checkGasDetector(d: DeviceSchema, dp: string, errors: Problem[], warnings: Problem[]): void {
  const span = d.ranges?.conc ?? [0, 100];
  if (d.level2 !== undefined && d.level2 > span[1])
    errors.push({
      path: `${dp}.level2`,
      reason: `${d.level2} ${d.unit ?? ''} is above the top of the range ${span[1]}`,
    });
  const ref = substanceRef(d.gas);
  if (!ref) {
    if (d.gasClass === 'toxic')
      warnings.push({
        path: `${dp}.gas`,
        reason: `no reference data for '${d.gas ?? ''}': toxic set points not checked against its OEL (add it to src/config/substances.ts)`,
      });
    return;
  }
  if (d.gasClass === 'combustible' && !ref.flammable)
    errors.push({
      path: `${dp}.gasClass`,
      reason: `'${ref.name}' is not flammable: a combustible detector cannot watch it`,
    });
  if (d.gasClass === 'combustible' && d.unit !== undefined && d.unit !== '%LEL')
    errors.push({ path: `${dp}.unit`, reason: 'a combustible detector reads %LEL' });
  if (d.gasClass !== 'toxic' || d.unit === undefined) return;
  if (!ref.toxic) {
    errors.push({
      path: `${dp}.gasClass`,
      reason: `'${ref.name}' has no occupational exposure limit: use a combustible detector`,
    });
    return;
  }
  if (d.unit === '%LEL') {
    errors.push({ path: `${dp}.unit`, reason: 'a toxic detector reads ppm or mg/m3' });
    return;
  }
  const c = toxicCeilings(ref, d.unit, span[1]);
  if (!c) {
    warnings.push({
      path: `${dp}.gas`,
      reason: `no OEL or IDLH for '${ref.name}': toxic set points not checked`,
    });
    return;
  }
  if (d.level1 !== undefined && d.level1 > c.level1 + 1e-9)
    errors.push({
      path: `${dp}.level1`,
      reason: `toxic level 1 ${d.level1} ${d.unit} is above ${fmt(c.level1)} ${d.unit} (${c.basis}; GB/T 50493-2019)`,
    });
  if (d.level2 !== undefined && d.level2 > c.level2 + 1e-9)
    errors.push({
      path: `${dp}.level2`,
      reason: `toxic level 2 ${d.level2} ${d.unit} is above ${fmt(c.level2)} ${d.unit} (2 × ${c.basis}; GB/T 50493-2019)`,
    });
}

/**
 * GB/T 50493-2019: a single-component gas that is both flammable and toxic needs toxic detection. An area with
 * combustible detectors for such a gas must also have toxic detectors for it.
 */
function checkGasCoverage(site: SiteSchema, sp: string, errors: Problem[]): void {
  const byArea = new Map<string, DeviceSchema[]>();
  for (const d of site.devices)
    if (d.kind === 'gas_detector') byArea.set(d.area, [...(byArea.get(d.area) ?? []), d]);
  for (const [area, ds] of byArea) {
    const gases = new Set(ds.filter((d) => d.gasClass === 'combustible').map((d) => d.gas ?? ''));
    for (const gas of gases) {
      const ref = substanceRef(gas);
      if (!ref || !(ref.flammable && ref.toxic)) continue;
      if (ds.some((d) => d.gasClass === 'toxic' && d.gas === gas)) continue;
      const first = site.devices.indexOf(ds.find((d) => d.gas === gas)!);
      errors.push({
        path: `${sp}.devices[${first}]`,
        reason: `'${gas}' is flammable and toxic: area '${area}' needs toxic detectors (ppm or mg/m3 at OEL set points), not only %LEL ones (GB/T 50493-2019)`,
      });
    }
  }
}

function checkCauseAndEffect(site: SiteSchema, sp: string, errors: Problem[]): void {
  const ids = new Set<string>();
  const byId = new Map(site.devices.map((d) => [d.id, d]));
  (site.causeAndEffect ?? []).forEach((ce, i) => {
    const p = `${sp}.causeAndEffect[${i}]`;
    if (ids.has(ce.id)) errors.push({ path: `${p}.id`, reason: `duplicate cause-and-effect id '${ce.id}'` });
    ids.add(ce.id);
    const c = ce.cause;
    const kinds = [c.vote, c.levelSwitchHH, c.discrete, c.rule].filter((x) => x !== undefined).length;
    if (kinds !== 1)
      errors.push({
        path: `${p}.cause`,
        reason: 'needs exactly one of vote, levelSwitchHH, discrete or rule (+ condition)',
      });
    if ((c.rule === undefined) !== (c.condition === undefined))
      errors.push({ path: `${p}.cause`, reason: 'rule and condition go together' });
    if (
      c.vote !== undefined &&
      site.devices.filter((d) => d.kind === 'gas_detector' && d.area === c.vote).length < 2
    )
      errors.push({
        path: `${p}.cause.vote`,
        reason: `area '${c.vote}' has fewer than 2 gas detectors to vote`,
      });
    if (c.levelSwitchHH !== undefined) {
      const t = byId.get(c.levelSwitchHH);
      if (!t || t.kind !== 'tank')
        errors.push({
          path: `${p}.cause.levelSwitchHH`,
          reason: `'${c.levelSwitchHH}' is not a tank of site '${site.id}'`,
        });
      else if (t.levelSwitchHHPct === undefined)
        errors.push({
          path: `${p}.cause.levelSwitchHH`,
          reason: `tank '${t.id}' has no independent HH level switch (levelSwitchHHPct)`,
        });
    }
    if (c.discrete !== undefined && byId.get(c.discrete)?.kind !== 'discrete')
      errors.push({
        path: `${p}.cause.discrete`,
        reason: `'${c.discrete}' is not a discrete input of site '${site.id}'`,
      });
    ce.close.forEach((v, j) => {
      const dv = byId.get(v);
      if (!dv || dv.kind !== 'shutoff_valve')
        errors.push({
          path: `${p}.close[${j}]`,
          reason: `'${v}' is not a shut-off valve of site '${site.id}'`,
        });
    });
  });
}
