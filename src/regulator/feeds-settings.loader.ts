import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import type { Priority } from '../common/types';
import type { AppConfig } from '../config/app-config';
import { readYamlFile, validateInto } from '../config/config.loader';
import type { CapStatus } from './domain/cap.types';
import type { NationalProfileSettings } from './domain/cap-national.profile';
import { jurisdictionView } from '../config/admin-divisions';
import { ConfigError } from '../common/errors';

class WebhookSchema {
  /** First retry delay after a failed delivery; doubles per attempt up to backoffMaxSeconds. */
  @IsOptional() @IsNumber() @Min(0.01) @Max(3600) backoffInitialSeconds: number = 5;
  @IsOptional() @IsNumber() @Min(0.01) @Max(86400) backoffMaxSeconds: number = 600;
  /** A subscription whose deliveries fail this long is paused and an alarm raised to admins (retries go on ≥ 24 h). */
  @IsOptional() @IsNumber() @Min(0.001) @Max(24 * 30) pauseAfterHours: number = 24;
  @IsOptional() @IsNumber() @Min(0.1) @Max(120) timeoutSeconds: number = 10;
  /** How often the dispatcher looks for due deliveries (it is also woken at once by new messages). */
  @IsOptional() @IsNumber() @Min(0.01) @Max(60) pollSeconds: number = 1;
  /** Receivers should refuse signatures older than this (documented; used by the verification helper). */
  @IsOptional() @IsInt() @Min(10) @Max(3600) replayWindowSeconds: number = 300;
}

/** `nationalProfile`: the unit-code parts of the GB/T 35965.1 profile (docs/cap-profile.md, "National profile"). */
class NationalProfileSchema {
  @Matches(/^\d{3}$/, { message: 'must be the 3-digit industry code (GB/T 4657) the platform assigned' })
  industryCode!: string;
  @IsOptional() @Matches(/^\d{3}$/, { message: 'must be 3 digits' }) unitCode: string = '000';
  @IsOptional() @Matches(/^\d{2}$/, { message: 'must be 2 digits' }) extensionCode: string = '00';
  @IsOptional()
  @Matches(/^[0-9A-Za-z.-]{1,20}$/, { message: 'must be 1-20 letters, digits, dots or dashes' })
  eventTypeCode?: string;
  @IsOptional()
  @Matches(/^[^<&]{1,100}$/, { message: 'must be 1-100 characters without < or &' })
  senderName?: string;
}

/** config/feeds.yaml (optional: every field has a default). */
export class FeedSettingsSchema {
  @IsOptional()
  @Matches(/^hazwatch@[A-Za-z0-9.-]+$/, { message: 'must be hazwatch@<domain>' })
  sender: string = 'hazwatch@hazwatch.local';
  /** auto: `Test` while the bundled simulators feed the plant (SIMULATE=true), else `Actual`. */
  @IsOptional() @IsIn(['auto', 'Actual', 'Exercise', 'Test']) capStatus:
    'auto' | 'Actual' | 'Exercise' | 'Test' = 'auto';
  @IsOptional() @IsNumber() @Min(0.01) @Max(50) areaRadiusKm: number = 0.5;
  /** Reporting rule: the enterprise files a disposal record within this many minutes of a reportable alarm. */
  @IsOptional() @IsNumber() @Min(0.01) @Max(7 * 24 * 60) disposalDeadlineMinutes: number = 60;
  @IsOptional()
  @IsArray()
  @IsIn(['critical', 'high', 'medium', 'low'], { each: true })
  reportablePriorities: Priority[] = ['critical', 'high'];
  @IsOptional() @IsNumber() @Min(0.01) @Max(600) overdueCheckSeconds: number = 5;
  /** After a missed duty check the enterprise gives its feedback (反馈) within this many minutes. */
  @IsOptional() @IsNumber() @Min(0.01) @Max(30 * 24 * 60) dutyFeedbackDeadlineMinutes: number = 24 * 60;
  @IsOptional() @IsInt() @Min(1) @Max(1000) atomPageSize: number = 50;
  @IsOptional() @IsInt() @Min(10_000) @Max(900_000) atomMaxBytes: number = 900_000;
  @IsOptional() @ValidateNested() @Type(() => WebhookSchema) webhook: WebhookSchema = new WebhookSchema();
  /** Absent: only the OASIS profile is produced. */
  @IsOptional()
  @ValidateNested()
  @Type(() => NationalProfileSchema)
  nationalProfile?: NationalProfileSchema;
}

export type FeedSettings = {
  readonly sender: string;
  readonly capStatus: CapStatus;
  readonly areaRadiusKm: number;
  readonly disposalDeadlineMs: number;
  readonly reportablePriorities: ReadonlySet<Priority>;
  readonly overdueCheckMs: number;
  readonly dutyFeedbackDeadlineMs: number;
  readonly atomPageSize: number;
  readonly atomMaxBytes: number;
  readonly webhook: {
    readonly backoffInitialMs: number;
    readonly backoffMaxMs: number;
    readonly pauseAfterMs: number;
    readonly timeoutMs: number;
    readonly pollMs: number;
    readonly replayWindowS: number;
  };
  readonly nationalProfile?: NationalProfileSettings;
};

export const FEED_SETTINGS = Symbol('FEED_SETTINGS');
export const FEED_SETTINGS_FILE = 'feeds.yaml';

export function toFeedSettings(s: FeedSettingsSchema, simulate: boolean): FeedSettings {
  const w = s.webhook;
  return Object.freeze({
    sender: s.sender,
    capStatus: s.capStatus === 'auto' ? (simulate ? 'Test' : 'Actual') : s.capStatus,
    areaRadiusKm: s.areaRadiusKm,
    disposalDeadlineMs: Math.round(s.disposalDeadlineMinutes * 60_000),
    reportablePriorities: new Set(s.reportablePriorities),
    overdueCheckMs: Math.round(s.overdueCheckSeconds * 1000),
    dutyFeedbackDeadlineMs: Math.round(s.dutyFeedbackDeadlineMinutes * 60_000),
    atomPageSize: s.atomPageSize,
    atomMaxBytes: s.atomMaxBytes,
    webhook: Object.freeze({
      backoffInitialMs: Math.round(w.backoffInitialSeconds * 1000),
      backoffMaxMs: Math.round(w.backoffMaxSeconds * 1000),
      pauseAfterMs: Math.round(w.pauseAfterHours * 3600_000),
      timeoutMs: Math.round(w.timeoutSeconds * 1000),
      pollMs: Math.round(w.pollSeconds * 1000),
      replayWindowS: w.replayWindowSeconds,
    }),
    ...(s.nationalProfile
      ? {
          nationalProfile: Object.freeze({
            industryCode: s.nationalProfile.industryCode,
            unitCode: s.nationalProfile.unitCode,
            extensionCode: s.nationalProfile.extensionCode,
            ...(s.nationalProfile.eventTypeCode !== undefined
              ? { eventTypeCode: s.nationalProfile.eventTypeCode }
              : {}),
            ...(s.nationalProfile.senderName !== undefined
              ? { senderName: s.nationalProfile.senderName }
              : {}),
          }),
        }
      : {}),
  });
}

/** Reads CONFIG_DIR/feeds.yaml (absent → defaults); a bad value stops start-up naming file, path and reason. */
export function loadFeedSettings(config: Pick<AppConfig, 'configDir' | 'env' | 'plant'>): {
  settings: FeedSettings;
  file: string | undefined;
} {
  const file = join(config.configDir, FEED_SETTINGS_FILE);
  if (!existsSync(file))
    return { settings: toFeedSettings(new FeedSettingsSchema(), config.env.SIMULATE), file: undefined };
  const raw = readYamlFile(file) ?? {};
  const settings = toFeedSettings(validateInto(FeedSettingsSchema, raw, file), config.env.SIMULATE);
  if (settings.nationalProfile) checkNationalSites(config.plant, file);
  return { settings, file };
}

/** The national unit code starts with the site's district code: every site needs one (plant.yaml `jurisdictions`). */
function checkNationalSites(plant: AppConfig['plant'], file: string): void {
  const problems = plant.sites
    .filter((s) => jurisdictionView(plant.jurisdictionByPath, s.jurisdiction).adminCode === undefined)
    .map((s) => ({
      path: 'nationalProfile',
      reason: `site '${s.id}' (jurisdiction ${s.jurisdiction}) has no GB/T 2260 district code: declare its levels under plant.yaml jurisdictions`,
    }));
  if (problems.length > 0) throw new ConfigError(file, problems);
}
