/**
 * What an alarm condition says about the plant, for the regulators' CAP register (docs/cap-profile.md): its class
 * (a release, a process excursion, a protection layer acting or failing, an instrument or data problem, a link loss,
 * an administrative matter), and from that the CAP severity, certainty and categories. A plant alarm is not a
 * government warning: the wording is 报警, never the 预警 grades. Pure.
 */
import type { Priority } from '../../common/types';
import type { CapCategory, CapCertainty, CapSeverity } from './cap.types';
import { CONSEQUENCE_RADIUS_KM, SUBSTANCES, type ConsequenceScenario } from '../../config/substances';

export type ConditionClass =
  | 'release'
  | 'fire'
  | 'process'
  | 'protection'
  | 'protection_degraded'
  | 'instrument'
  | 'link'
  | 'administrative';

type ClassRow = {
  readonly cls: ConditionClass;
  readonly severity: CapSeverity;
  readonly certainty: CapCertainty;
};

const TABLE: Readonly<Record<string, ClassRow>> = {
  // a single detector over its level: the gas is probably there; two agreeing detectors or a valve still open: seen
  gas_l1: { cls: 'release', severity: 'Minor', certainty: 'Likely' },
  gas_l2: { cls: 'release', severity: 'Moderate', certainty: 'Likely' },
  vote: { cls: 'release', severity: 'Severe', certainty: 'Observed' },
  gas_l2_valve_open: { cls: 'release', severity: 'Severe', certainty: 'Observed' },
  fire: { cls: 'fire', severity: 'Severe', certainty: 'Observed' },
  flame: { cls: 'fire', severity: 'Severe', certainty: 'Observed' },
  smoke: { cls: 'fire', severity: 'Moderate', certainty: 'Likely' },
  HH: { cls: 'process', severity: 'Moderate', certainty: 'Likely' },
  LL: { cls: 'process', severity: 'Moderate', certainty: 'Likely' },
  overfill_predicted: { cls: 'process', severity: 'Moderate', certainty: 'Possible' },
  H: { cls: 'process', severity: 'Minor', certainty: 'Likely' },
  L: { cls: 'process', severity: 'Minor', certainty: 'Likely' },
  roc_rise: { cls: 'process', severity: 'Minor', certainty: 'Possible' },
  roc_fall: { cls: 'process', severity: 'Minor', certainty: 'Possible' },
  shutoff_failed: { cls: 'protection', severity: 'Severe', certainty: 'Observed' },
  trip: { cls: 'protection', severity: 'Moderate', certainty: 'Observed' },
  uncommanded: { cls: 'protection', severity: 'Moderate', certainty: 'Observed' },
  bypassed: { cls: 'protection_degraded', severity: 'Minor', certainty: 'Observed' },
  system_fault: { cls: 'protection_degraded', severity: 'Minor', certainty: 'Observed' },
  valve_fault: { cls: 'protection_degraded', severity: 'Minor', certainty: 'Observed' },
  discrepancy: { cls: 'protection_degraded', severity: 'Minor', certainty: 'Observed' },
  stuck: { cls: 'protection_degraded', severity: 'Minor', certainty: 'Observed' },
  vote_degraded: { cls: 'protection_degraded', severity: 'Minor', certainty: 'Observed' },
  // the instrument or the data is in doubt: nothing is known about the process (no threat asserted)
  detector_fault: { cls: 'instrument', severity: 'Minor', certainty: 'Unknown' },
  quality_bad: { cls: 'instrument', severity: 'Minor', certainty: 'Unknown' },
  under_range: { cls: 'instrument', severity: 'Minor', certainty: 'Unknown' },
  over_range: { cls: 'instrument', severity: 'Minor', certainty: 'Unknown' },
  stale: { cls: 'instrument', severity: 'Minor', certainty: 'Unknown' },
  offline: { cls: 'instrument', severity: 'Minor', certainty: 'Unknown' },
  clock_fault: { cls: 'instrument', severity: 'Minor', certainty: 'Unknown' },
  site_offline: { cls: 'link', severity: 'Minor', certainty: 'Unknown' },
  disposal_overdue: { cls: 'administrative', severity: 'Minor', certainty: 'Observed' },
  webhook_failing: { cls: 'administrative', severity: 'Minor', certainty: 'Observed' },
  duty_check_missed: { cls: 'administrative', severity: 'Minor', certainty: 'Observed' },
};

const SEVERITY_ORDER: readonly CapSeverity[] = ['Minor', 'Moderate', 'Severe', 'Extreme'];

export type HazardContext = {
  /** Gas class of the alarm's detector (when the alarm has one). */
  readonly gasClass?: 'toxic' | 'combustible';
  /** The gas the detector measures. */
  readonly gas?: string;
  /** Substances of the alarm's hazard source (names as in src/config/substances.ts). */
  readonly substances?: readonly string[];
};

export type ConditionAssessment = {
  readonly cls: ConditionClass;
  readonly severity: CapSeverity;
  readonly certainty: CapCertainty;
  readonly categories: readonly CapCategory[];
  /** The accident scenario whose consequence zone the `<area>` shows (undefined: the source's worst case). */
  readonly scenario?: ConsequenceScenario;
};

function toxicRelease(ctx: HazardContext): boolean {
  if (ctx.gasClass !== undefined)
    return ctx.gasClass === 'toxic' || SUBSTANCES[ctx.gas ?? '']?.toxic === true;
  return (ctx.substances ?? []).some((s) => SUBSTANCES[s]?.toxic === true);
}

/** Class, severity, certainty and categories of a condition; `priority` critical raises a hazard one severity step. */
export function assessCondition(
  condition: string,
  priority: Priority,
  ctx: HazardContext = {},
): ConditionAssessment {
  const row = TABLE[condition] ??
    (/fire|flame/.test(condition) ? TABLE.fire : undefined) ?? {
      cls: 'process',
      severity: 'Minor',
      certainty: 'Possible',
    };
  const hazard =
    row.cls === 'release' || row.cls === 'fire' || row.cls === 'process' || row.cls === 'protection';
  const bump = hazard && priority === 'critical' ? 1 : 0;
  const severity = SEVERITY_ORDER[Math.min(SEVERITY_ORDER.indexOf(row.severity) + bump, 3)] ?? row.severity;
  if (row.cls === 'fire')
    return { cls: row.cls, severity, certainty: row.certainty, categories: ['Fire'], scenario: 'fire' };
  if (row.cls === 'release') {
    // a toxic cloud is a public-safety and an environmental matter; a flammable leak is not (yet) a fire
    const toxic = toxicRelease(ctx);
    return toxic
      ? { cls: row.cls, severity, certainty: row.certainty, categories: ['Safety', 'Env'], scenario: 'toxic' }
      : { cls: row.cls, severity, certainty: row.certainty, categories: ['Safety'], scenario: 'explosion' };
  }
  return { cls: row.cls, severity, certainty: row.certainty, categories: ['Safety'] };
}

/**
 * Radius of the consequence zone, km: the largest radius of the scenario over the source's substances; without a
 * scenario, the largest of any. Undefined when no substance has one (the caller then falls back to its setting).
 */
export function consequenceRadiusKm(
  substances: readonly string[],
  scenario: ConsequenceScenario | undefined,
  /** The source's filed radii (plant.yaml `consequenceRadiiKm`): a scenario given there replaces the defaults. */
  filed?: Partial<Record<ConsequenceScenario, number>>,
): number | undefined {
  const radius = (zones: Partial<Record<ConsequenceScenario, number>>): number | undefined =>
    scenario !== undefined ? zones[scenario] : Math.max(...Object.values(zones));
  if (scenario !== undefined && filed?.[scenario] !== undefined) return filed[scenario];
  let best: number | undefined;
  for (const s of substances) {
    const zones = CONSEQUENCE_RADIUS_KM[s];
    if (!zones) continue;
    // without a scenario: the worst case, where a filed radius replaces its scenario's default
    const r = radius(scenario === undefined && filed ? { ...zones, ...filed } : zones);
    if (r !== undefined && Number.isFinite(r) && (best === undefined || r > best)) best = r;
  }
  if (scenario === undefined && filed && best === undefined) best = radius(filed);
  return best;
}

/** Plant alarm priorities in the 报警 register (never the government 预警 grades Ⅰ级 特别严重 …). */
export const PRIORITY_ALARM_ZH: Readonly<Record<Priority, string>> = {
  critical: '紧急报警',
  high: '高优先级报警',
  medium: '中优先级报警',
  low: '低优先级报警',
};
