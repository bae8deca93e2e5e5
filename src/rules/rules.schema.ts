import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  Equals,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import type { Assert, Exactly } from '../common/type-assert';
import type { Priority } from '../common/types';
import type { CompareOp } from './domain/rule-spec';
import type {
  ChannelTermConfig,
  CompositeConfig,
  CompositeTermConfig,
  ConditionRefConfig,
  InterlockConfig,
  LimitConfig,
  LimitEntryConfig,
  OverfillConfig,
  RocConfig,
  RulesConfig,
  RulesSettings,
  SafetySystemConfig,
  VoteConfig,
} from './domain/rules-config';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Condition keys and rule ids: letters, digits, _ - : . */
const KEY = /^[A-Za-z0-9_:.-]{1,96}$/;
const PRIORITIES: Priority[] = ['critical', 'high', 'medium', 'low'];
const OPS: CompareOp[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];

export class SettingsSchema {
  @IsOptional() @IsNumber() @Min(0) @Max(3600) lateToleranceS?: number;
  @IsOptional() @IsNumber() @Min(60) @Max(86400) groupIdleS?: number;
  @IsOptional() @IsNumber() @Min(1) @Max(100) staleAfterPeriods?: number;
  @IsOptional() @IsNumber() @Min(1) @Max(86400) staleMinS?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(600) offlineDelayS?: number;
  @IsOptional() @IsNumber() @Min(1) @Max(7 * 86400) bypassAllowedS?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(60) valveGraceS?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(600) interlockMarginS?: number;
  @IsOptional() @IsNumber() @Min(1) @Max(1440) overfillHorizonMin?: number;
  @IsOptional() @IsNumber() @Min(60) @Max(86400) overfillWindowS?: number;
}

export class LimitEntrySchema {
  @Matches(KEY) condition!: string;
  @IsOptional() @IsIn(['high', 'low']) direction?: 'high' | 'low';
  @IsOptional() @IsNumber() value?: number;
  @IsOptional() @IsIn(PRIORITIES) priority?: Priority;
  @IsOptional() @IsNumber() @Min(0) deadband?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(600) onDelayS?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(600) offDelayS?: number;
  @IsOptional() @IsBoolean() disabled?: boolean;
}

export class LimitSchema {
  @Matches(ID) site!: string;
  @Matches(ID) device!: string;
  @IsString() channel!: string;
  @IsOptional() @IsNumber() @Min(0) deadband?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(600) onDelayS?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(600) offDelayS?: number;
  @IsArray() @ValidateNested({ each: true }) @Type(() => LimitEntrySchema) limits!: LimitEntrySchema[];
}

export class RocSchema {
  @Matches(ID) site!: string;
  @Matches(ID) device!: string;
  @IsString() channel!: string;
  @IsOptional() @IsNumber() @Min(5) @Max(3600) windowS?: number;
  @IsOptional() @ValidateIf((_o, v) => v !== null) @IsNumber() @Min(0) maxRisePerMin?: number | null;
  @IsOptional() @ValidateIf((_o, v) => v !== null) @IsNumber() @Min(0) maxFallPerMin?: number | null;
  @IsOptional() @IsIn(PRIORITIES) priority?: Priority;
  @IsOptional() @IsBoolean() disabled?: boolean;
}

export class OverfillSchema {
  @Matches(ID) site!: string;
  @Matches(ID) device!: string;
  @IsOptional() @IsNumber() @Min(1) @Max(1440) horizonMin?: number;
  @IsOptional() @IsNumber() @Min(60) @Max(86400) windowS?: number;
  @IsOptional() @IsNumber() hh?: number;
  @IsOptional() @IsIn(PRIORITIES) priority?: Priority;
  @IsOptional() @IsBoolean() disabled?: boolean;
}

export class SafetySystemSchema {
  @Matches(ID) site!: string;
  @Matches(ID) device!: string;
  @IsOptional() @IsNumber() @Min(1) @Max(7 * 86400) bypassAllowedS?: number;
}

export class ConditionRefSchema {
  @Matches(KEY) condition!: string;
  @IsOptional() @Matches(KEY) rule?: string;
  @IsOptional() @Matches(ID) device?: string;
  @IsOptional() @Matches(ID) area?: string;
  @IsOptional() @Matches(ID) source?: string;
}

export class VoteSchema {
  @IsOptional() @Matches(KEY) id?: string;
  @Matches(ID) site!: string;
  @Matches(ID) area!: string;
  @IsOptional() @IsArray() @Matches(ID, { each: true }) members?: string[];
  @IsInt() @Min(1) k!: number;
  @IsOptional() @Matches(KEY) condition?: string;
  @IsOptional() @IsNumber() @Min(0) @Max(3600) windowS?: number;
  @IsIn(['tripped', 'excluded'], {
    message: 'faulted must be chosen explicitly: tripped (2oo3 → 1oo2) or excluded (2oo3 → 2oo2)',
  })
  faulted!: 'tripped' | 'excluded';
  @IsOptional() @IsIn(PRIORITIES) priority?: Priority;
  @IsOptional() @IsBoolean() disabled?: boolean;
}

export class InterlockSchema {
  @Matches(KEY) id!: string;
  @Matches(ID) site!: string;
  @IsArray() @ValidateNested({ each: true }) @Type(() => ConditionRefSchema) when!: ConditionRefSchema[];
  @IsArray() @Matches(ID, { each: true }) valves!: string[];
  @IsOptional() @IsNumber() @Min(1) @Max(600) closeWithinS?: number;
  @IsOptional() @IsIn(PRIORITIES) priority?: Priority;
}

export class ChannelTermSchema {
  @Matches(ID) device!: string;
  @IsString() channel!: string;
  @IsIn(OPS) op!: CompareOp;
  @IsDefined() value!: number | string | boolean;
}

export class CompositeTermSchema {
  @IsOptional() @ValidateNested() @Type(() => ConditionRefSchema) condition?: ConditionRefSchema;
  @IsOptional() @ValidateNested() @Type(() => ChannelTermSchema) channel?: ChannelTermSchema;
}

export class CompositeSchema {
  @Matches(KEY) id!: string;
  @Matches(ID) site!: string;
  @Matches(ID) source!: string;
  @Matches(KEY) condition!: string;
  @IsIn(PRIORITIES) priority!: Priority;
  @IsIn(['and', 'or']) op!: 'and' | 'or';
  @IsOptional() @IsNumber() @Min(0) @Max(3600) forS?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(3600) withinS?: number;
  @IsArray() @ValidateNested({ each: true }) @Type(() => CompositeTermSchema) terms!: CompositeTermSchema[];
  @IsOptional() @IsString() message?: string;
}

/** config/rules.yaml */
export class RulesFileSchema {
  @Equals(1, { message: 'version must be 1' }) version!: 1;
  @IsOptional() @ValidateNested() @Type(() => SettingsSchema) settings?: SettingsSchema;
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => LimitSchema) limits?: LimitSchema[];
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => RocSchema) rateOfChange?: RocSchema[];
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => OverfillSchema)
  overfill?: OverfillSchema[];
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SafetySystemSchema)
  safetySystems?: SafetySystemSchema[];
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => VoteSchema) votes?: VoteSchema[];
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => InterlockSchema)
  interlocks?: InterlockSchema[];
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => CompositeSchema)
  composites?: CompositeSchema[];
  @IsOptional() @IsArray() @Matches(KEY, { each: true }) disable?: string[];
}

/**
 * The schema above and `RulesConfig` (src/rules/domain/rules-config.ts, what the compiler reads) describe one shape:
 * `tsc` fails on the line of the section that differs (a field added, renamed, made optional or retyped on one side
 * only), so the two change together.
 */
export type RulesSchemaMatchesConfig = [
  Assert<Exactly<SettingsSchema, Partial<RulesSettings>>>,
  Assert<Exactly<LimitEntrySchema, LimitEntryConfig>>,
  Assert<Exactly<LimitSchema, LimitConfig>>,
  Assert<Exactly<RocSchema, RocConfig>>,
  Assert<Exactly<OverfillSchema, OverfillConfig>>,
  Assert<Exactly<SafetySystemSchema, SafetySystemConfig>>,
  Assert<Exactly<ConditionRefSchema, ConditionRefConfig>>,
  Assert<Exactly<VoteSchema, VoteConfig>>,
  Assert<Exactly<InterlockSchema, InterlockConfig>>,
  Assert<Exactly<ChannelTermSchema, ChannelTermConfig>>,
  Assert<Exactly<CompositeTermSchema, CompositeTermConfig>>,
  Assert<Exactly<CompositeSchema, CompositeConfig>>,
  Assert<Exactly<RulesFileSchema, RulesConfig>>,
];
