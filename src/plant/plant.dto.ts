import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

export const TIME_RE =
  /^(\d{10,16}|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?)$/;
const TIME_MSG = 'must be an ISO-8601 time with zone (2026-11-24T10:00:00Z) or epoch milliseconds';
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export class SiteFilterQuery {
  @ApiPropertyOptional({ description: 'Enterprise (site) id' })
  @IsOptional()
  @Matches(ID, { message: 'site must be an id like bohai-chem' })
  site?: string;
}

export class TelemetryQuery {
  @ApiProperty({
    description: 'Device as siteId/deviceId (or a device id that is unique across sites)',
    example: 'bohai-chem/cl-gd-1',
  })
  @Matches(/^([A-Za-z0-9_-]{1,64}\/)?[A-Za-z0-9_-]{1,64}$/, { message: 'device must be siteId/deviceId' })
  device!: string;

  @ApiPropertyOptional({ description: 'Channel (e.g. conc, level_pct); all channels when omitted' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_]{1,64}$/, { message: 'channel must be a channel name like conc' })
  channel?: string;

  @ApiPropertyOptional({ description: 'Start (inclusive); default one hour before `to`' })
  @IsOptional()
  @Matches(TIME_RE, { message: `from ${TIME_MSG}` })
  from?: string;

  @ApiPropertyOptional({ description: 'End (exclusive); default now' })
  @IsOptional()
  @Matches(TIME_RE, { message: `to ${TIME_MSG}` })
  to?: string;

  @ApiPropertyOptional({
    description: 'Bucket width (30s, 1m, 15m, 1h, 1d) for min/max/avg/last; raw rows when omitted',
  })
  @IsOptional()
  @Matches(/^(raw|\d+(s|m|h|d)?)$/, { message: 'bucket must be like 30s, 1m, 1h, 1d or raw' })
  bucket?: string;

  @ApiPropertyOptional({ description: 'Maximum raw rows (default 10000)', minimum: 1, maximum: 100000 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value,
  )
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(100000)
  limit?: number;
}
