import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { FINDING_GRADES, FINDING_ORIGINS, FINDING_STATUSES } from './domain/finding.policy';

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export class CreateFindingBody {
  @ApiProperty({ example: 'bohai-chem' })
  @Matches(ID, { message: 'siteId must be a site id' })
  siteId!: string;
  @ApiPropertyOptional({ example: 'bhc-cl2' })
  @IsOptional()
  @Matches(ID, { message: 'sourceId must be a hazard source id' })
  sourceId?: string;
  @ApiPropertyOptional({ description: 'Required when origin is alarm' })
  @IsOptional()
  @Matches(ID, { message: 'alarmId must be an alarm id' })
  alarmId?: string;
  @ApiProperty({ enum: FINDING_ORIGINS })
  @IsIn(FINDING_ORIGINS, { message: `origin must be one of ${FINDING_ORIGINS.join(', ')}` })
  origin!: string;
  @ApiProperty({ enum: FINDING_GRADES, description: 'major 重大 / general 一般' })
  @IsIn(FINDING_GRADES, { message: 'grade must be major or general' })
  grade!: string;
  @ApiProperty() @IsString() @MinLength(2) @MaxLength(200) title!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
  @ApiProperty({ description: 'Rectification deadline, ISO-8601 with zone, in the future' })
  @IsISO8601({ strict: true }, { message: 'deadline must be an ISO-8601 time' })
  deadline!: string;
}

/** 五落实: any subset; later calls add or replace fields. */
export class FindingPlanBody {
  @ApiPropertyOptional({ description: '整改措施' })
  @IsOptional()
  @IsString()
  @MinLength(2)
  @MaxLength(4000)
  measures?: string;
  @ApiPropertyOptional({ description: '整改资金, CNY' }) @IsOptional() @IsNumber() @Min(0) fundsCny?: number;
  @ApiPropertyOptional({ description: '整改时限, ISO-8601' })
  @IsOptional()
  @IsISO8601({ strict: true })
  due?: string;
  @ApiPropertyOptional({ description: '整改责任人' })
  @IsOptional()
  @IsString()
  @MinLength(2)
  @MaxLength(100)
  responsible?: string;
  @ApiPropertyOptional({ description: '应急预案' })
  @IsOptional()
  @IsString()
  @MinLength(2)
  @MaxLength(4000)
  contingency?: string;
}

export class FindingTransitionBody {
  @ApiProperty({ enum: FINDING_STATUSES })
  @IsIn(FINDING_STATUSES, { message: `to must be one of ${FINDING_STATUSES.join(', ')}` })
  to!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2000) comment?: string;
}

export class FindingListQuery {
  @ApiPropertyOptional() @IsOptional() @Matches(ID) site?: string;
  @ApiPropertyOptional({ enum: FINDING_GRADES })
  @IsOptional()
  @IsIn(FINDING_GRADES, { message: 'grade must be major or general' })
  grade?: string;
  @ApiPropertyOptional({ enum: FINDING_STATUSES })
  @IsOptional()
  @IsIn(FINDING_STATUSES, { message: `status must be one of ${FINDING_STATUSES.join(', ')}` })
  status?: string;
}

/**
 * Converting a hidden-danger item of the disposal loop into a finding. The item has no deadline and none is invented:
 * the caller sets it (docs/findings.md, "Converting a hidden-danger item").
 */
export class ConvertHiddenDangerBody {
  @ApiProperty({ enum: FINDING_GRADES, description: 'major 重大 / general 一般' })
  @IsIn(FINDING_GRADES, { message: 'grade must be major or general' })
  grade!: string;
  @ApiProperty({
    description:
      'Rectification deadline, ISO-8601 with zone, in the future. Required: the item has none and hazwatch does not invent one',
  })
  @IsISO8601(
    { strict: true },
    {
      message:
        'deadline (ISO-8601) is required: a hidden-danger item has no deadline and the conversion does not invent one',
    },
  )
  deadline!: string;
  @ApiPropertyOptional({
    enum: FINDING_ORIGINS,
    description: 'Default alarm for an item raised from an alarm; required otherwise',
  })
  @IsOptional()
  @IsIn(FINDING_ORIGINS, { message: `origin must be one of ${FINDING_ORIGINS.join(', ')}` })
  origin?: string;
  @ApiPropertyOptional({ description: "Default: the item's title" })
  @IsOptional()
  @IsString()
  @MinLength(2)
  @MaxLength(200)
  title?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
  @ApiPropertyOptional({ description: 'Why it is converted; kept in both histories' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  comment?: string;
}
