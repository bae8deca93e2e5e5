/**
 * Plain shape of config/rules.yaml after validation (the class-validator schema in ../rules.schema.ts produces it).
 * Times in seconds here; the compiler converts to ms. Every section is optional: the plant model alone yields the
 * default rule set.
 */
import type { Priority } from '../../common/types';
import type { CompareOp } from './rule-spec';

export type RulesSettings = {
  /** Readings older than the newest of their channel by more than this are not evaluated (counted). */
  lateToleranceS: number;
  /** A device/channel group with no reading for this long is released (its state is re-seeded on return). */
  groupIdleS: number;
  /** Stale after this many publish periods without a reading … */
  staleAfterPeriods: number;
  /** … but never sooner than this. */
  staleMinS: number;
  /** On-delay of the LWT offline alarm. */
  offlineDelayS: number;
  /** Allowed bypass of a safety system before its alarm escalates. */
  bypassAllowedS: number;
  /** A valve position change with no demand change within this grace is uncommanded. */
  valveGraceS: number;
  /** Added to a valve's travel time for interlock supervision. */
  interlockMarginS: number;
  overfillHorizonMin: number;
  overfillWindowS: number;
};

export const DEFAULT_SETTINGS: RulesSettings = {
  lateToleranceS: 30,
  groupIdleS: 900,
  staleAfterPeriods: 3,
  staleMinS: 10,
  offlineDelayS: 10,
  bypassAllowedS: 3600,
  valveGraceS: 2,
  interlockMarginS: 5,
  overfillHorizonMin: 30,
  overfillWindowS: 600,
};

export type LimitEntryConfig = {
  condition: string;
  direction?: 'high' | 'low';
  value?: number;
  priority?: Priority;
  deadband?: number;
  onDelayS?: number;
  offDelayS?: number;
  disabled?: boolean;
};

/** Overrides (merged by condition key) or adds limits on one device channel. */
export type LimitConfig = {
  site: string;
  device: string;
  channel: string;
  deadband?: number;
  onDelayS?: number;
  offDelayS?: number;
  limits: LimitEntryConfig[];
};

export type RocConfig = {
  site: string;
  device: string;
  channel: string;
  windowS?: number;
  maxRisePerMin?: number | null;
  maxFallPerMin?: number | null;
  priority?: Priority;
  disabled?: boolean;
};

export type OverfillConfig = {
  site: string;
  device: string;
  horizonMin?: number;
  windowS?: number;
  hh?: number;
  priority?: Priority;
  disabled?: boolean;
};

export type SafetySystemConfig = { site: string; device: string; bypassAllowedS?: number };

/** Matches condition changes of one site; `area` expands to the area's devices. */
export type ConditionRefConfig = {
  condition: string;
  rule?: string;
  device?: string;
  area?: string;
  source?: string;
};

export type VoteConfig = {
  id?: string;
  site: string;
  area: string;
  members?: string[];
  k: number;
  condition?: string;
  windowS?: number;
  faulted: 'tripped' | 'excluded';
  priority?: Priority;
  disabled?: boolean;
};

export type InterlockConfig = {
  id: string;
  site: string;
  when: ConditionRefConfig[];
  valves: string[];
  closeWithinS?: number;
  priority?: Priority;
};

export type ChannelTermConfig = {
  device: string;
  channel: string;
  op: CompareOp;
  value: number | string | boolean;
};

export type CompositeTermConfig = {
  condition?: ConditionRefConfig;
  channel?: ChannelTermConfig;
};

export type CompositeConfig = {
  id: string;
  site: string;
  source: string;
  condition: string;
  priority: Priority;
  op: 'and' | 'or';
  forS?: number;
  withinS?: number;
  terms: CompositeTermConfig[];
  message?: string;
};

export type RulesConfig = {
  version: 1;
  settings?: Partial<RulesSettings>;
  limits?: LimitConfig[];
  rateOfChange?: RocConfig[];
  overfill?: OverfillConfig[];
  safetySystems?: SafetySystemConfig[];
  votes?: VoteConfig[];
  interlocks?: InterlockConfig[];
  composites?: CompositeConfig[];
  /** Generated rule ids to switch off. */
  disable?: string[];
};

export const EMPTY_RULES_CONFIG: RulesConfig = { version: 1 };
