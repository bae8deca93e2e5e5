import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { ALARM_EVENT_TYPES, ALARM_STATES, type AlarmState } from './domain/alarm.types';
import { MAX_SHELVE_MINUTES } from './domain/alarm-state.machine';
import type { Priority } from '../common/types';

const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
const TIME_RE = /^(\d{10,16}|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?)$/;
const TIME_MSG = 'must be an ISO-8601 time with zone (2026-11-24T10:00:00Z) or epoch milliseconds';
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
const trim = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? value.trim() : value);

// ---------------------------------------------------------------------------------------------------------------------
// queries

export class AlarmListQuery {
  @ApiPropertyOptional({ enum: ALARM_STATES, description: 'ISA-18.2 state' })
  @IsOptional()
  @IsIn(ALARM_STATES, { message: `state must be one of ${ALARM_STATES.join(', ')}` })
  state?: AlarmState;

  @ApiPropertyOptional({ description: 'Enterprise (site) id', example: 'bohai-chem' })
  @IsOptional()
  @Matches(ID, { message: 'site must be an id like bohai-chem' })
  site?: string;

  @ApiPropertyOptional({ enum: PRIORITIES })
  @IsOptional()
  @IsIn(PRIORITIES, { message: `priority must be one of ${PRIORITIES.join(', ')}` })
  priority?: Priority;

  @ApiPropertyOptional({ description: 'Raised at or after (ISO-8601 or epoch ms)' })
  @IsOptional()
  @Matches(TIME_RE, { message: `from ${TIME_MSG}` })
  from?: string;

  @ApiPropertyOptional({ description: 'Raised before (ISO-8601 or epoch ms)' })
  @IsOptional()
  @Matches(TIME_RE, { message: `to ${TIME_MSG}` })
  to?: string;
}

export class JournalQueryDto {
  @ApiPropertyOptional({
    description: 'Recorded at or after (ISO-8601 or epoch ms); default 24 h before `to`',
  })
  @IsOptional()
  @Matches(TIME_RE, { message: `from ${TIME_MSG}` })
  from?: string;

  @ApiPropertyOptional({ description: 'Recorded before (ISO-8601 or epoch ms); default now' })
  @IsOptional()
  @Matches(TIME_RE, { message: `to ${TIME_MSG}` })
  to?: string;

  @ApiPropertyOptional({ description: 'Only rows with seq greater than this (paging)' })
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'afterSeq must be an integer' })
  @Min(0)
  afterSeq?: number;

  @ApiPropertyOptional({ description: 'Most rows to return (1–10000, default 1000)' })
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(10_000)
  limit?: number;
}

export class AlarmJournalQuery {
  @ApiPropertyOptional({ description: 'Most rows to return (1–10000, default 1000)' })
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(10_000)
  limit?: number;
}

export class KpiQuery {
  @ApiPropertyOptional({ description: 'Window start (ISO-8601 or epoch ms); default 30 days before `to`' })
  @IsOptional()
  @Matches(TIME_RE, { message: `from ${TIME_MSG}` })
  from?: string;

  @ApiPropertyOptional({ description: 'Window end (ISO-8601 or epoch ms); default now' })
  @IsOptional()
  @Matches(TIME_RE, { message: `to ${TIME_MSG}` })
  to?: string;
}

// ---------------------------------------------------------------------------------------------------------------------
// bodies

export class AckBody {
  @ApiPropertyOptional({ description: 'Operator comment, written to the journal', maxLength: 1000 })
  @IsOptional()
  @IsString({ message: 'comment must be a string' })
  @MaxLength(1000)
  comment?: string;
}

export class ShelveBody {
  @ApiProperty({
    description: `Minutes to shelve (1–${MAX_SHELVE_MINUTES})`,
    minimum: 1,
    maximum: MAX_SHELVE_MINUTES,
    example: 30,
  })
  @IsInt({ message: 'minutes must be an integer' })
  @Min(1, { message: 'minutes must be at least 1' })
  @Max(MAX_SHELVE_MINUTES, { message: `minutes must not exceed ${MAX_SHELVE_MINUTES} (12 h)` })
  minutes!: number;

  @ApiProperty({ description: 'Why (journalled)', example: 'detector being recalibrated', maxLength: 1000 })
  @Transform(trim)
  @IsString({ message: 'reason must be a string' })
  @IsNotEmpty({ message: 'reason is required' })
  @MaxLength(1000)
  reason!: string;
}

export class ReasonBody {
  @ApiProperty({ description: 'Why (journalled)', example: 'detector replaced', maxLength: 1000 })
  @Transform(trim)
  @IsString({ message: 'reason must be a string' })
  @IsNotEmpty({ message: 'reason is required' })
  @MaxLength(1000)
  reason!: string;
}

export class CommentBody extends AckBody {}

// ---------------------------------------------------------------------------------------------------------------------
// responses (OpenAPI documentation of the shapes the service returns)

export class AlarmSnapshotDto {
  @ApiProperty({ example: 'al-3f2a9c0d1e2b3a4c5d6e' }) id!: string;
  @ApiProperty({ example: 'bohai-chem' }) siteId!: string;
  @ApiProperty({ example: 'bhc-cl2' }) sourceId!: string;
  @ApiProperty({ example: 'limit:cl-gd-1:conc' }) ruleId!: string;
  @ApiPropertyOptional({ example: 'cl-gd-1' }) deviceId?: string;
  @ApiProperty({ example: 'gas_l2' }) condition!: string;
  @ApiProperty({ enum: PRIORITIES }) priority!: Priority;
  @ApiProperty({ enum: ['red', 'orange', 'yellow', 'blue'] }) level!: string;
  @ApiProperty({ enum: ALARM_STATES }) state!: AlarmState;
  @ApiProperty() active!: boolean;
  @ApiProperty() acked!: boolean;
  @ApiProperty({
    description: 'number, boolean, string or null',
    nullable: true,
    oneOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }],
    example: 2.4,
  })
  value!: unknown;
  @ApiProperty({
    description: 'number, string or null',
    nullable: true,
    oneOf: [{ type: 'number' }, { type: 'string' }],
    example: 2,
  })
  limit!: unknown;
  @ApiProperty() message!: string;
  @ApiProperty({ format: 'date-time' }) raisedAt!: string;
  @ApiPropertyOptional({ format: 'date-time' }) ackedAt?: string;
  @ApiPropertyOptional() ackedBy?: string;
  @ApiPropertyOptional({ format: 'date-time' }) clearedAt?: string;
  @ApiProperty({ description: 'seq of the last alarm event that changed this alarm' }) seq!: number;
  @ApiPropertyOptional({ format: 'date-time' }) shelvedUntil?: string;
  @ApiPropertyOptional() shelvedBy?: string;
  @ApiPropertyOptional({ type: [String] }) suppressedBy?: string[];
  @ApiPropertyOptional() outOfServiceBy?: string;
}

export class AlarmEventResponseDto extends AlarmSnapshotDto {
  @ApiProperty({ enum: ALARM_EVENT_TYPES }) event!: string;
  @ApiProperty({ format: 'date-time', description: 'when hazwatch recorded the event' }) at!: string;
  @ApiPropertyOptional({ description: 'who did it (operator actions)' }) actor?: string;
  @ApiPropertyOptional({ description: 'comment or reason' }) comment?: string;
}

export class FloodStatusDto {
  @ApiProperty() siteId!: string;
  @ApiProperty() alarmsIn10Min!: number;
  @ApiProperty({ description: 'more than 10 alarms in 10 min; ends below 5' }) flood!: boolean;
}

export class AlarmStatusDto {
  @ApiProperty({ description: 'alarm state rebuilt from the database' }) ready!: boolean;
  @ApiProperty({ description: 'alarm events cannot be written: held in memory, shown as a banner' })
  storageDegraded!: boolean;
  @ApiPropertyOptional({
    description: 'alarm events waiting to be written, all sites: only for principals who see every site',
  })
  pendingWrites?: number;
  @ApiProperty({ description: 'current alarm-event seq' }) seq!: number;
  @ApiPropertyOptional() lastError?: string;
  @ApiProperty({
    type: [FloodStatusDto],
    description: 'visible sites with alarms raised in the last 10 minutes',
  })
  floods!: FloodStatusDto[];
}

export class JournalVerifyDto {
  @ApiProperty() ok!: boolean;
  @ApiProperty() rowsChecked!: number;
  @ApiPropertyOptional({ nullable: true }) lastSeq?: number | null;
  @ApiPropertyOptional({
    description: 'first row whose hash, link or seq does not check out',
    example: { seq: 42, reason: 'hash does not match the row content: the row was modified' },
  })
  firstBroken?: { seq: number; reason: string };
}
