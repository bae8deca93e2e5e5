import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { CAP_PROFILES, type CapProfile } from './domain/cap-national.profile';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Length, Matches, Max, Min } from 'class-validator';
import type { Priority } from '../common/types';

export class CreateSubscriptionBody {
  @ApiProperty({
    description: 'Receiver URL (http or https); deliveries are POSTed here',
    example: 'https://esb.binhai.example/hazwatch',
  })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'url must be an http(s) URL' },
  )
  url!: string;

  @ApiProperty({
    description: 'Jurisdiction path prefix within your token’s scope',
    example: 'tianjin/binhai',
  })
  @Matches(/^([a-z0-9-]+(\/[a-z0-9-]+)*)?$/, {
    message: 'scope must be a jurisdiction path like tianjin/binhai',
  })
  scope!: string;

  @ApiProperty({
    enum: ['critical', 'high', 'medium', 'low'],
    description: 'Lowest alarm priority delivered',
  })
  @IsIn(['critical', 'high', 'medium', 'low'])
  minPriority!: Priority;

  @ApiProperty({
    enum: ['json', 'cap'],
    description: 'json: a JSON envelope with the alarm event; cap: the CAP 1.2 document',
  })
  @IsIn(['json', 'cap'])
  format!: 'json' | 'cap';

  @ApiPropertyOptional({
    enum: CAP_PROFILES,
    description:
      'CAP profile (docs/cap-profile.md): oasis (default) or cn-national (GB/T 35965.1 identifiers; needs feeds.yaml nationalProfile)',
  })
  @IsOptional()
  @IsIn(CAP_PROFILES)
  profile?: CapProfile;

  @ApiPropertyOptional({ description: 'Label (default: the token’s name)' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;
}

export class DeliveriesQuery {
  @ApiPropertyOptional({ description: 'Page: deliveries older than this position' })
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'before must be a delivery position' })
  before?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value,
  )
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class GrantBody {
  @ApiProperty({
    description: 'Id of the token that may read the subscription (see `npm run token -- list`)',
  })
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'tokenId must be a token id' })
  tokenId!: string;
}
