import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';
import type { FeedbackStatus } from './duty-workflow.repository';

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

export class OffPostEventBody {
  @ApiProperty({
    description:
      'The video system’s own id of the event; a retry with the same id is answered from the first record',
    example: 'vid-2026-12-03-000123',
  })
  @Matches(/^[A-Za-z0-9._:-]{1,128}$/, { message: 'eventId must be 1–128 letters, digits, . _ : -' })
  eventId!: string;

  @ApiProperty({ description: 'Enterprise (site id) whose control room is empty', example: 'bohai-chem' })
  @Matches(/^[a-z0-9-]{1,64}$/, { message: 'site must be a site id' })
  site!: string;

  @ApiProperty({ enum: ['off_post'], description: 'off_post: nobody at the control-room post (离岗)' })
  @IsIn(['off_post'])
  kind!: 'off_post';

  @ApiPropertyOptional({
    description: 'When the camera saw it (ISO 8601 with offset); default: when received',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  occurredAt?: string;

  @ApiProperty({ description: 'Evidence: the camera id', example: 'bhc-cr-cam-02' })
  @IsString()
  @Length(1, 128)
  cameraId!: string;

  @ApiPropertyOptional({ description: 'Evidence: snapshot URL (http or https)' })
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  @Length(1, 2000)
  snapshotUrl?: string;

  @ApiPropertyOptional({ description: 'Evidence: snapshot id in the video platform' })
  @IsOptional()
  @IsString()
  @Length(1, 256)
  snapshotId?: string;
}

export class DutyListQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000 })
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class FeedbackListQuery extends DutyListQuery {
  @ApiPropertyOptional({ enum: ['awaiting', 'filed', 'accepted'] })
  @IsOptional()
  @IsIn(['awaiting', 'filed', 'accepted'])
  status?: FeedbackStatus;
}

export class FeedbackBody {
  @ApiProperty({ description: 'Who was on duty in the control room', example: '王强 班长' })
  @IsString()
  @Length(1, 200)
  who!: string;

  @ApiProperty({
    description: 'Why the duty check was missed',
    example: '交接班时电话转接错误 call forwarded wrongly at shift change',
  })
  @IsString()
  @Length(1, 4000)
  why!: string;

  @ApiProperty({
    description: 'What was done about it',
    example: '恢复直线电话并复测 line restored and tested',
  })
  @IsString()
  @Length(1, 4000)
  actions!: string;
}

export class FeedbackReviewBody {
  @ApiProperty({ enum: ['accept', 'return'] })
  @IsIn(['accept', 'return'])
  decision!: 'accept' | 'return';

  @ApiPropertyOptional({ description: 'Required when returning it' })
  @IsOptional()
  @IsString()
  @Length(0, 4000)
  comment?: string;
}
