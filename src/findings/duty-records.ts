/**
 * The enterprise's daily safety commitment (安全承诺) and the three responsible persons' performance record
 * (包保责任人履职: duty checks done, calls answered), per month in China time (docs/findings.md). Parameterised SQL.
 */
import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  Inject,
  Injectable,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches, MaxLength, Min, MinLength } from 'class-validator';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { localClock } from '../incident/domain/local-time';
import { FINDINGS_SQL, type FindingsSql } from './findings.repository';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
export const RISK_LEVELS = ['low', 'general', 'higher', 'major'] as const;

/** [from, to) of a month in China Standard Time (UTC+8, no DST), epoch ms. */
export function cstMonth(month: string): { from: number; to: number; days: string[] } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const from = Date.UTC(y, m - 1, 1) - 8 * 3_600_000;
  const to = Date.UTC(y, m, 1) - 8 * 3_600_000;
  const days: string[] = [];
  for (let t = from; t < to; t += 86_400_000) days.push(localClock(t).slice(0, 10));
  return { from, to, days };
}

export class CommitmentBody {
  @ApiProperty({ description: '主要负责人 who commits' })
  @IsString()
  @MinLength(2)
  @MaxLength(64)
  committedBy!: string;
  @ApiProperty({ enum: RISK_LEVELS, description: '低 / 一般 / 较大 / 重大' })
  @IsIn(RISK_LEVELS, { message: `riskLevel must be one of ${RISK_LEVELS.join(', ')}` })
  riskLevel!: string;
  @ApiProperty() @IsInt() @Min(0) unitsRunning!: number;
  @ApiProperty() @IsInt() @Min(0) unitsStopped!: number;
  @ApiProperty({ description: '动火作业 count' }) @IsInt() @Min(0) hotWork!: number;
  @ApiProperty({ description: '受限空间作业 count' }) @IsInt() @Min(0) confinedSpace!: number;
  @ApiProperty() @IsString() @MinLength(4) @MaxLength(2000) statement!: string;
}
export class MonthQuery {
  @ApiProperty({ example: '2026-11' }) @Matches(MONTH, { message: 'month must be YYYY-MM' }) month!: string;
  @ApiPropertyOptional() @IsOptional() @Matches(/^[A-Za-z0-9_-]{1,64}$/) site?: string;
}

type CommitmentRow = {
  site_id: string;
  day: string;
  committed_by: string;
  risk_level: string;
  units_running: number;
  units_stopped: number;
  hot_work: number;
  confined_space: number;
  statement: string;
  recorded_by: string;
  recorded_at: Date;
};

@Injectable()
export class DutyRecordsRepository {
  constructor(@Inject(FINDINGS_SQL) private readonly sql: FindingsSql) {}

  async commit(siteId: string, day: string, b: CommitmentBody, by: string, at: number): Promise<boolean> {
    const r = await this.sql.query(
      `INSERT INTO safety_commitment (site_id, day, committed_by, risk_level, units_running, units_stopped, hot_work, confined_space, statement, recorded_by, recorded_at)
       VALUES ($1, $2::date, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (site_id, day) DO NOTHING`,
      [
        siteId,
        day,
        b.committedBy,
        b.riskLevel,
        b.unitsRunning,
        b.unitsStopped,
        b.hotWork,
        b.confinedSpace,
        b.statement,
        by,
        new Date(at),
      ],
    );
    return r.rowCount === 1;
  }

  async commitments(siteIds: readonly string[], fromDay: string, toDay: string): Promise<CommitmentRow[]> {
    const r = await this.sql.query<CommitmentRow>(
      `SELECT site_id, to_char(day, 'YYYY-MM-DD') AS day, committed_by, risk_level, units_running, units_stopped, hot_work, confined_space, statement, recorded_by, recorded_at
       FROM safety_commitment WHERE site_id = ANY($1) AND day >= $2::date AND day <= $3::date ORDER BY site_id, day`,
      [[...siteIds], fromDay, toDay],
    );
    return r.rows;
  }

  /** Calls to the responsible persons per person: placed, answered, confirmed with the key. */
  async calls(
    siteIds: readonly string[],
    from: number,
    to: number,
  ): Promise<
    Array<{
      site_id: string;
      callee_role: string;
      callee_name: string;
      placed: number;
      answered: number;
      acked: number;
    }>
  > {
    const r = await this.sql.query<{
      site_id: string;
      callee_role: string;
      callee_name: string;
      placed: number;
      answered: number;
      acked: number;
    }>(
      `SELECT site_id, callee_role, callee_name, count(*)::int AS placed, count(answered_at)::int AS answered,
              count(*) FILTER (WHERE outcome = 'ACKED')::int AS acked
       FROM call_attempt WHERE site_id = ANY($1) AND placed_at >= $2 AND placed_at < $3 AND callee_role IN ('main', 'technical', 'operations')
       GROUP BY site_id, callee_role, callee_name ORDER BY site_id, callee_role, callee_name`,
      [[...siteIds], new Date(from), new Date(to)],
    );
    return r.rows;
  }

  async dutyChecks(
    siteIds: readonly string[],
    from: number,
    to: number,
  ): Promise<Array<{ site_id: string; done: number; on_duty: number }>> {
    const r = await this.sql.query<{ site_id: string; done: number; on_duty: number }>(
      `SELECT site_id, count(*) FILTER (WHERE status = 'done')::int AS done, count(*) FILTER (WHERE result = 'on_duty')::int AS on_duty
       FROM duty_check WHERE site_id = ANY($1) AND scheduled_at >= $2 AND scheduled_at < $3 GROUP BY site_id ORDER BY site_id`,
      [[...siteIds], new Date(from), new Date(to)],
    );
    return r.rows;
  }
}

@ApiTags('findings')
@ApiBearerAuth()
@Controller('api')
export class DutyRecordsController {
  constructor(
    private readonly repo: DutyRecordsRepository,
    private readonly scope: ScopeService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post('sites/:id/safety-commitments')
  @Requires('alarm.disposition')
  @ApiOperation({
    summary: "Today's safety commitment (安全承诺) of the enterprise, once per day (China time)",
  })
  async commit(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: CommitmentBody,
  ): Promise<{ siteId: string; day: string }> {
    this.scope.assertSite(p, id);
    const now = this.clock.now();
    const day = localClock(now).slice(0, 10);
    if (!(await this.repo.commit(id, day, b, p.name, now)))
      throw new ConflictException(`the safety commitment of ${id} for ${day} is already made`);
    return { siteId: id, day };
  }

  @Get('safety-commitments')
  @Requires('plant.read')
  @ApiOperation({
    summary: 'Safety commitments of a month per enterprise in your jurisdiction, with the days missing',
  })
  async commitments(@CurrentPrincipal() p: Principal, @Query() q: MonthQuery): Promise<unknown[]> {
    const sites = this.sites(p, q.site);
    const { days } = cstMonth(q.month);
    const rows = await this.repo.commitments(sites, days[0] as string, days[days.length - 1] as string);
    const today = localClock(this.clock.now()).slice(0, 10);
    return sites.map((siteId) => {
      const mine = rows.filter((r) => r.site_id === siteId);
      const made = new Set(mine.map((r) => r.day));
      return {
        siteId,
        month: q.month,
        missingDays: days.filter((d) => d <= today && !made.has(d)),
        commitments: mine.map((r) => ({
          day: r.day,
          committedBy: r.committed_by,
          riskLevel: r.risk_level,
          unitsRunning: r.units_running,
          unitsStopped: r.units_stopped,
          hotWork: r.hot_work,
          confinedSpace: r.confined_space,
          statement: r.statement,
          recordedBy: r.recorded_by,
          recordedAt: r.recorded_at.toISOString(),
        })),
      };
    });
  }

  @Get('responsible-performance')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      '包保责任人履职 per month: duty checks done and answered, calls to each responsible person placed, answered and confirmed',
  })
  async performance(@CurrentPrincipal() p: Principal, @Query() q: MonthQuery): Promise<unknown[]> {
    const sites = this.sites(p, q.site);
    const { from, to } = cstMonth(q.month);
    const [calls, checks] = await Promise.all([
      this.repo.calls(sites, from, to),
      this.repo.dutyChecks(sites, from, to),
    ]);
    return sites.map((siteId) => {
      const c = checks.find((x) => x.site_id === siteId);
      return {
        siteId,
        month: q.month,
        dutyChecks: { done: c?.done ?? 0, onDuty: c?.on_duty ?? 0 },
        persons: calls
          .filter((x) => x.site_id === siteId)
          .map((x) => ({
            role: x.callee_role,
            name: x.callee_name,
            callsPlaced: x.placed,
            callsAnswered: x.answered,
            callsConfirmed: x.acked,
          })),
      };
    });
  }

  private sites(p: Principal, site: string | undefined): string[] {
    if (site !== undefined) {
      this.scope.assertSite(p, site);
      return [site];
    }
    const ids = [...this.scope.visibleSiteIds(p)].sort();
    if (ids.length === 0) throw new BadRequestException('no enterprise in your jurisdiction');
    return ids;
  }
}
