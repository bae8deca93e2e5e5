import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { HIDDEN_DANGER_STATES, type HiddenDangerState } from './domain/hidden-danger.machine';

export class DispositionBody {
  @ApiProperty({
    description: 'Cause found',
    example: '1# 储罐进料阀填料泄漏 valve packing leak on tank 1 inlet',
  })
  @IsString()
  @Length(1, 4000)
  cause!: string;

  @ApiProperty({
    description: 'Actions taken',
    example: '关闭进料阀，更换填料，复测浓度正常 closed the inlet, replaced the packing, re-measured',
  })
  @IsString()
  @Length(1, 4000)
  actions!: string;

  @ApiProperty({ description: 'Who closed the incident on site', example: '张伟 操作负责人' })
  @IsString()
  @Length(1, 200)
  closedBy!: string;

  @ApiPropertyOptional({ description: 'References to attachments (file names or URLs)', type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @Length(1, 500, { each: true })
  attachments?: string[];
}

export class ReviewBody {
  @ApiProperty({ enum: ['accept', 'return'] })
  @IsIn(['accept', 'return'])
  decision!: 'accept' | 'return';

  @ApiPropertyOptional({ description: 'Required when returning the record' })
  @IsOptional()
  @IsString()
  @Length(0, 4000)
  comment?: string;
}

export class HiddenDangerBody {
  @ApiProperty({ example: '1# 储罐进料阀填料老化 aged valve packing' })
  @IsString()
  @Length(1, 500)
  title!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 4000)
  comment?: string;
}

export class HiddenDangerMoveBody {
  @ApiProperty({ enum: HIDDEN_DANGER_STATES })
  @IsIn(HIDDEN_DANGER_STATES)
  to!: HiddenDangerState;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 4000)
  comment?: string;
}

export class HiddenDangerQuery {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 64) site?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 64) alarm?: string;
  @ApiPropertyOptional({ enum: HIDDEN_DANGER_STATES })
  @IsOptional()
  @IsIn(HIDDEN_DANGER_STATES)
  status?: HiddenDangerState;
}
