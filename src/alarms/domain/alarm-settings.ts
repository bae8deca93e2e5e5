/** Alarm behaviour declared in config (config/alarms.yaml): latching, re-alarm time, design suppression. Pure types. */
import type { SiteLinkSettings } from './site-link';

/** Matches alarms by rule id and/or condition key (both given: both must match). */
export type AlarmMatcher = { readonly ruleId?: string; readonly condition?: string };

/**
 * State-based design suppression (ISA-18.2 "suppressed by design"): while the trigger holds, matching alarms in the
 * same device / area / site are suppressed. Triggers: another alarm's condition is active (e.g. `offline` for the device),
 * or the alarm's area is in maintenance.
 */
export type SuppressionRule = {
  readonly id: string;
  readonly whileCondition?: string;
  readonly whileAreaInMaintenance?: boolean;
  readonly scope: 'device' | 'area' | 'site';
  /** Conditions suppressed (default: all). */
  readonly conditions?: readonly string[];
  /** Conditions never suppressed by this rule. */
  readonly exceptConditions?: readonly string[];
};

export type AlarmSettings = {
  /** ReAlarmTime: an acknowledged alarm still active this long after its ack is re-announced. 0 disables. */
  readonly reAlarmMs: number;
  readonly latch: readonly AlarmMatcher[];
  readonly suppression: readonly SuppressionRule[];
  /** Areas in maintenance, as `siteId/area`. */
  readonly maintenanceAreas: readonly string[];
  /** Site-level link supervision (`site_offline` instead of a per-device flood); absent: off. */
  readonly siteLink?: SiteLinkSettings;
};

export const DEFAULT_ALARM_SETTINGS: AlarmSettings = Object.freeze({
  reAlarmMs: 0,
  latch: [],
  suppression: [],
  maintenanceAreas: [],
});

export const matches = (m: AlarmMatcher, a: { ruleId: string; condition: string }): boolean =>
  (m.ruleId === undefined || m.ruleId === a.ruleId) &&
  (m.condition === undefined || m.condition === a.condition) &&
  (m.ruleId !== undefined || m.condition !== undefined);

export const isLatching = (settings: AlarmSettings, a: { ruleId: string; condition: string }): boolean =>
  settings.latch.some((m) => matches(m, a));
