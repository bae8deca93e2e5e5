import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AlarmService } from '../alarms/alarm.service';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { PRIORITY_LEVEL, type Priority } from '../common/types';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { IngestService } from '../ingest/ingest.service';
import { RulesService } from '../rules/rules.service';
import { PlantReadRepository } from './plant-read.repository';

const GRADE_LEVEL = ['red', 'orange', 'yellow', 'blue'] as const;
const SYSTEMS = ['esd', 'gas_detection', 'video', 'lightning'] as const;

/**
 * One view for a regulator: its enterprises with the jurisdiction path (city → district → park), the
 * four-colour level of each hazard source (filed and live), open alarms by priority, disposal obligations (overdue,
 * awaiting, awaiting review) and the four safety systems. The console builds the tree from `jurisdiction`.
 */
@ApiTags('regulator')
@ApiBearerAuth()
@Controller('api/regulator')
export class RegulatorViewController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly scope: ScopeService,
    private readonly alarms: AlarmService,
    private readonly rules: RulesService,
    private readonly ingest: IngestService,
    private readonly repo: PlantReadRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('overview')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Enterprises in your jurisdiction with risk levels, open alarms, disposal status and the four systems',
  })
  async overview(@CurrentPrincipal() p: Principal): Promise<unknown> {
    const now = this.clock.now();
    const visible = this.scope.visibleSiteIds(p);
    const hazards = new Map(this.rules.hazardSnapshot().map((h) => [h.sourceId, h]));
    const open = this.alarms.list({}, p).filter((a) => a.active || a.state !== 'normal');
    const obligations = await this.repo.obligations(this.scope.siteFilter(p), now - 24 * 3600_000);
    const enterprises = this.config.plant.sites
      .filter((s) => visible.has(s.id))
      .map((s) => {
        const alarms: Record<Priority, number> = { critical: 0, high: 0, medium: 0, low: 0 };
        for (const a of open) if (a.siteId === s.id && a.active) alarms[a.priority] += 1;
        const mine = obligations.filter((o) => o.siteId === s.id);
        const overdue = mine.filter(
          (o) => o.status === 'awaiting' && (o.overdueAt !== null || o.dueAt <= now),
        );
        return {
          id: s.id,
          name: s.name,
          nameEn: s.nameEn ?? null,
          jurisdiction: s.jurisdiction,
          location: s.location,
          flags: s.flags ?? [],
          openAlarms: alarms,
          disposals: {
            overdue: overdue.length,
            awaiting: mine.filter((o) => o.status === 'awaiting').length,
            awaitingReview: mine.filter((o) => o.status === 'filed').length,
            items: mine.map((o) => ({
              alarmId: o.alarmId,
              priority: o.priority,
              status: o.status,
              dueAt: new Date(o.dueAt).toISOString(),
              overdue: o.status === 'awaiting' && (o.overdueAt !== null || o.dueAt <= now),
              filedLate: o.filedAt !== null && o.overdueAt !== null,
              returned: o.returned,
            })),
          },
          hazardSources: s.hazardSources.map((h) => {
            const live = hazards.get(h.id);
            const systems: Record<string, string> = {};
            for (const sys of h.requiredSystems ?? SYSTEMS) {
              const dev = s.devices.find(
                (d) => d.kind === 'safety_system' && d.sourceId === h.id && d.system === sys,
              );
              const st = dev ? this.ingest.registry.get(`${s.id}/${dev.id}`) : undefined;
              const v = st?.values.get('status')?.value;
              systems[sys] = !dev
                ? 'missing'
                : st?.state === 'offline'
                  ? 'offline'
                  : typeof v === 'string'
                    ? v
                    : 'unknown';
            }
            return {
              id: h.id,
              name: h.name,
              nameEn: h.nameEn ?? null,
              filedGrade: h.filedGrade,
              filedLevel: GRADE_LEVEL[h.filedGrade - 1] ?? 'blue',
              liveGrade: live?.grade ?? null,
              liveLevel: live?.level ?? null,
              R: live?.R ?? null,
              openAlarms: open.filter((a) => a.sourceId === h.id && a.active).length,
              highestOpen:
                (['critical', 'high', 'medium', 'low'] as const).find((pr) =>
                  open.some((a) => a.sourceId === h.id && a.active && a.priority === pr),
                ) ?? null,
              systems,
            };
          }),
        };
      });
    return {
      generatedAt: new Date(now).toISOString(),
      scope: p.role === 'admin' ? '' : p.scope,
      levels: PRIORITY_LEVEL,
      enterprises,
    };
  }
}
