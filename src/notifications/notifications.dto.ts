import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { CALL_OUTCOMES, CALLEE_ROLES, type CallOutcome } from './domain/callout.types';
import { DUTY_CHECK_RESULTS, type DutyCheckResult } from './domain/duty-check.machine';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const TIME_RE = /^(\d{10,16}|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?)$/;
const TIME_MSG = 'must be an ISO-8601 time with zone (2026-11-24T10:00:00Z) or epoch milliseconds';
const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

export class CalloutQuery {
  @ApiPropertyOptional({ description: 'Alarm id', example: 'al-0123456789abcdef0123' })
  @IsOptional()
  @Matches(/^al-[0-9a-f]{20}$/, { message: 'alarm must be an alarm id like al-0123456789abcdef0123' })
  alarm?: string;

  @ApiPropertyOptional({ description: 'Enterprise (site) id', example: 'bohai-chem' })
  @IsOptional()
  @Matches(ID, { message: 'site must be an id like bohai-chem' })
  site?: string;

  @ApiPropertyOptional({
    enum: CALL_OUTCOMES,
    description: 'Call-outs with at least one attempt of this outcome',
  })
  @IsOptional()
  @IsIn(CALL_OUTCOMES, { message: `outcome must be one of ${CALL_OUTCOMES.join(', ')}` })
  outcome?: CallOutcome;

  @ApiPropertyOptional({ description: 'Started at or after (ISO-8601 or epoch ms)' })
  @IsOptional()
  @Matches(TIME_RE, { message: `from ${TIME_MSG}` })
  from?: string;

  @ApiPropertyOptional({ description: 'Started before (ISO-8601 or epoch ms)' })
  @IsOptional()
  @Matches(TIME_RE, { message: `to ${TIME_MSG}` })
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class DutyCheckQuery {
  @ApiPropertyOptional({ description: 'Enterprise (site) id', example: 'bohai-chem' })
  @IsOptional()
  @Matches(ID, { message: 'site must be an id like bohai-chem' })
  site?: string;

  @ApiPropertyOptional({ enum: DUTY_CHECK_RESULTS })
  @IsOptional()
  @IsIn(DUTY_CHECK_RESULTS, { message: `result must be one of ${DUTY_CHECK_RESULTS.join(', ')}` })
  result?: DutyCheckResult;

  @ApiPropertyOptional({ description: 'Scheduled at or after (ISO-8601 or epoch ms)' })
  @IsOptional()
  @Matches(TIME_RE, { message: `from ${TIME_MSG}` })
  from?: string;

  @ApiPropertyOptional({ description: 'Scheduled before (ISO-8601 or epoch ms)' })
  @IsOptional()
  @Matches(TIME_RE, { message: `to ${TIME_MSG}` })
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class SummaryQuery {
  @ApiProperty({ description: 'Month in Asia/Shanghai local time', example: '2026-11' })
  @Matches(/^\d{4}-(0[1-9]|1[0-2])$/, { message: 'month must be YYYY-MM' })
  month!: string;
}

export class RunDutyCheckBody {
  @ApiProperty({ description: 'Enterprise (site) id', example: 'bohai-chem' })
  @Matches(ID, { message: 'site must be an id like bohai-chem' })
  site!: string;
}

export class CallEventDto {
  @ApiProperty() at!: string;
  @ApiProperty({ example: 'provisional' }) kind!: string;
  @ApiPropertyOptional() sipCode?: number;
  @ApiPropertyOptional() detail?: string;
}

export class AttemptDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: CALLEE_ROLES }) calleeRole!: string;
  @ApiProperty() calleeName!: string;
  @ApiProperty({ description: 'SIP URI or phone number' }) number!: string;
  @ApiPropertyOptional({ description: 'Ladder loop (1-based)' }) loop?: number;
  @ApiPropertyOptional({ description: 'Ladder step (1-based)' }) step?: number;
  @ApiProperty() attemptNo!: number;
  @ApiProperty() placedAt!: string;
  @ApiPropertyOptional() answeredAt?: string;
  @ApiPropertyOptional() endedAt?: string;
  @ApiProperty({ example: 'sip' }) provider!: string;
  @ApiPropertyOptional({ description: 'SIP Call-ID or the provider’s call id' }) providerCallId?: string;
  @ApiPropertyOptional() sipCode?: number;
  @ApiPropertyOptional() sipStatus?: string;
  @ApiProperty({ description: 'Keys pressed, in order' }) digits!: string;
  @ApiPropertyOptional({ enum: CALL_OUTCOMES, description: 'Absent while the call is in progress' })
  outcome?: string;
  @ApiPropertyOptional() promptVersion?: string;
  @ApiPropertyOptional() detail?: string;
  @ApiProperty({ type: [CallEventDto] }) events!: CallEventDto[];
}

export class SkippedCallDto {
  @ApiProperty() loop!: number;
  @ApiProperty() step!: number;
  @ApiProperty({ enum: CALLEE_ROLES }) role!: string;
  @ApiProperty({ enum: ['quiet', 'no_contact', 'not_graded'] }) reason!: string;
  @ApiProperty() at!: string;
}

export class CalloutDto {
  @ApiProperty() id!: string;
  @ApiProperty() alarmId!: string;
  @ApiProperty() siteId!: string;
  @ApiProperty() sourceId!: string;
  @ApiProperty() ruleId!: string;
  @ApiProperty({ enum: ['critical', 'high', 'medium', 'low'] }) priority!: string;
  @ApiProperty({ enum: ['active', 'acked', 'stopped', 'exhausted'] }) status!: string;
  @ApiPropertyOptional({ enum: ['key_ack', 'console_ack', 'cleared', 'hidden', 'exhausted'] })
  stopReason?: string;
  @ApiProperty() startedAt!: string;
  @ApiPropertyOptional() endedAt?: string;
  @ApiPropertyOptional({ description: 'Who acknowledged by key: name (role) number' }) ackedBy?: string;
  @ApiProperty() loop!: number;
  @ApiProperty() step!: number;
  @ApiProperty({ type: [SkippedCallDto] }) skipped!: SkippedCallDto[];
  @ApiProperty({ type: [AttemptDto] }) attempts!: AttemptDto[];
}

export class DutyCheckDto {
  @ApiProperty() id!: string;
  @ApiProperty() siteId!: string;
  @ApiProperty({ enum: ['schedule', 'manual', 'video'] }) trigger!: string;
  @ApiProperty() scheduledAt!: string;
  @ApiProperty({ enum: ['running', 'done'] }) status!: string;
  @ApiPropertyOptional({ enum: DUTY_CHECK_RESULTS }) result?: string;
  @ApiPropertyOptional() completedAt?: string;
  @ApiProperty({ description: 'A missed check raised an ext:duty-check alarm' }) alarmRaised!: boolean;
  @ApiProperty({ type: [AttemptDto] }) attempts!: AttemptDto[];
}

export class DutySummarySiteDto {
  @ApiProperty() siteId!: string;
  @ApiProperty() siteName!: string;
  @ApiProperty() checks!: number;
  @ApiProperty() onDuty!: number;
  @ApiProperty() noAnswer!: number;
  @ApiProperty() wrongKey!: number;
  @ApiProperty() failed!: number;
  @ApiProperty() running!: number;
  @ApiProperty({
    description: 'on duty / completed checks, percent (null when none completed)',
    nullable: true,
    type: Number,
  })
  onDutyRate!: number | null;
}

export class DutySummaryDto {
  @ApiProperty() month!: string;
  @ApiProperty() from!: string;
  @ApiProperty() to!: string;
  @ApiProperty({ type: [DutySummarySiteDto] }) sites!: DutySummarySiteDto[];
}
