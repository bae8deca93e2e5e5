import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import type { DeviceKind } from '../common/types';

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
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

export class HazardSourceSchema {
  @Matches(ID_PATTERN) id!: string;
  @IsString() name!: string;
  @IsOptional() @IsString() nameEn?: string;
  @IsIn(['storage', 'production']) unitType!: 'storage' | 'production';
  /** People within 500 m of the unit boundary → α. */
  @IsInt() @Min(0) peopleWithin500m!: number;
  /** The officially filed grade (1 highest … 4). The live R is an indicator, never a silent re-grade. */
  @IsInt() @Min(1) @Max(4) filedGrade!: number;
  @IsArray() @ArrayMinSize(1) @ValidateNested({ each: true }) @Type(() => SubstanceSchema)
  substances!: SubstanceSchema[];
  /** Safety systems required for this source ("four systems"; small depots: three). */
  @IsOptional() @IsArray() @IsIn(['esd', 'gas_detection', 'video', 'lightning'], { each: true })
  requiredSystems?: Array<'esd' | 'gas_detection' | 'video' | 'lightning'>;
}

export type GasClass = 'combustible' | 'toxic';
export type GasUnit = '%LEL' | 'ppm' | 'mg/m3';
export type SafetySystemKind = 'esd' | 'gas_detection' | 'video' | 'lightning';

export class DeviceSchema {
  @Matches(ID_PATTERN) id!: string;
  @IsIn(['gas_detector', 'tank', 'shutoff_valve', 'safety_system']) kind!: DeviceKind;
  @IsString() name!: string;
  /** The major hazard source this device watches. */
  @Matches(ID_PATTERN) sourceId!: string;
  /** Area (zone) inside the source: detectors and valves of one area vote and interlock together. */
  @Matches(ID_PATTERN) area!: string;
  /** Expected publish period, seconds (stale detection uses N × this). */
  @IsOptional() @IsNumber() @IsPositive() @Max(3600) periodS: number = 5;

  // gas_detector
  @IsOptional() @IsString() gas?: string;
  @IsOptional() @IsIn(['combustible', 'toxic']) gasClass?: GasClass;
  @IsOptional() @IsIn(['%LEL', 'ppm', 'mg/m3']) unit?: GasUnit;
  /** Set points in the detector's unit (GB/T 50493-2019 ceilings apply). */
  @IsOptional() @IsNumber() @Min(0) level1?: number;
  @IsOptional() @IsNumber() @Min(0) level2?: number;

  // tank
  @IsOptional() @IsNumber() @IsPositive() capacityM3?: number;
  @IsOptional() @IsNumber() @IsPositive() densityTPerM3?: number;
  @IsOptional() @IsString() substance?: string;

  // shutoff_valve
  @IsOptional() @IsNumber() @IsPositive() @Max(600) travelTimeS?: number;

  // safety_system
  @IsOptional() @IsIn(['esd', 'gas_detection', 'video', 'lightning']) system?: SafetySystemKind;

  /** Instrument span per numeric channel [lo, hi]; readings outside the span but within physical limits are accepted and flagged by rules as over/under-range. */
  @IsOptional() @IsObject() ranges?: Record<string, [number, number]>;
}

export class SiteSchema {
  @Matches(ID_PATTERN) id!: string;
  @IsString() name!: string;
  @IsOptional() @IsString() nameEn?: string;
  @Matches(JURISDICTION_PATTERN, { message: 'must be a path like tianjin/binhai/nangang' }) jurisdiction!: string;
  @ValidateNested() @Type(() => LocationSchema) location!: LocationSchema;
  /** Enterprise flags: 两重点一重大 etc. */
  @IsOptional() @IsArray() @IsString({ each: true }) flags?: string[];
  @IsArray() @ValidateNested({ each: true }) @Type(() => HazardSourceSchema) hazardSources!: HazardSourceSchema[];
  @IsArray() @ArrayMaxSize(10000) @ValidateNested({ each: true }) @Type(() => DeviceSchema) devices!: DeviceSchema[];
}

export class PlantSchema {
  @IsArray() @ArrayMinSize(1) @ValidateNested({ each: true }) @Type(() => SiteSchema) sites!: SiteSchema[];
}
