/**
 * The findings workflow (docs/findings.md): creation from an alarm or standalone, the 五落实 plan, transitions with the
 * regulator's sign-off, and escalation when overdue: an external-condition alarm `finding_overdue` (high; critical for
 * a major finding) on the deadline, cleared when the finding is verified or closed.
 */
import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ExternalConditions } from '../alarms/external-conditions';
import { can } from '../auth/domain/capability.policy';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Scheduler, TimerHandle } from '../common/timer.port';
import {
  checkFindingMove,
  FINDING_OVERDUE_RULE,
  GRADE_ZH,
  isOverdue,
  type Finding,
  type FindingGrade,
  type FindingOrigin,
  type FindingPlan,
  type FindingStatus,
} from './domain/finding.policy';
import type { CreateFindingBody, FindingPlanBody } from './findings.dto';
import { FindingsRepository, type FindingEvent } from './findings.repository';

export const FINDINGS_SCHEDULER = Symbol('FINDINGS_SCHEDULER');
const MAX_TIMER_MS = 2_147_000_000;

export type FindingView = Omit<
  Finding,
  'deadline' | 'createdAt' | 'updatedAt' | 'escalatedAt' | 'closedAt' | 'plan'
> & {
  deadline: string;
  createdAt: string;
  updatedAt: string;
  escalatedAt?: string;
  closedAt?: string;
  overdue: boolean;
  plan: Omit<FindingPlan, 'due'> & { due?: string };
  history?: FindingEvent[];
};

@Injectable()
export class FindingsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new JsonLogger('findings');
  private readonly timers = new Map<string, TimerHandle>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(FINDINGS_SCHEDULER) private readonly scheduler: Scheduler,
    private readonly repo: FindingsRepository,
    private readonly scope: ScopeService,
    private readonly external: ExternalConditions,
  ) {}

  /** Re-arms the deadline of every open finding; those already overdue escalate now. */
  async onApplicationBootstrap(): Promise<void> {
    try {
      for (const f of await this.repo.open()) this.arm(f);
    } catch (err) {
      this.log.error('could not read open findings; overdue escalation starts with the next change', { err });
    }
  }

  onApplicationShutdown(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  async create(principal: Principal, b: CreateFindingBody): Promise<FindingView> {
    const site = this.scope.assertSite(principal, b.siteId);
    if (!can(principal, 'alarm.disposition') && !can(principal, 'disposition.review'))
      throw new ForbiddenException(`role '${principal.role}' may not record findings`);
    if (b.origin === 'alarm' && b.alarmId === undefined)
      throw new BadRequestException('alarmId is required when origin is alarm');
    if (b.sourceId !== undefined && !site.hazardSources.some((h) => h.id === b.sourceId))
      throw new BadRequestException(`sourceId '${b.sourceId}' is not a hazard source of ${site.id}`);
    const now = this.clock.now();
    const deadline = Date.parse(b.deadline);
    if (!(deadline > now)) throw new BadRequestException('deadline must be in the future');
    const f: Omit<Finding, 'status' | 'plan' | 'updatedAt'> = {
      id: `fd-${randomBytes(8).toString('hex')}`,
      siteId: site.id,
      ...(b.sourceId !== undefined ? { sourceId: b.sourceId } : {}),
      ...(b.alarmId !== undefined ? { alarmId: b.alarmId } : {}),
      origin: b.origin as FindingOrigin,
      grade: b.grade as FindingGrade,
      title: b.title,
      description: b.description ?? '',
      deadline,
      reportedBy: principal.name,
      createdAt: now,
    };
    await this.repo.create(f, principal);
    const stored = (await this.repo.get(f.id)) as Finding;
    this.arm(stored);
    return this.view(stored, await this.repo.events(f.id));
  }

  async plan(principal: Principal, id: string, b: FindingPlanBody): Promise<FindingView> {
    const f = await this.visible(principal, id);
    this.scope.assertCan(principal, 'alarm.disposition');
    const p: FindingPlan = {
      ...(b.measures !== undefined ? { measures: b.measures } : {}),
      ...(b.fundsCny !== undefined ? { fundsCny: b.fundsCny } : {}),
      ...(b.due !== undefined ? { due: Date.parse(b.due) } : {}),
      ...(b.responsible !== undefined ? { responsible: b.responsible } : {}),
      ...(b.contingency !== undefined ? { contingency: b.contingency } : {}),
    };
    if (Object.keys(p).length === 0)
      throw new BadRequestException('give at least one of measures, fundsCny, due, responsible, contingency');
    if (!(await this.repo.plan(f.id, p, this.clock.now(), principal)))
      throw new ConflictException(`the plan of a ${f.status} finding cannot change`);
    return this.get(principal, id);
  }

  async transition(
    principal: Principal,
    id: string,
    to: FindingStatus,
    comment?: string,
  ): Promise<FindingView> {
    const f = await this.visible(principal, id);
    const move = checkFindingMove(f, to, (c) => can(principal, c));
    if (!move.ok)
      throw move.status === 403 ? new ForbiddenException(move.reason) : new ConflictException(move.reason);
    const at = this.clock.now();
    if (!(await this.repo.move(f.id, f.status, to, at, principal, comment)))
      throw new ConflictException(`finding ${f.id} changed meanwhile; reload it`);
    const moved = (await this.repo.get(f.id)) as Finding;
    this.arm(moved);
    return this.view(moved, await this.repo.events(f.id));
  }

  async get(principal: Principal, id: string): Promise<FindingView> {
    const f = await this.visible(principal, id);
    return this.view(f, await this.repo.events(f.id));
  }

  async list(
    principal: Principal,
    q: { site?: string; grade?: string; status?: string },
  ): Promise<FindingView[]> {
    if (q.site !== undefined) this.scope.assertSite(principal, q.site);
    const siteIds = q.site !== undefined ? [q.site] : this.scope.siteFilter(principal);
    const rows = await this.repo.list({
      siteIds,
      ...(q.grade ? { grade: q.grade } : {}),
      ...(q.status ? { status: q.status } : {}),
      limit: 1000,
    });
    return rows.map((f) => this.view(f));
  }

  private async visible(principal: Principal, id: string): Promise<Finding> {
    const f = await this.repo.get(id);
    if (!f || !this.scope.canSeeSite(principal, f.siteId))
      throw new NotFoundException(`finding '${id}' not found`);
    return f;
  }

  /** Timer at the deadline of an open finding; a finding that is no longer open clears its overdue alarm. */
  private arm(f: Finding): void {
    this.timers.get(f.id)?.cancel();
    this.timers.delete(f.id);
    if (f.status !== 'open' && f.status !== 'rectifying') {
      if (f.escalatedAt !== undefined) this.emit(f, false);
      return;
    }
    const wait = f.deadline - this.clock.now();
    if (wait <= 0) {
      void this.escalate(f);
      return;
    }
    this.timers.set(
      f.id,
      this.scheduler.after(Math.min(wait, MAX_TIMER_MS), () => {
        this.timers.delete(f.id);
        void this.repo
          .get(f.id)
          .then((cur) => cur && this.arm(cur))
          .catch((err: unknown) => this.log.error('finding deadline check failed', { id: f.id, err }));
      }),
    );
  }

  private async escalate(f: Finding): Promise<void> {
    if (!isOverdue(f, this.clock.now())) return;
    try {
      await this.repo.escalated(f.id, this.clock.now());
    } catch (err) {
      this.log.error('could not record the escalation of a finding (alarm raised anyway)', { id: f.id, err });
    }
    this.emit(f, true);
  }

  private emit(f: Finding, active: boolean): void {
    const site = this.config.plant.siteById.get(f.siteId);
    const now = this.clock.now();
    this.external.emit({
      ruleId: `${FINDING_OVERDUE_RULE}${f.id}`,
      sourceId: f.sourceId ?? site?.hazardSources[0]?.id ?? f.siteId,
      siteId: f.siteId,
      condition: 'finding_overdue',
      active,
      priority: f.grade === 'major' ? 'critical' : 'high',
      value: Math.max(0, Math.round((now - f.deadline) / 60_000)),
      limit: null,
      ts: now,
      message: active
        ? `${GRADE_ZH[f.grade]}逾期未整改 finding overdue: ${f.title} (${f.id})`
        : `隐患已整改 finding rectified: ${f.title} (${f.id})`,
    });
  }

  private view(f: Finding, history?: FindingEvent[]): FindingView {
    const iso = (t: number): string => new Date(t).toISOString();
    const { due, ...plan } = f.plan;
    const { escalatedAt: _e, closedAt: _c, ...rest } = f;
    return {
      ...rest,
      deadline: iso(f.deadline),
      createdAt: iso(f.createdAt),
      updatedAt: iso(f.updatedAt),
      ...(f.escalatedAt !== undefined ? { escalatedAt: iso(f.escalatedAt) } : {}),
      ...(f.closedAt !== undefined ? { closedAt: iso(f.closedAt) } : {}),
      overdue: isOverdue(f, this.clock.now()),
      plan: { ...plan, ...(due !== undefined ? { due: iso(due) } : {}) },
      ...(history ? { history } : {}),
    };
  }
}
