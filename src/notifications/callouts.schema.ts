import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import type { Priority } from '../common/types';
import {
  CALL_OUTCOMES,
  CALLEE_ROLES,
  WEEKDAYS,
  type CallOutcome,
  type CalleeRole,
  type Weekday,
} from './domain/callout.types';

const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** A SIP URI (sip:8001@pbx.example:5060) or a phone number (+8613800000000, 02225201234). */
export const NUMBER_PATTERN = /^(sips?:[^\s@]+@[^\s;]+(;[^\s]*)?|\+?\d{3,20})$/;
const NUMBER_MSG = 'must be a SIP URI (sip:user@host) or a phone number (+8613800000000)';
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export class OnCallSchema {
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(WEEKDAYS, { each: true, message: `days must be among ${WEEKDAYS.join(', ')}` })
  days!: Weekday[];
  @Matches(HHMM, { message: 'must be HH:MM (24 h, local time)' }) from!: string;
  @Matches(HHMM, { message: 'must be HH:MM (24 h, local time); earlier than from wraps midnight' })
  to!: string;
  @IsOptional() @Matches(DATE, { message: 'must be YYYY-MM-DD' }) fromDate?: string;
  @IsOptional() @Matches(DATE, { message: 'must be YYYY-MM-DD' }) toDate?: string;
}

export class PersonSchema {
  @IsString() @MaxLength(64) name!: string;
  @Matches(NUMBER_PATTERN, { message: NUMBER_MSG }) number!: string;
  /** Absent or empty: always on call. */
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => OnCallSchema) onCall?: OnCallSchema[];
}

/** 包保责任人: 主要负责人 (main), 技术负责人 (technical), 操作负责人 (operations); a list is an on-call rota. */
export class RosterSchema {
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => PersonSchema) main?: PersonSchema[];
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PersonSchema)
  technical?: PersonSchema[];
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PersonSchema)
  operations?: PersonSchema[];
}

export class ControlRoomSchema {
  @IsString() @MaxLength(64) name!: string;
  @Matches(NUMBER_PATTERN, { message: NUMBER_MSG }) number!: string;
}

export class SiteDutyCheckSchema {
  @IsOptional() @IsBoolean() enabled?: boolean;
  @IsOptional() @IsString() cron?: string;
}

/** A duty-check schedule for every enterprise under a jurisdiction path (a site's own `dutyCheck` still wins). */
export class JurisdictionDutyCheckSchema {
  @Matches(/^[a-z0-9-]+(\/[a-z0-9-]+)*$/, { message: 'must be a jurisdiction path like tianjin/binhai' })
  jurisdiction!: string;
  @IsOptional() @IsBoolean() enabled?: boolean;
  @IsOptional() @IsString() cron?: string;
}

export class SourceContactsSchema {
  @Matches(ID, { message: 'must be a hazard source id of this site' }) sourceId!: string;
  @ValidateNested() @Type(() => RosterSchema) responsible!: RosterSchema;
}

export class SiteCalloutSchema {
  @Matches(ID, { message: 'must be a site id from plant.yaml' }) siteId!: string;
  @ValidateNested() @Type(() => ControlRoomSchema) controlRoom!: ControlRoomSchema;
  @ValidateNested() @Type(() => RosterSchema) responsible!: RosterSchema;
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SourceContactsSchema)
  sources?: SourceContactsSchema[];
  @IsOptional() @ValidateNested() @Type(() => SiteDutyCheckSchema) dutyCheck?: SiteDutyCheckSchema;
}

export class DutyDeskSchema {
  @Matches(ID) id!: string;
  @IsString() @MaxLength(64) name!: string;
  /** Sites whose jurisdiction path starts with this (segment-aware) are covered by this desk; the longest match wins. */
  @Matches(/^[a-z0-9-]+(\/[a-z0-9-]+)*$/, { message: 'must be a jurisdiction path like tianjin/binhai' })
  jurisdiction!: string;
  @Matches(NUMBER_PATTERN, { message: NUMBER_MSG }) number!: string;
}

export class LadderStepSchema {
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(CALLEE_ROLES, { each: true, message: `targets must be among ${CALLEE_ROLES.join(', ')}` })
  targets!: CalleeRole[];
  /** Seconds after the previous step started (the first step: after the start delay). */
  @IsInt() @Min(0) @Max(86_400) afterSeconds!: number;
}

export class QuietRuleSchema {
  @Matches(HHMM, { message: 'must be HH:MM' }) from!: string;
  @Matches(HHMM, { message: 'must be HH:MM' }) to!: string;
  /** Critical is never quiet: listing it is an error. */
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(['high', 'medium', 'low'], {
    each: true,
    message: 'priorities may be high, medium, low (critical alarms are never held by quiet rules)',
  })
  priorities!: Array<'high' | 'medium' | 'low'>;
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(CALLEE_ROLES, { each: true, message: `targets must be among ${CALLEE_ROLES.join(', ')}` })
  targets!: CalleeRole[];
}

export class RuleLadderSchema {
  @IsString() @MaxLength(128) ruleIdPrefix!: string;
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => LadderStepSchema)
  ladder!: LadderStepSchema[];
}

export class StartDelaySchema {
  @IsOptional() @IsInt() @Min(0) @Max(86_400) critical: number = 0;
  @IsOptional() @IsInt() @Min(0) @Max(86_400) high: number = 120;
  @IsOptional() @IsInt() @Min(0) @Max(86_400) medium: number = 300;
  @IsOptional() @IsInt() @Min(0) @Max(86_400) low: number = 600;
}

const DEFAULT_LADDER = (): LadderStepSchema[] =>
  [
    { targets: ['control_room'], afterSeconds: 0 },
    { targets: ['operations'], afterSeconds: 180 },
    { targets: ['technical'], afterSeconds: 300 },
    { targets: ['main', 'duty_desk'], afterSeconds: 300 },
  ].map((s) => Object.assign(new LadderStepSchema(), s));

/** Escalation policy; every figure defaults to docs/domain.md §6. */
export class PolicySchema {
  @IsOptional() @IsArray() @IsIn(PRIORITIES, { each: true }) triggerPriorities: Priority[] = [
    'critical',
    'high',
  ];
  @IsOptional() @ValidateNested() @Type(() => StartDelaySchema) startDelaySeconds: StartDelaySchema =
    new StartDelaySchema();
  @IsOptional() @IsInt() @Min(10) @Max(180) ringTimeoutSeconds: number = 40;
  @IsOptional() @IsInt() @Min(5) @Max(300) keyTimeoutSeconds: number = 30;
  @IsOptional() @IsInt() @Min(0) @Max(5) retries: number = 1;
  @IsOptional() @IsInt() @Min(0) @Max(3600) retryDelaySeconds: number = 60;
  @IsOptional()
  @IsArray()
  @IsIn(CALL_OUTCOMES.filter((o) => o !== 'ACKED'), {
    each: true,
    message: 'retryOn must list call outcomes other than ACKED',
  })
  retryOn: CallOutcome[] = ['BUSY', 'NO_ANSWER'];
  @IsOptional() @IsInt() @Min(1) @Max(10) promptRepeats: number = 3;
  @IsOptional() @Matches(/^[0-9*#]$/, { message: 'must be one DTMF key: 0-9, * or #' }) confirmKey: string =
    '1';
  @IsOptional() @IsInt() @Min(1) @Max(10) loops: number = 2;
  @IsOptional() @IsInt() @Min(0) @Max(86_400) loopDelaySeconds: number = 300;
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => LadderStepSchema)
  ladder: LadderStepSchema[] = DEFAULT_LADDER();
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => QuietRuleSchema)
  quiet: QuietRuleSchema[] = [];
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => RuleLadderSchema)
  ruleLadders: RuleLadderSchema[] = [];
}

export class DutyCheckSchema {
  @IsOptional() @IsBoolean() enabled: boolean = true;
  /** Cron, 5 fields (minute hour day month weekday) or 6 with seconds first, in `timezone`. */
  @IsOptional() @IsString() cron: string = '0 10,22 * * *';
  @IsOptional() @IsInt() @Min(0) @Max(720) jitterMinutes: number = 0;
  @IsOptional() @IsInt() @Min(10) @Max(180) ringTimeoutSeconds: number = 40;
  /** DOMAIN §6: the operator has 15 s to press a key. */
  @IsOptional() @IsInt() @Min(5) @Max(120) keyTimeoutSeconds: number = 15;
  @IsOptional() @IsInt() @Min(0) @Max(3) retries: number = 1;
  @IsOptional() @IsInt() @Min(1) @Max(3600) retryAfterSeconds: number = 300;
  @IsOptional() @Matches(/^[0-9*#]$/, { message: 'must be one DTMF key: 0-9, * or #' }) confirmKey: string =
    '1';
  @IsOptional() @IsInt() @Min(1) @Max(10) promptRepeats: number = 3;
  @IsOptional() @IsIn(PRIORITIES) missedPriority: Priority = 'high';
}

/** How the fake phone answers duty-check calls: the confirm key with probability answerRate, else no answer. */
export class FakeDutyCheckAnswersSchema {
  @IsNumber() @Min(0) @Max(1) answerRate!: number;
  /** Seed of the dice, so a demo run is reproducible. */
  @IsOptional() @IsInt() @Min(0) seed: number = 1;
}

export class FakeVoiceSchema {
  /** Seconds from placing a fake call to its outcome. */
  @IsOptional() @IsInt() @Min(0) @Max(600) callSeconds: number = 5;
  @IsOptional() @IsIn(CALL_OUTCOMES) default: CallOutcome = 'ANSWERED_NO_ACK';
  /** number → outcomes in order (the last one repeats). */
  @IsOptional() @IsObject() byNumber: Record<string, CallOutcome[]> = {};
  /** Demo control rooms that answer duty checks (absent: duty-check calls follow byNumber / default like any call). */
  @IsOptional()
  @ValidateNested()
  @Type(() => FakeDutyCheckAnswersSchema)
  dutyChecks?: FakeDutyCheckAnswersSchema;
}

export class SipVoiceSchema {
  /** host[:port] of the IP-PBX or SIP/GSM gateway that phone numbers are sent to. SIP URIs go where they say. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, { message: 'must be host or host:port' })
  proxy?: string;
  @IsOptional() @IsString() localAddress: string = '127.0.0.1';
  @IsOptional() @IsInt() @Min(0) @Max(65535) localPort: number = 0;
  /** The address written into SDP and Contact (defaults to localAddress). */
  @IsOptional() @IsString() publicAddress?: string;
  @IsOptional() @Matches(/^[A-Za-z0-9_.+-]{1,64}$/) fromUser: string = 'hazwatch';
  @IsOptional() @IsString() displayName: string = 'hazwatch';
  @IsOptional() @IsString() username?: string;
  /** Digest password (masked in logs). */
  @IsOptional() @IsString() password?: string;
  @IsOptional() @IsInt() @Min(1024) @Max(65534) rtpPortMin: number = 40000;
  @IsOptional() @IsInt() @Min(1025) @Max(65535) rtpPortMax: number = 40999;
  /** espeak-ng voice for the spoken prompt. */
  @IsOptional() @IsString() voice: string = 'cmn';
}

export class VoiceSchema {
  /** auto: the fake provider under `npm start` demo mode (HAZWATCH_DEMO), the SIP provider otherwise. */
  @IsOptional() @IsIn(['auto', 'fake', 'sip']) provider: 'auto' | 'fake' | 'sip' = 'auto';
  @IsOptional() @ValidateNested() @Type(() => FakeVoiceSchema) fake: FakeVoiceSchema = new FakeVoiceSchema();
  @IsOptional() @ValidateNested() @Type(() => SipVoiceSchema) sip?: SipVoiceSchema;
}

/** config/callouts.yaml */
export class CalloutsFileSchema {
  @IsOptional() @IsString() timezone: string = 'Asia/Shanghai';
  @IsOptional() @ValidateNested() @Type(() => VoiceSchema) voice: VoiceSchema = new VoiceSchema();
  @IsOptional() @ValidateNested() @Type(() => PolicySchema) policy: PolicySchema = new PolicySchema();
  @IsOptional() @ValidateNested() @Type(() => DutyCheckSchema) dutyCheck: DutyCheckSchema =
    new DutyCheckSchema();
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => DutyDeskSchema)
  dutyDesks: DutyDeskSchema[] = [];
  @IsArray() @ValidateNested({ each: true }) @Type(() => SiteCalloutSchema) sites!: SiteCalloutSchema[];
  /** Duty-check schedules per jurisdiction (district, park): the longest matching path applies to a site. */
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => JurisdictionDutyCheckSchema)
  jurisdictionDutyChecks: JurisdictionDutyCheckSchema[] = [];
}
