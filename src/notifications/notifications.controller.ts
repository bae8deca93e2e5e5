import {
  BadRequestException,
  Body,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { CALLOUT_STORE, type CalloutStore, type CalloutView, type DutyCheckView } from './callout.store';
import type { DutyCheckState } from './domain/duty-check.machine';
import { DutyCheckService } from './duty-check.service';
import {
  CalloutDto,
  CalloutQuery,
  DutyCheckDto,
  DutyCheckQuery,
  DutySummaryDto,
  RunDutyCheckBody,
  SummaryQuery,
} from './notifications.dto';

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t))
    throw new BadRequestException(`${name} must be an ISO-8601 time or epoch milliseconds`);
  return t;
}

/** Month boundaries in Asia/Shanghai (UTC+8, no daylight saving). */
export function monthRange(month: string): { from: number; to: number } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const from = Date.UTC(y, m - 1, 1) - 8 * 3_600_000;
  const to = Date.UTC(y, m, 1) - 8 * 3_600_000;
  return { from, to };
}

@ApiTags('notifications')
@ApiBearerAuth()
@Controller('api')
export class NotificationsController {
  private readonly log = new JsonLogger('notifications.duty-checks');

  constructor(
    @Inject(CALLOUT_STORE) private readonly store: CalloutStore,
    private readonly scope: ScopeService,
    private readonly duty: DutyCheckService,
    @Inject(APP_CONFIG) private readonly app: AppConfig,
  ) {}

  private sites(
    principal: Principal,
    site: string | undefined,
  ): { siteIds?: readonly string[]; siteId?: string } {
    if (site !== undefined) this.scope.assertSite(principal, site);
    const siteIds = this.scope.siteFilter(principal);
    return { ...(siteIds ? { siteIds } : {}), ...(site !== undefined ? { siteId: site } : {}) };
  }

  @Get('callouts')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Alarm call-outs in the caller’s jurisdiction, newest first, each with its attempts and provider events',
  })
  @ApiOkResponse({ type: [CalloutDto] })
  @ApiBadRequestResponse({ description: 'invalid filter' })
  callouts(@CurrentPrincipal() principal: Principal, @Query() q: CalloutQuery): Promise<CalloutView[]> {
    const from = parseTime(q.from, 'from');
    const to = parseTime(q.to, 'to');
    return this.store.listCallouts({
      ...this.sites(principal, q.site),
      ...(q.alarm !== undefined ? { alarmId: q.alarm } : {}),
      ...(q.outcome !== undefined ? { outcome: q.outcome } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      limit: q.limit ?? 100,
    });
  }

  @Get('duty-checks')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Duty checks (值班值守抽查) in the caller’s jurisdiction, newest first, with their call attempts',
  })
  @ApiOkResponse({ type: [DutyCheckDto] })
  dutyChecks(@CurrentPrincipal() principal: Principal, @Query() q: DutyCheckQuery): Promise<DutyCheckView[]> {
    const from = parseTime(q.from, 'from');
    const to = parseTime(q.to, 'to');
    return this.store.listDutyChecks({
      ...this.sites(principal, q.site),
      ...(q.result !== undefined ? { result: q.result } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      limit: q.limit ?? 100,
    });
  }

  @Get('duty-checks/summary')
  @Requires('plant.read')
  @ApiOperation({ summary: 'Monthly duty-check summary per enterprise (month in Asia/Shanghai time)' })
  @ApiOkResponse({ type: DutySummaryDto })
  async summary(@CurrentPrincipal() principal: Principal, @Query() q: SummaryQuery): Promise<DutySummaryDto> {
    const { from, to } = monthRange(q.month);
    const visible = this.scope.visibleSiteIds(principal);
    const rows = await this.store.dutySummary(from, to, this.scope.siteFilter(principal));
    const sites = this.app.plant.sites
      .filter((s) => visible.has(s.id))
      .map((s) => {
        const n = (r: string): number =>
          rows.filter((x) => x.siteId === s.id && x.result === r).reduce((a, x) => a + x.count, 0);
        const onDuty = n('on_duty');
        const done = onDuty + n('no_answer') + n('wrong_key') + n('failed');
        return {
          siteId: s.id,
          siteName: s.name,
          checks: done + n('running'),
          onDuty,
          noAnswer: n('no_answer'),
          wrongKey: n('wrong_key'),
          failed: n('failed'),
          running: n('running'),
          onDutyRate: done === 0 ? null : Math.round((onDuty / done) * 1000) / 10,
        };
      });
    return { month: q.month, from: new Date(from).toISOString(), to: new Date(to).toISOString(), sites };
  }

  @Post('duty-checks/run')
  @HttpCode(201)
  @Requires('duty-check.run')
  @ApiOperation({
    summary:
      'Start a duty check of one enterprise now (supervisor, admin; a district or city regulator within its jurisdiction)',
  })
  @ApiCreatedResponse({ description: 'the check as started (its call is being placed)' })
  @ApiNotFoundResponse({
    description: 'no such site in the caller’s jurisdiction, or no duty-check configuration for it',
  })
  @ApiForbiddenResponse({ description: 'a regulator asked for an enterprise outside its jurisdiction' })
  @ApiConflictResponse({ description: 'a check of this site is already running' })
  run(@CurrentPrincipal() principal: Principal, @Body() body: RunDutyCheckBody): DutyCheckState {
    if (principal.role === 'regulator') {
      if (!this.app.plant.siteById.has(body.site))
        throw new NotFoundException(`site '${body.site}' not found`);
      if (!this.scope.canSeeSite(principal, body.site))
        throw new ForbiddenException(
          `site '${body.site}' lies outside your jurisdiction '${principal.scope}': regulators check enterprises of their own jurisdiction`,
        );
    } else this.scope.assertSite(principal, body.site);
    const started = this.duty.run(body.site, 'manual');
    this.log.info('duty check requested', {
      id: started.id,
      siteId: body.site,
      by: principal.name,
      role: principal.role,
    });
    return started;
  }
}
