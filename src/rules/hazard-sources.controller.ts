import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import type { ColourLevel } from '../common/types';
import type { HazardStatus } from './domain/hazard-grading';
import { RulesService } from './rules.service';

export class HazardInventoryDto {
  @ApiProperty({ example: 'chlorine' }) substance!: string;
  @ApiProperty({ description: 'Live inventory q, tonnes', example: 44.1 }) q!: number;
  @ApiProperty({ description: 'Critical quantity Q, tonnes (GB 18218-2018)', example: 5 }) Q!: number;
  @ApiProperty({ description: 'Correction factor β', example: 4 }) beta!: number;
  @ApiProperty({ description: 'Tanks holding the substance', example: 2 }) tanks!: number;
  @ApiProperty({
    description: 'Tanks with a measured level (the others count with their design inventory)',
    example: 2,
  })
  measuredTanks!: number;
}

export class HazardSourceDto {
  @ApiProperty({ example: 'bhc-cl2' }) sourceId!: string;
  @ApiProperty({ example: 'bohai-chem' }) siteId!: string;
  @ApiProperty({ example: '液氯储罐区' }) name!: string;
  @ApiProperty({ description: 'Officially filed grade (1 highest … 4)', example: 1 }) filedGrade!: number;
  @ApiProperty({ description: 'S = Σ q/Q; ≥ 1 means a major hazard source', example: 17.64 }) S!: number;
  @ApiProperty({ description: 'R = α · Σ β·q/Q (live indicator)', example: 105.84 }) R!: number;
  @ApiProperty({
    description: 'Live grade from R: 1 (R ≥ 100), 2 (≥ 50), 3 (≥ 10), 4',
    enum: [1, 2, 3, 4],
    example: 1,
  })
  grade!: number;
  @ApiProperty({
    description: 'Four-colour level of the live grade',
    enum: ['red', 'orange', 'yellow', 'blue'],
    example: 'red',
  })
  level!: ColourLevel;
  @ApiProperty({ description: 'α from people within 500 m', example: 1.5 }) alpha!: number;
  @ApiProperty({ type: [HazardInventoryDto] }) inventory!: HazardInventoryDto[];
  @ApiProperty({
    description: 'Event time of the last level that changed the inventory (ISO 8601)',
    example: '2026-11-24T10:00:00.000Z',
  })
  updatedAt!: string;
  @ApiProperty({
    description:
      'True when the live grade is more severe than the filed grade (an indicator, never a re-grade)',
    example: false,
  })
  aboveFiledGrade!: boolean;
  @ApiProperty({
    description:
      'True while a tank level of the source is stale, offline or bad-quality: R counts that tank at its filling limit (an upper bound), never at a frozen level',
    example: false,
  })
  uncertain!: boolean;
  @ApiProperty({ description: 'Tanks whose level is not trustworthy now', type: [String], example: [] })
  uncertainTanks!: string[];
}

export function toHazardSourceDto(h: HazardStatus): HazardSourceDto {
  return {
    sourceId: h.sourceId,
    siteId: h.siteId,
    name: h.name,
    filedGrade: h.filedGrade,
    S: h.S,
    R: h.R,
    grade: h.grade,
    level: h.level,
    alpha: h.alpha,
    inventory: h.inventory.map((i) => ({ ...i })),
    updatedAt: new Date(h.updatedAt).toISOString(),
    aboveFiledGrade: h.grade < h.filedGrade,
    uncertain: h.uncertain,
    uncertainTanks: [...h.uncertainTanks],
  };
}

@ApiTags('hazard-sources')
@ApiBearerAuth()
@Controller('api/hazard-sources')
export class HazardSourcesController {
  constructor(
    private readonly rules: RulesService,
    private readonly scope: ScopeService,
  ) {}

  @Get()
  @Requires('plant.read')
  @ApiOperation({
    summary: 'Major hazard sources with live inventory, S, R, grade and four-colour level (GB 18218-2018)',
  })
  @ApiOkResponse({ type: [HazardSourceDto] })
  list(@CurrentPrincipal() principal: Principal): HazardSourceDto[] {
    const visible = this.scope.visibleSiteIds(principal);
    return this.rules
      .hazardSnapshot()
      .filter((h) => visible.has(h.siteId))
      .map(toHazardSourceDto);
  }
}
