import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { CurrentPrincipal, Requires, Roles } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { DrillWindow } from './domain/drill-window';
import { DrillConflictError, DrillRepository } from './drill.repository';

export class StartDrillBody {
  @ApiProperty({ example: '液氯储罐区泄漏应急演练', description: 'What is drilled (shown in the banner)' })
  @IsString()
  @MinLength(1, { message: 'scenario must say what is drilled' })
  @MaxLength(500)
  scenario!: string;
}

export class DrillListQuery {
  @ApiPropertyOptional({ description: 'Only this site' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'siteId must be a site id' })
  siteId?: string;
  @ApiPropertyOptional({ description: 'Drills started since (default 7 days ago); running drills always' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 time' })
  since?: string;
}

export type DrillView = {
  id: string;
  siteId: string;
  scenario: string;
  startedAt: string;
  startedBy: string;
  endedAt: string | null;
  endedBy: string | null;
  running: boolean;
};

const view = (w: DrillWindow): DrillView => ({
  id: w.id,
  siteId: w.siteId,
  scenario: w.scenario,
  startedAt: new Date(w.startedAt).toISOString(),
  startedBy: w.startedBy,
  endedAt: w.endedAt === null ? null : new Date(w.endedAt).toISOString(),
  endedBy: w.endedBy,
  running: w.endedAt === null,
});

/**
 * Drills declared by operators on a real plant (docs/adr/0028-declared-drills.md): a supervisor starts and ends a drill
 * of one enterprise; the start and end are recorded (site_drill_event, append-only) with who and when, and the
 * site's alarms inside the window are drill alarms in the console and CAP `Exercise` in the regulator feeds.
 */
@ApiTags('drills')
@Controller('api')
export class DrillsController {
  private readonly log = new JsonLogger('drills');

  constructor(
    private readonly drills: DrillRepository,
    private readonly scope: ScopeService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('drills')
  @Requires('plant.read')
  async list(@CurrentPrincipal() p: Principal, @Query() q: DrillListQuery): Promise<DrillView[]> {
    const visible = this.scope.visibleSiteIds(p);
    const sites = q.siteId ? (visible.has(q.siteId) ? [q.siteId] : []) : [...visible];
    if (q.siteId && sites.length === 0) throw new NotFoundException(`site '${q.siteId}' not found`);
    const since = q.since ? Date.parse(q.since) : this.clock.now() - 7 * 86_400_000;
    return (await this.drills.windows(sites, since)).map(view);
  }

  @Post('sites/:siteId/drills')
  @HttpCode(201)
  @Roles('supervisor')
  async start(
    @CurrentPrincipal() p: Principal,
    @Param('siteId') siteId: string,
    @Body() b: StartDrillBody,
  ): Promise<DrillView> {
    this.scope.assertSite(p, siteId);
    const scenario = b.scenario.trim();
    if (scenario === '') throw new BadRequestException('scenario must say what is drilled');
    try {
      const w = await this.drills.start({
        drillId: randomUUID(),
        siteId,
        at: this.clock.now(),
        by: p.name,
        role: p.role,
        scenario,
      });
      this.log.warn('drill started: alarms of the site are drill alarms until it ends', {
        drillId: w.id,
        siteId,
        by: p.name,
        scenario,
      });
      return view(w);
    } catch (err) {
      if (err instanceof DrillConflictError) throw new ConflictException(err.message);
      throw err;
    }
  }

  @Post('sites/:siteId/drills/end')
  @HttpCode(200)
  @Roles('supervisor')
  async end(@CurrentPrincipal() p: Principal, @Param('siteId') siteId: string): Promise<DrillView> {
    this.scope.assertSite(p, siteId);
    const w = await this.drills.end(siteId, this.clock.now(), p.name, p.role);
    if (!w) throw new NotFoundException(`no drill of ${siteId} is running`);
    this.log.warn('drill ended', { drillId: w.id, siteId, by: p.name });
    return view(w);
  }
}
