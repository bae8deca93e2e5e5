import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString } from 'class-validator';

export const DOSSIER_FORMATS = ['json', 'html', 'pdf'] as const;
export type DossierFormat = (typeof DOSSIER_FORMATS)[number];

export class IncidentQuery {
  @ApiPropertyOptional({
    description: 'Window start: ISO-8601 with zone or epoch ms (default: `to` − 1 h)',
    example: '2026-11-24T10:00:00Z',
  })
  @IsOptional()
  @IsString()
  from?: string;

  @ApiPropertyOptional({
    description: 'Window end (exclusive): ISO-8601 with zone or epoch ms (default: now)',
    example: '2026-11-24T11:00:00Z',
  })
  @IsOptional()
  @IsString()
  to?: string;

  @ApiPropertyOptional({
    enum: DOSSIER_FORMATS,
    description: 'json (default), printable html (Chinese, A4 print CSS) or pdf',
  })
  @IsOptional()
  @IsIn(DOSSIER_FORMATS, { message: `format must be one of ${DOSSIER_FORMATS.join(', ')}` })
  format?: DossierFormat;
}
