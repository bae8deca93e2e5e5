import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

/** Query of `GET /api/rejects` (the dead letters of ingest, docs/contract.md §3). */
export class RejectsQuery {
  @ApiPropertyOptional({ description: 'Only this reject reason' })
  @IsOptional()
  @Matches(/^[a-z_]{1,32}$/, { message: 'reason must be a reject reason like invalid_json' })
  reason?: string;

  @ApiPropertyOptional({ description: 'Page: entries with id below this' })
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'before must be an entry id' })
  before?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value,
  )
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(1000)
  limit?: number;
}
