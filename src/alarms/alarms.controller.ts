import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Optional,
  Param,
  Post,
  Query,
  UseFilters,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { CLOCK, type Clock } from '../common/clock';
import type { AlarmKpis } from './domain/alarm-kpi';
import type { OnlineDay } from './domain/online-rate';
import type { AlarmEventDto, AlarmSnapshot } from './domain/alarm.types';
import { AlarmErrorFilter } from './alarm-error.filter';
import { JournalAnchorService, type AnchoredVerification } from './journal-anchor.service';
import { AlarmService, type AlarmSystemStatus, type JournalVerification } from './alarm.service';
import {
  AckBody,
  AlarmEventResponseDto,
  AlarmJournalQuery,
  AlarmListQuery,
  AlarmSnapshotDto,
  AlarmStatusDto,
  CommentBody,
  JournalQueryDto,
  JournalVerifyDto,
  KpiQuery,
  ReasonBody,
  ShelveBody,
} from './alarms.dto';

const DAY = 86_400_000;
const MAX_RANGE_DAYS = 400;

/** ISO-8601 with zone, or epoch milliseconds (the DTO has checked the format). */
export function parseTime(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t))
    throw new BadRequestException(`${name} must be an ISO-8601 time or epoch milliseconds`);
  return t;
}

function range(
  from: string | undefined,
  to: string | undefined,
  now: number,
  defaultSpanMs: number,
): { from: number; to: number } {
  const t = parseTime(to, 'to', now);
  const f = parseTime(from, 'from', t - defaultSpanMs);
  if (t <= f) throw new BadRequestException('from must be before to');
  if (t - f > MAX_RANGE_DAYS * DAY)
    throw new BadRequestException(`the range may not exceed ${MAX_RANGE_DAYS} days`);
  return { from: f, to: t };
}

@ApiTags('alarms')
@ApiBearerAuth()
@ApiServiceUnavailableResponse({ description: 'alarm state is still being loaded from the database' })
@UseFilters(AlarmErrorFilter)
@Controller('api/alarms')
export class AlarmsController {
  constructor(private readonly alarms: AlarmService) {}

  @Get()
  @Requires('plant.read')
  @ApiOperation({ summary: 'Alarms in the caller’s jurisdiction, sorted by priority then newest raise' })
  @ApiOkResponse({ type: [AlarmSnapshotDto] })
  list(@CurrentPrincipal() principal: Principal, @Query() q: AlarmListQuery): AlarmSnapshot[] {
    return this.alarms.list(
      {
        ...(q.state !== undefined ? { state: q.state } : {}),
        ...(q.site !== undefined ? { siteId: q.site } : {}),
        ...(q.priority !== undefined ? { priority: q.priority } : {}),
        ...(q.from !== undefined ? { from: parseTime(q.from, 'from', 0) } : {}),
        ...(q.to !== undefined ? { to: parseTime(q.to, 'to', 0) } : {}),
      },
      principal,
    );
  }

  @Get('status')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Alarm system status: storage degraded (banner), pending writes, current seq, flood indicator per site',
  })
  @ApiOkResponse({ type: AlarmStatusDto })
  status(
    @CurrentPrincipal() principal: Principal,
  ): Omit<AlarmSystemStatus, 'pendingWrites'> & { pendingWrites?: number } {
    const { pendingWrites, ...status } = this.alarms.status(principal);
    // pendingWrites counts every site's events: only principals who see every site get it (docs/threat-model.md)
    const unscoped = principal.role === 'admin' || principal.scope === '';
    return { ...status, ...(unscoped ? { pendingWrites } : {}), floods: this.alarms.floods(principal) };
  }

  @Get(':id')
  @Requires('plant.read')
  @ApiOperation({ summary: 'One alarm' })
  @ApiOkResponse({ type: AlarmSnapshotDto })
  @ApiNotFoundResponse({ description: 'no such alarm in the caller’s jurisdiction' })
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): AlarmSnapshot {
    return this.alarms.get(id, principal);
  }

  @Get(':id/journal')
  @Requires('plant.read')
  @ApiOperation({ summary: 'Journal of one alarm (oldest first)' })
  @ApiOkResponse({ type: [AlarmEventResponseDto] })
  @ApiNotFoundResponse({ description: 'no such alarm in the caller’s jurisdiction' })
  journal(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() q: AlarmJournalQuery,
  ): Promise<AlarmEventDto[]> {
    return this.alarms.alarmJournal(id, principal, q.limit ?? 1_000);
  }

  @Post(':id/ack')
  @HttpCode(200)
  @Requires('alarm.ack')
  @ApiOperation({ summary: 'Acknowledge (journalled with who, when and the comment)' })
  @ApiOkResponse({ type: AlarmSnapshotDto })
  @ApiConflictResponse({
    description: 'the alarm’s state does not allow it (e.g. already acknowledged, shelved)',
  })
  @ApiBadRequestResponse({ description: 'invalid body' })
  ack(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: AckBody,
  ): Promise<AlarmSnapshot> {
    return this.alarms.ack(id, principal, body.comment);
  }

  @Post(':id/shelve')
  @HttpCode(200)
  @Requires('alarm.shelve')
  @ApiOperation({
    summary:
      'Shelve for 1–720 minutes with a reason; unshelved automatically when the time is up. Operators cannot shelve critical alarms.',
  })
  @ApiOkResponse({ type: AlarmSnapshotDto })
  @ApiConflictResponse({ description: 'the alarm’s state does not allow it' })
  @ApiBadRequestResponse({ description: 'minutes or reason missing or out of range' })
  shelve(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: ShelveBody,
  ): Promise<AlarmSnapshot> {
    return this.alarms.shelve(id, principal, body.minutes, body.reason);
  }

  @Post(':id/unshelve')
  @HttpCode(200)
  @Requires('alarm.unshelve')
  @ApiOperation({ summary: 'Return a shelved alarm to the alarm list (supervisor)' })
  @ApiOkResponse({ type: AlarmSnapshotDto })
  @ApiConflictResponse({ description: 'not shelved' })
  unshelve(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: CommentBody,
  ): Promise<AlarmSnapshot> {
    return this.alarms.unshelve(id, principal, body.comment);
  }

  @Post(':id/out-of-service')
  @HttpCode(200)
  @Requires('alarm.out-of-service')
  @ApiOperation({ summary: 'Take out of service for maintenance (supervisor; reason required)' })
  @ApiOkResponse({ type: AlarmSnapshotDto })
  @ApiConflictResponse({ description: 'already out of service' })
  outOfService(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: ReasonBody,
  ): Promise<AlarmSnapshot> {
    return this.alarms.setOutOfService(id, principal, body.reason);
  }

  @Post(':id/return-to-service')
  @HttpCode(200)
  @Requires('alarm.out-of-service')
  @ApiOperation({ summary: 'Return to service (supervisor)' })
  @ApiOkResponse({ type: AlarmSnapshotDto })
  @ApiConflictResponse({ description: 'not out of service' })
  returnToService(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: CommentBody,
  ): Promise<AlarmSnapshot> {
    return this.alarms.returnToService(id, principal, body.comment);
  }

  @Post(':id/reset')
  @HttpCode(200)
  @Requires('alarm.reset')
  @ApiOperation({ summary: 'Reset a latched, acknowledged alarm to normal (supervisor)' })
  @ApiOkResponse({ type: AlarmSnapshotDto })
  @ApiConflictResponse({ description: 'not latched, or not acknowledged yet' })
  reset(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: CommentBody,
  ): Promise<AlarmSnapshot> {
    return this.alarms.reset(id, principal, body.comment);
  }
}

@ApiTags('alarms')
@ApiBearerAuth()
@UseFilters(AlarmErrorFilter)
@Controller('api/journal')
export class JournalController {
  constructor(
    private readonly alarms: AlarmService,
    @Inject(CLOCK) private readonly clock: Clock,
    /** When present, verify also compares the chain with the stored anchors (docs/adr/0015-journal-anchors.md). */
    @Optional() private readonly anchors?: JournalAnchorService,
  ) {}

  @Get()
  @Requires('plant.read')
  @ApiOperation({
    summary: 'Alarm and event journal (append-only, oldest first) in the caller’s jurisdiction',
  })
  @ApiOkResponse({ type: [AlarmEventResponseDto] })
  list(@CurrentPrincipal() principal: Principal, @Query() q: JournalQueryDto): Promise<AlarmEventDto[]> {
    const { from, to } = range(q.from, q.to, this.clock.now(), DAY);
    return this.alarms.journal(
      { from, to, limit: q.limit ?? 1_000, ...(q.afterSeq !== undefined ? { afterSeq: q.afterSeq } : {}) },
      principal,
    );
  }

  @Get('verify')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Walks the whole hash chain (sha256(prev_hash || canonical row)) and reports the first broken row',
  })
  @ApiOkResponse({ type: JournalVerifyDto })
  verify(): Promise<JournalVerification | AnchoredVerification> {
    // Stored anchors catch a careless rewrite only; POST /api/journal/verify with your own copies for evidence.
    return this.anchors ? this.anchors.verify() : this.alarms.verifyJournal();
  }
}

@ApiTags('alarms')
@ApiBearerAuth()
@UseFilters(AlarmErrorFilter)
@Controller('api/kpi')
export class AlarmKpiController {
  constructor(
    private readonly alarms: AlarmService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('alarms')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Alarm-management KPIs (ISA-18.2 / EEMUA 191): average and peak alarms per 10 min, % time in flood, top 10, chattering, stale, priority distribution vs 80/15/5, standing, shelved. Default window: 30 days.',
  })
  @ApiOkResponse({ description: 'KPI figures with their targets' })
  kpis(@CurrentPrincipal() principal: Principal, @Query() q: KpiQuery): Promise<AlarmKpis> {
    const { from, to } = range(q.from, q.to, this.clock.now(), 30 * DAY);
    return this.alarms.kpis(from, to, principal);
  }

  @Get('online')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Online rate (在线率) per enterprise per local day (China Standard Time) in the caller’s jurisdiction: share of device-time in which devices delivered data (a device is offline while its offline or stale alarm is active, from the journal). Default window: 7 days.',
  })
  @ApiOkResponse({ description: 'One row per site and day: devices, onlinePercent, offlineDeviceHours' })
  online(@CurrentPrincipal() principal: Principal, @Query() q: KpiQuery): Promise<OnlineDay[]> {
    const { from, to } = range(q.from, q.to, this.clock.now(), 7 * DAY);
    return this.alarms.onlineRate(from, to, principal);
  }
}
