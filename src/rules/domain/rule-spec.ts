/**
 * Compiled rules: plain, validated, ready-to-run specifications (times in ms). Built from the plant model and
 * rules.yaml by the compiler; consumed by the rule machines and the engine.
 */
import type { TankGeometry } from './tank-geometry';
import type { DeviceKind, Priority } from '../../common/types';
import type { Direction } from './deadband';

export type RuleBase = { readonly ruleId: string; readonly siteId: string; readonly sourceId: string };
export type DeviceRuleBase = RuleBase & { readonly deviceId: string };

export type LimitSpec = {
  /** Condition key: 'H' | 'HH' | 'L' | 'LL' | 'gas_l1' | 'gas_l2' | any configured key. */
  readonly condition: string;
  readonly direction: Direction;
  readonly value: number;
  /** Absolute deadband in the channel's unit. */
  readonly deadband: number;
  readonly onDelayMs: number;
  readonly offDelayMs: number;
  readonly priority: Priority;
};

export type LimitRule = DeviceRuleBase & {
  readonly kind: 'limit';
  readonly channel: string;
  readonly unit: string;
  readonly limits: readonly LimitSpec[];
};

/** Over/under instrument span (4–20 mA style). Ingest already rejected values beyond the physical limits. */
export type RangeRule = DeviceRuleBase & {
  readonly kind: 'range';
  readonly channel: string;
  readonly unit: string;
  readonly span: readonly [number, number];
  /** over_range when value > overAbove; under_range when value < underBelow. */
  readonly overAbove: number;
  readonly underBelow: number;
  readonly overPriority: Priority;
  readonly underPriority: Priority;
};

/** A boolean channel that signals a fault when true (gas detector `fault`). */
export type FlagRule = DeviceRuleBase & {
  readonly kind: 'flag';
  readonly channel: string;
  readonly condition: string;
  readonly priority: Priority;
  /** The value that means active (default true). */
  readonly activeWhen?: boolean;
};

export type RocRule = DeviceRuleBase & {
  readonly kind: 'roc';
  readonly channel: string;
  readonly unit: string;
  readonly windowMs: number;
  /** Per minute; null = not checked. */
  readonly maxRisePerMin: number | null;
  readonly maxFallPerMin: number | null;
  /** Clears when the rate is back below this fraction of the limit. */
  readonly clearFraction: number;
  readonly priority: Priority;
};

export type OverfillRule = DeviceRuleBase & {
  readonly kind: 'overfill';
  readonly channel: string;
  /** Level (same unit as the channel) considered HH for the prediction. */
  readonly hh: number;
  readonly horizonMin: number;
  readonly windowMs: number;
  readonly minPoints: number;
  readonly priority: Priority;
};

export type SafetySystemRule = DeviceRuleBase & {
  readonly kind: 'safety_system';
  readonly channel: string;
  readonly system: string;
  readonly faultPriority: Priority;
  readonly bypassPriority: Priority;
  readonly bypassAllowedMs: number;
  readonly escalatedPriority: Priority;
};

export type ChannelRule = LimitRule | RangeRule | FlagRule | RocRule | OverfillRule | SafetySystemRule;

/** Device-level rules see every channel of the device. */
export type QualityRule = DeviceRuleBase & { readonly kind: 'quality'; readonly priority: Priority };
export type ValveRule = DeviceRuleBase & {
  readonly kind: 'valve';
  readonly travelMs: number;
  /** Position leaving the demanded state without a demand change within this grace is uncommanded. */
  readonly graceMs: number;
};
export type DeviceRule = QualityRule | ValveRule;

export type StaleRule = DeviceRuleBase & {
  readonly kind: 'stale';
  readonly timeoutMs: number;
  readonly priority: Priority;
};
export type OfflineRule = DeviceRuleBase & {
  readonly kind: 'offline';
  readonly delayMs: number;
  readonly priority: Priority;
};
/** The device's clock is wrong (ingest's clock tracker, docs/ingest-time-and-sequence.md): `clock_fault`. */
export type ClockRule = DeviceRuleBase & {
  readonly kind: 'clock';
  readonly priority: Priority;
};

export type ConditionRef = {
  readonly siteId: string;
  readonly ruleId?: string;
  readonly sourceId?: string;
  readonly deviceId?: string;
  readonly condition: string;
};

export type VoteRule = RuleBase & {
  readonly kind: 'vote';
  readonly area: string;
  readonly members: readonly string[];
  readonly k: number;
  /** Member condition that counts as "above the level" (default gas_l2). */
  readonly memberCondition: string;
  /** Member conditions that make a detector faulted. */
  readonly faultConditions: readonly string[];
  readonly windowMs: number;
  readonly faulted: 'tripped' | 'excluded';
  readonly priority: Priority;
  readonly degradedPriority: Priority;
};

export type InterlockValve = {
  readonly deviceId: string;
  readonly sourceId: string;
  readonly closeWithinMs: number;
};
export type InterlockRule = RuleBase & {
  readonly kind: 'interlock';
  /** Any active trigger condition demands the valves closed. */
  readonly trigger: readonly ConditionRef[];
  readonly valves: readonly InterlockValve[];
  readonly priority: Priority;
};

export type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
export type CompositeTerm =
  | { readonly kind: 'condition'; readonly refs: readonly ConditionRef[] }
  | {
      readonly kind: 'channel';
      readonly siteId: string;
      readonly deviceId: string;
      readonly channel: string;
      readonly op: CompareOp;
      readonly value: number | string | boolean;
    };

export type CompositeRule = RuleBase & {
  readonly kind: 'composite';
  readonly condition: string;
  readonly priority: Priority;
  readonly op: 'and' | 'or';
  /** The combination must hold this long before it is raised (it clears as soon as it is false). */
  readonly forMs: number;
  /** A term counts as true if it was true at any time within this window (0 = only now). */
  readonly withinMs: number;
  readonly terms: readonly CompositeTerm[];
  readonly message: string;
};

export type HazardTank = {
  readonly deviceId: string;
  readonly substance: string;
  readonly capacityM3: number;
  readonly densityTPerM3: number;
  readonly channel: string;
  readonly designShareT: number;
  /** Level → volume shape (docs/plant-model.md). */
  readonly geometry: TankGeometry;
  /** Inventory at the filling limit, tonnes (counted while the level is uncertain: an upper bound). */
  readonly maxFillT: number;
};
export type HazardSubstance = {
  readonly substance: string;
  readonly criticalQ: number;
  readonly beta: number;
  readonly fixedQ: number;
  readonly designQ: number;
  readonly tankCount: number;
};
export type HazardSourceSpec = {
  readonly sourceId: string;
  readonly siteId: string;
  readonly name: string;
  readonly filedGrade: number;
  readonly peopleWithin500m: number;
  readonly substances: readonly HazardSubstance[];
  readonly tanks: readonly HazardTank[];
};

export type ChannelRules = { readonly channel: string; readonly rules: readonly ChannelRule[] };

export type DeviceRules = {
  readonly siteId: string;
  readonly deviceId: string;
  readonly sourceId: string;
  readonly kind: DeviceKind;
  readonly channels: ReadonlyMap<string, ChannelRules>;
  readonly deviceRules: readonly DeviceRule[];
  readonly stale: StaleRule | null;
  readonly offline: OfflineRule | null;
  readonly clock: ClockRule | null;
};

export type EngineSettings = {
  readonly lateToleranceMs: number;
  readonly groupIdleMs: number;
};

export type CompiledRules = {
  readonly settings: EngineSettings;
  /** siteId → deviceId → rules (nested maps: no key allocation per reading). */
  readonly devices: ReadonlyMap<string, ReadonlyMap<string, DeviceRules>>;
  readonly votes: readonly VoteRule[];
  readonly interlocks: readonly InterlockRule[];
  readonly composites: readonly CompositeRule[];
  readonly hazardSources: readonly HazardSourceSpec[];
  /** `${siteId}|${ruleId}|${condition}` of every condition the rule set can raise (reload clears the others). */
  readonly producible: ReadonlySet<string>;
  /** Number of rules (for logs). */
  readonly ruleCount: number;
};

export const producibleKey = (siteId: string, ruleId: string, condition: string): string =>
  `${siteId}|${ruleId}|${condition}`;

export function refMatches(
  ref: ConditionRef,
  c: { siteId: string; ruleId: string; sourceId: string; deviceId?: string; condition: string },
): boolean {
  return (
    ref.condition === c.condition &&
    ref.siteId === c.siteId &&
    (ref.ruleId === undefined || ref.ruleId === c.ruleId) &&
    (ref.sourceId === undefined || ref.sourceId === c.sourceId) &&
    (ref.deviceId === undefined || ref.deviceId === c.deviceId)
  );
}
