import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import type { DeviceKind, Priority } from '../common/types';

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Rule ids and condition keys: letters, digits, _ - : . */
export const RULE_ID_PATTERN = /^[A-Za-z0-9_:.-]{1,96}$/;
/** tianjin/binhai/nangang: lower-case segments separated by '/'. */
export const JURISDICTION_PATTERN = /^[a-z0-9-]+(\/[a-z0-9-]+)*$/;

export class LocationSchema {
  @IsNumber() @Min(-90) @Max(90) lat!: number;
  @IsNumber() @Min(-180) @Max(180) lon!: number;
}

/** One hazardous substance held in a major hazard source (GB 18218-2018). */
export class SubstanceSchema {
  @IsString() substance!: string;
  @Matches(/^\d{2,7}-\d{2}-\d$/, { message: 'must be a CAS number like 7782-50-5' }) cas!: string;
  /** Critical quantity Q, tonnes (GB 18218-2018 Table 1/2). */
  @IsNumber() @IsPositive() criticalQ!: number;
  /** Correction factor β. */
  @IsNumber() @IsPositive() beta!: number;
  /** Design maximum inventory q, tonnes (used for identification S). */
  @IsNumber() @Min(0) designQ!: number;
  /** Inventory not measured by any tank device (cylinders, drums), tonnes. */
  @IsOptional() @IsNumber() @Min(0) fixedQ?: number;
}

/**
 * Radii of the source's filed consequence analysis, km (docs/cap-profile.md, "Area"): each replaces the per-substance
 * planning default of its scenario for this source.
 */
export class ConsequenceRadiiSchema {
  @IsOptional() @IsNumber() @Min(0.01) @Max(50) toxic?: number;
  @IsOptional() @IsNumber() @Min(0.01) @Max(50) fire?: number;
  @IsOptional() @IsNumber() @Min(0.01) @Max(50) explosion?: number;
}

export class HazardSourceSchema {
  @Matches(ID_PATTERN) id!: string;
  @IsString() name!: string;
  @IsOptional() @IsString() @MinLength(1) @MaxLength(200) nameEn?: string;
  /** 重大危险源备案编号 (checked in config.loader: src/common/domain/credit-code.ts); sent in CAP parameters. */
  @IsOptional() @IsString() filingCode?: string;
  @IsIn(['storage', 'production']) unitType!: 'storage' | 'production';
  /** People within 500 m of the unit boundary → α. */
  @IsInt() @Min(0) peopleWithin500m!: number;
  /** The officially filed grade (1 highest … 4). The live R is an indicator, never a silent re-grade. */
  @IsInt() @Min(1) @Max(4) filedGrade!: number;
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => SubstanceSchema)
  substances!: SubstanceSchema[];
  /** Safety systems required for this source ("four systems"; small depots: three). */
  @IsOptional()
  @IsArray()
  @IsIn(['esd', 'gas_detection', 'video', 'lightning'], { each: true })
  requiredSystems?: Array<'esd' | 'gas_detection' | 'video' | 'lightning'>;
  /** Filed consequence radii (km) overriding the per-substance defaults of src/config/substances.ts. */
  @IsOptional()
  @ValidateNested()
  @Type(() => ConsequenceRadiiSchema)
  consequenceRadiiKm?: ConsequenceRadiiSchema;
}

export type GasClass = 'combustible' | 'toxic';
export type TankGeometryKind = 'vertical_cylinder' | 'horizontal_cylinder' | 'sphere' | 'strapping';
export type TankType = 'atmospheric' | 'pressurised' | 'refrigerated';
export const DEVICE_KINDS: readonly DeviceKind[] = [
  'gas_detector',
  'tank',
  'shutoff_valve',
  'safety_system',
  'analog',
  'discrete',
  'weather',
];

/** Alarm limits of a generic analog input, in its unit (any subset). */
export class AnalogLimitsSchema {
  @IsOptional() @IsNumber() LL?: number;
  @IsOptional() @IsNumber() L?: number;
  @IsOptional() @IsNumber() H?: number;
  @IsOptional() @IsNumber() HH?: number;
}
export type GasUnit = '%LEL' | 'ppm' | 'mg/m3';
export type SafetySystemKind = 'esd' | 'gas_detection' | 'video' | 'lightning';

export class DeviceSchema {
  @Matches(ID_PATTERN) id!: string;
  @IsIn(DEVICE_KINDS) kind!: DeviceKind;
  @IsString() name!: string;
  /** English display name (the console's English view; falls back to `name`). */
  @IsOptional() @IsString() @MinLength(1) @MaxLength(200) nameEn?: string;
  /** The major hazard source this device watches. */
  @Matches(ID_PATTERN) sourceId!: string;
  /** Area (zone) inside the source: detectors and valves of one area vote and interlock together. */
  @Matches(ID_PATTERN) area!: string;
  /** Expected publish period, seconds (stale detection uses N × this). */
  @IsOptional() @IsNumber() @IsPositive() @Max(3600) periodS: number = 5;

  // gas_detector
  @IsOptional() @IsString() gas?: string;
  @IsOptional() @IsIn(['combustible', 'toxic']) gasClass?: GasClass;
  /** gas_detector: '%LEL' | 'ppm' | 'mg/m3'; analog: the engineering unit ('°C', 'kPa', 'm3/h', ...). */
  @IsOptional() @IsString() unit?: string;
  /** Set points in the detector's unit (GB/T 50493-2019 ceilings apply). */
  @IsOptional() @IsNumber() @Min(0) level1?: number;
  @IsOptional() @IsNumber() @Min(0) level2?: number;

  // tank
  @IsOptional() @IsNumber() @IsPositive() capacityM3?: number;
  @IsOptional() @IsNumber() @IsPositive() densityTPerM3?: number;
  @IsOptional() @IsString() substance?: string;
  /** Filling limit, % of the tank volume (the regulatory filling ratio); default 90. Level HH must not exceed the level holding it. */
  @IsOptional() @IsNumber() @Min(1) @Max(100) maxFillPct?: number;
  /** Shape for level → volume; default vertical_cylinder. */
  @IsOptional()
  @IsIn(['vertical_cylinder', 'horizontal_cylinder', 'sphere', 'strapping'])
  geometry?: TankGeometryKind;
  /** geometry strapping: [level %, volume m³] points from level 0 to 100, strictly increasing. */
  @IsOptional() @IsArray() strapping?: Array<[number, number]>;
  @IsOptional() @IsIn(['atmospheric', 'pressurised', 'refrigerated']) tankType?: TankType;
  /** Design (maximum allowable) pressure, kPa gauge. */
  @IsOptional() @IsNumber() designPressureKpa?: number;
  /** Relief valve (or breather valve) set pressure, kPa gauge; default the design pressure. */
  @IsOptional() @IsNumber() reliefSetKpa?: number;
  /** Design temperature window, °C. */
  @IsOptional() @IsNumber() designMinTempC?: number;
  @IsOptional() @IsNumber() designMaxTempC?: number;
  /** Independent HH level switch (channel level_switch_hh) trip point, level %; the tank's HH trip cause. */
  @IsOptional() @IsNumber() @Min(0) @Max(100) levelSwitchHHPct?: number;

  // analog (channel value)
  @IsOptional() @ValidateNested() @Type(() => AnalogLimitsSchema) limits?: AnalogLimitsSchema;

  // discrete (channel state)
  /** The value of `state` that means alarm (default true). */
  @IsOptional() @IsBoolean() alarmWhen?: boolean;
  @IsOptional() @IsIn(['critical', 'high', 'medium', 'low']) priority?: Priority;

  // shutoff_valve
  @IsOptional() @IsNumber() @IsPositive() @Max(600) travelTimeS?: number;

  // safety_system
  @IsOptional() @IsIn(['esd', 'gas_detection', 'video', 'lightning']) system?: SafetySystemKind;

  /** Instrument span per numeric channel [lo, hi]; readings outside the span but within physical limits are accepted and flagged by rules as over/under-range. */
  @IsOptional() @IsObject() ranges?: Record<string, [number, number]>;
}

/** What starts a trip in the plant's cause-and-effect matrix (exactly one). */
export class CauseSchema {
  /** The 2ooN gas vote of this area. */
  @IsOptional() @Matches(ID_PATTERN) vote?: string;
  /** The independent HH level switch of this tank (levelSwitchHHPct). */
  @IsOptional() @Matches(ID_PATTERN) levelSwitchHH?: string;
  /** A discrete input device in alarm. */
  @IsOptional() @Matches(ID_PATTERN) discrete?: string;
  /** Any rule condition: rule id + condition (e.g. limit:cl-tk-1:pressure_kpa + HH). */
  @IsOptional() @Matches(RULE_ID_PATTERN) rule?: string;
  @IsOptional() @Matches(RULE_ID_PATTERN) condition?: string;
}

/** One row of the cause-and-effect matrix: the cause closes these valves; hazwatch supervises that they do. */
export class CauseEffectSchema {
  /** Rule id of the generated interlock supervision (letters, digits, _ - : .). */
  @Matches(RULE_ID_PATTERN, { message: 'must be a rule id like hh-trip:cl-tk-1 (letters, digits, _ - : .)' })
  id!: string;
  @ValidateNested() @Type(() => CauseSchema) cause!: CauseSchema;
  @IsArray() @ArrayMinSize(1) @Matches(ID_PATTERN, { each: true }) close!: string[];
  /** Deadline for every valve to report closed; default its travel time + interlockMarginS. */
  @IsOptional() @IsNumber() @IsPositive() @Max(600) closeWithinS?: number;
}

export class SiteSchema {
  @Matches(ID_PATTERN) id!: string;
  @IsString() name!: string;
  @IsOptional() @IsString() @MinLength(1) @MaxLength(200) nameEn?: string;
  @Matches(JURISDICTION_PATTERN, { message: 'must be a path like tianjin/binhai/nangang' })
  jurisdiction!: string;
  /** 统一社会信用代码 (GB 32100-2015, check character verified in config.loader); sent in CAP parameters. */
  @IsOptional() @IsString() creditCode?: string;
  @ValidateNested() @Type(() => LocationSchema) location!: LocationSchema;
  /** Enterprise flags: 两重点一重大 etc. */
  @IsOptional() @IsArray() @IsString({ each: true }) flags?: string[];
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => HazardSourceSchema)
  hazardSources!: HazardSourceSchema[];
  @IsArray()
  @ArrayMaxSize(10000)
  @ValidateNested({ each: true })
  @Type(() => DeviceSchema)
  devices!: DeviceSchema[];
  /** Trips of the site's SIS/ESD that hazwatch supervises (interlock supervision is generated only from these). */
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => CauseEffectSchema)
  causeAndEffect?: CauseEffectSchema[];
}

/** A jurisdiction level with its GB/T 2260 code (name from the data package) or, for a park, its name. */
export class JurisdictionSchema {
  @Matches(JURISDICTION_PATTERN, { message: 'must be a path like tianjin/binhai' }) path!: string;
  @IsOptional()
  @Matches(/^\d{6}$/, { message: 'must be a 6-digit GB/T 2260 code like 120116' })
  code?: string;
  @IsOptional() @IsString() name?: string;
}

export class PlantSchema {
  /** Official names and codes of the jurisdiction paths (src/config/admin-divisions.ts); optional. */
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => JurisdictionSchema)
  jurisdictions?: JurisdictionSchema[];
  @IsArray() @ArrayMinSize(1) @ValidateNested({ each: true }) @Type(() => SiteSchema) sites!: SiteSchema[];
}
