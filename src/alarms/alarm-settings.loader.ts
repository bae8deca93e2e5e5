import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { ConfigError } from '../common/errors';
import { readYamlFile, validateInto } from '../config/config.loader';
import type { PlantModel } from '../config/config.loader';
import { DEFAULT_ALARM_SETTINGS, type AlarmSettings, type SuppressionRule } from './domain/alarm-settings';
import {
  DEFAULT_SITE_LINK,
  LINK_CONDITIONS,
  LINK_CONSEQUENCES,
  SITE_OFFLINE_CONDITION,
} from './domain/site-link';

const ID = /^[A-Za-z0-9_.:-]{1,128}$/;

class MatcherSchema {
  @IsOptional() @IsString() ruleId?: string;
  @IsOptional() @IsString() condition?: string;
}

class SuppressionSchema {
  @Matches(ID, { message: 'must be an id of letters, digits, _ . : -' }) id!: string;
  @IsOptional() @IsString() whileCondition?: string;
  @IsOptional() @IsBoolean() whileAreaInMaintenance?: boolean;
  @IsIn(['device', 'area', 'site']) scope!: 'device' | 'area' | 'site';
  @IsOptional() @IsArray() @IsString({ each: true }) conditions?: string[];
  @IsOptional() @IsArray() @IsString({ each: true }) exceptConditions?: string[];
}

/** Site link supervision (docs/alarm-lifecycle.md, "Site link"). */
class SiteLinkSchema {
  @IsOptional() @IsBoolean() enabled: boolean = true;
  /** % of a site's devices link-lost at once that makes the site offline. */
  @IsOptional() @IsInt() @Min(1) @Max(100) offlinePercent: number = DEFAULT_SITE_LINK.offlineFraction * 100;
  /** The site is back when fewer than this % of its devices are link-lost. */
  @IsOptional() @IsInt() @Min(1) @Max(100) restorePercent: number = DEFAULT_SITE_LINK.restoreFraction * 100;
  @IsOptional() @IsInt() @Min(2) @Max(100_000) minDevices: number = DEFAULT_SITE_LINK.minDevices;
  /** How long a device link alarm waits for its site's verdict. */
  @IsOptional() @IsInt() @Min(0) @Max(300) holdSeconds: number = DEFAULT_SITE_LINK.holdMs / 1000;
}

/** The design suppression that hides per-device link alarms while their site is offline (added when none is configured). */
export const SITE_OFFLINE_SUPPRESSION: SuppressionRule = Object.freeze({
  id: 'site-offline',
  whileCondition: SITE_OFFLINE_CONDITION,
  scope: 'site',
  conditions: Object.freeze([...LINK_CONDITIONS, ...LINK_CONSEQUENCES]),
});

/** config/alarms.yaml */
export class AlarmSettingsSchema {
  /** ReAlarmTime in minutes; 0 disables re-announcement. */
  @IsOptional() @IsInt() @Min(0) @Max(24 * 60) reAlarmMinutes: number = 0;
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => MatcherSchema) latch: MatcherSchema[] =
    [];
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SuppressionSchema)
  suppression: SuppressionSchema[] = [];
  /** `siteId/area` keys of areas in maintenance (their alarms are suppressed by rules with whileAreaInMaintenance). */
  @IsOptional() @IsArray() @IsString({ each: true }) maintenanceAreas: string[] = [];
  /** On by default when this file exists; `siteLink: { enabled: false }` turns it off. */
  @IsOptional() @ValidateNested() @Type(() => SiteLinkSchema) siteLink: SiteLinkSchema = new SiteLinkSchema();
}

export const ALARM_SETTINGS = Symbol('ALARM_SETTINGS');
export const ALARM_SETTINGS_FILE = 'alarms.yaml';

/** Cross-checks class-validator cannot express: triggers present, ids unique, areas known. */
function check(
  s: AlarmSettingsSchema,
  plant: PlantModel | undefined,
): Array<{ path: string; reason: string }> {
  const problems: Array<{ path: string; reason: string }> = [];
  s.latch.forEach((m, i) => {
    if (m.ruleId === undefined && m.condition === undefined)
      problems.push({ path: `latch[${i}]`, reason: 'needs ruleId and/or condition' });
  });
  const ids = new Set<string>();
  s.suppression.forEach((r, i) => {
    if (ids.has(r.id)) problems.push({ path: `suppression[${i}].id`, reason: `duplicate id '${r.id}'` });
    ids.add(r.id);
    if (r.whileCondition === undefined && r.whileAreaInMaintenance !== true)
      problems.push({
        path: `suppression[${i}]`,
        reason: 'needs a trigger: whileCondition or whileAreaInMaintenance: true',
      });
  });
  if (s.siteLink.restorePercent > s.siteLink.offlinePercent)
    problems.push({
      path: 'siteLink.restorePercent',
      reason: `must not exceed offlinePercent (${s.siteLink.offlinePercent})`,
    });
  if (plant) {
    const areas = new Set([...plant.deviceByKey.values()].map((d) => `${d.siteId}/${d.area}`));
    s.maintenanceAreas.forEach((a, i) => {
      if (!areas.has(a))
        problems.push({
          path: `maintenanceAreas[${i}]`,
          reason: `unknown area '${a}' (expected siteId/area of a device in plant.yaml)`,
        });
    });
  }
  return problems;
}

export function toAlarmSettings(s: AlarmSettingsSchema): AlarmSettings {
  const link = s.siteLink.enabled;
  const suppression: SuppressionRule[] = s.suppression.map((r) => ({ ...r }));
  if (link && !suppression.some((r) => r.whileCondition === SITE_OFFLINE_CONDITION))
    suppression.push(SITE_OFFLINE_SUPPRESSION);
  return Object.freeze({
    reAlarmMs: s.reAlarmMinutes * 60_000,
    latch: s.latch.map((m) => ({
      ...(m.ruleId !== undefined ? { ruleId: m.ruleId } : {}),
      ...(m.condition !== undefined ? { condition: m.condition } : {}),
    })),
    suppression,
    maintenanceAreas: [...s.maintenanceAreas],
    ...(link
      ? {
          siteLink: Object.freeze({
            offlineFraction: s.siteLink.offlinePercent / 100,
            restoreFraction: s.siteLink.restorePercent / 100,
            minDevices: s.siteLink.minDevices,
            holdMs: s.siteLink.holdSeconds * 1000,
          }),
        }
      : {}),
  });
}

/** Reads CONFIG_DIR/alarms.yaml; absent → defaults (no latching, no re-alarm, no suppression). Errors name file, path, reason. */
export function loadAlarmSettings(
  configDir: string,
  plant?: PlantModel,
): { settings: AlarmSettings; file: string | null } {
  const file = resolve(join(configDir, ALARM_SETTINGS_FILE));
  if (!existsSync(file)) return { settings: DEFAULT_ALARM_SETTINGS, file: null };
  const parsed = validateInto(AlarmSettingsSchema, readYamlFile(file) ?? {}, file);
  const problems = check(parsed, plant);
  if (problems.length) throw new ConfigError(file, problems);
  return { settings: toAlarmSettings(parsed), file };
}
