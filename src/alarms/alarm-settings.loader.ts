import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Type } from 'class-transformer';
import { IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateNested } from 'class-validator';
import { ConfigError } from '../common/errors';
import { readYamlFile, validateInto } from '../config/config.loader';
import type { PlantModel } from '../config/config.loader';
import { DEFAULT_ALARM_SETTINGS, type AlarmSettings } from './domain/alarm-settings';

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

/** config/alarms.yaml */
export class AlarmSettingsSchema {
  /** ReAlarmTime in minutes; 0 disables re-announcement. */
  @IsOptional() @IsInt() @Min(0) @Max(24 * 60) reAlarmMinutes: number = 0;
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => MatcherSchema) latch: MatcherSchema[] = [];
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => SuppressionSchema) suppression: SuppressionSchema[] = [];
  /** `siteId/area` keys of areas in maintenance (their alarms are suppressed by rules with whileAreaInMaintenance). */
  @IsOptional() @IsArray() @IsString({ each: true }) maintenanceAreas: string[] = [];
}

export const ALARM_SETTINGS = Symbol('ALARM_SETTINGS');
export const ALARM_SETTINGS_FILE = 'alarms.yaml';

/** Cross-checks class-validator cannot express: triggers present, ids unique, areas known. */
function check(s: AlarmSettingsSchema, plant: PlantModel | undefined): Array<{ path: string; reason: string }> {
  const problems: Array<{ path: string; reason: string }> = [];
  s.latch.forEach((m, i) => {
    if (m.ruleId === undefined && m.condition === undefined) problems.push({ path: `latch[${i}]`, reason: 'needs ruleId and/or condition' });
  });
  const ids = new Set<string>();
  s.suppression.forEach((r, i) => {
    if (ids.has(r.id)) problems.push({ path: `suppression[${i}].id`, reason: `duplicate id '${r.id}'` });
    ids.add(r.id);
    if (r.whileCondition === undefined && r.whileAreaInMaintenance !== true)
      problems.push({ path: `suppression[${i}]`, reason: 'needs a trigger: whileCondition or whileAreaInMaintenance: true' });
  });
  if (plant) {
    const areas = new Set([...plant.deviceByKey.values()].map((d) => `${d.siteId}/${d.area}`));
    s.maintenanceAreas.forEach((a, i) => {
      if (!areas.has(a)) problems.push({ path: `maintenanceAreas[${i}]`, reason: `unknown area '${a}' (expected siteId/area of a device in plant.yaml)` });
    });
  }
  return problems;
}

export function toAlarmSettings(s: AlarmSettingsSchema): AlarmSettings {
  return Object.freeze({
    reAlarmMs: s.reAlarmMinutes * 60_000,
    latch: s.latch.map((m) => ({ ...(m.ruleId !== undefined ? { ruleId: m.ruleId } : {}), ...(m.condition !== undefined ? { condition: m.condition } : {}) })),
    suppression: s.suppression.map((r) => ({ ...r })),
    maintenanceAreas: [...s.maintenanceAreas],
  });
}

/** Reads CONFIG_DIR/alarms.yaml; absent → defaults (no latching, no re-alarm, no suppression). Errors name file, path, reason. */
export function loadAlarmSettings(configDir: string, plant?: PlantModel): { settings: AlarmSettings; file: string | null } {
  const file = resolve(join(configDir, ALARM_SETTINGS_FILE));
  if (!existsSync(file)) return { settings: DEFAULT_ALARM_SETTINGS, file: null };
  const parsed = validateInto(AlarmSettingsSchema, readYamlFile(file) ?? {}, file);
  const problems = check(parsed, plant);
  if (problems.length) throw new ConfigError(file, problems);
  return { settings: toAlarmSettings(parsed), file };
}
