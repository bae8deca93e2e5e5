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
import type { Scheduler } from '../common/timer.port';
import { DeadlineWatch } from '../common/deadline-watch';
import { loadScoped } from '../regulator/scoped-load';
import { AlarmService } from '../alarms/alarm.service';
import { MainPersonNotifier } from '../notifications/main-person.notifier';
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
import type { ConvertHiddenDangerBody, CreateFindingBody, FindingPlanBody } from './findings.dto';
import { FindingsRepository, type FindingEvent } from './findings.repository';

export const FINDINGS_SCHEDULER = Symbol('FINDINGS_SCHEDULER');
/** How often deadlines are checked, ms (feeds.yaml `overdueCheckSeconds`). */
export const FINDINGS_CHECK_MS = Symbol('FINDINGS_CHECK_MS');

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

/** `2026-12-03 18:00` in China Standard Time. */
const chinaTime = (t: number): string =>
  new Date(t + 8 * 3600_000).toISOString().slice(0, 16).replace('T', ' ');

const ITEM_STATUS_ZH: Readonly<Record<FindingStatus, string>> = {
  open: '待整改',
  rectifying: '整改中',
  verified: '已验收待销号',
  closed: '已销号',
};

@Injectable()
export class FindingsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new JsonLogger('findings');
  private readonly watch: DeadlineWatch<Finding>;
  /** Notices under way (tests and shutdown wait for them). */
  private readonly notices = new Set<Promise<void>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(FINDINGS_SCHEDULER) scheduler: Scheduler,
    @Inject(FINDINGS_CHECK_MS) checkMs: number,
    private readonly repo: FindingsRepository,
    private readonly scope: ScopeService,
    private readonly external: ExternalConditions,
    private readonly alarms: AlarmService,
    private readonly notifier: MainPersonNotifier,
  ) {
    this.watch = new DeadlineWatch<Finding>({
      scheduler,
      clock,
      log: this.log,
      everyMs: checkMs,
      what: 'finding',
      due: (now) => this.repo.due(now),
      claim: (f, now) => this.repo.escalated(f.id, now),
      emit: (f, active) => {
        this.emitOverdue(f, active);
        if (active) this.notifyMain(f, 'overdue');
      },
      describe: (f) => ({ id: f.id, siteId: f.siteId, deadline: new Date(f.deadline).toISOString() }),
    });
  }

  /** Starts the deadline watch; escalated findings still open hold their alarm, stale overdue alarms clear. */
  async onApplicationBootstrap(): Promise<void> {
    this.watch.start();
    try {
      await this.alarms.whenReady();
      const overdue = await this.repo.escalatedOpen();
      this.watch.reconcile({
        overdue,
        keyOf: (f) => f.id,
        rulePrefix: FINDING_OVERDUE_RULE,
        alarms: this.alarms.records(),
        clearStale: (id, a) =>
          this.emitOverdue(
            { id, siteId: a.siteId, sourceId: a.sourceId, grade: 'general', title: '', deadline: 0 },
            false,
          ),
      });
    } catch (err) {
      this.log.error('could not reconcile finding-overdue alarms at start', { err });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.watch.stop();
    await Promise.allSettled([...this.notices]);
  }

  /** One deadline pass now (tests; the watch runs it every `overdueCheckSeconds`). */
  checkOverdue(): Promise<number> {
    return this.watch.check();
  }

  /** Resolves when every notice to a 主要负责人 started so far has ended. */
  async noticesSettled(): Promise<void> {
    await Promise.allSettled([...this.notices]);
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
    this.notifyMain(stored, 'recorded');
    return this.view(stored, await this.repo.events(f.id));
  }

  /**
   * Converts a hidden-danger item of the disposal loop into a finding (docs/findings.md). The caller sets grade and
   * deadline (the item has neither; none is invented). The finding starts open: its 五落实 plan gates rectification as
   * for any finding, whatever the item's state was. Items awaiting or past the regulator's sign-off are refused.
   */
  async convert(principal: Principal, itemId: string, b: ConvertHiddenDangerBody): Promise<FindingView> {
    const item = await loadScoped(this.scope, principal, 'hidden-danger item', itemId, (x) =>
      this.repo.hiddenDanger(x),
    );
    if (!can(principal, 'alarm.disposition') && !can(principal, 'disposition.review'))
      throw new ForbiddenException(`role '${principal.role}' may not record findings`);
    if (item.findingId !== undefined)
      throw new ConflictException(
        `hidden-danger item ${item.id} was already converted into finding ${item.findingId}`,
      );
    if (item.status === 'closed')
      throw new ConflictException(
        `hidden-danger item ${item.id} was signed off (销号); there is nothing to convert`,
      );
    if (item.status === 'verified')
      throw new ConflictException(
        `hidden-danger item ${item.id} awaits the regulator's sign-off; sign it off, or return it for rectification and then convert it`,
      );
    const origin = (b.origin ?? (item.alarmId !== undefined ? 'alarm' : undefined)) as
      FindingOrigin | undefined;
    if (origin === undefined)
      throw new BadRequestException(
        `origin is required: hidden-danger item ${item.id} was not raised from an alarm`,
      );
    if (origin === 'alarm' && item.alarmId === undefined)
      throw new BadRequestException(`origin alarm needs an item raised from an alarm; ${item.id} was not`);
    const title = b.title ?? item.title;
    if (title.length > 200)
      throw new BadRequestException(
        `the item's title is longer than 200 characters; give the finding a shorter title`,
      );
    const now = this.clock.now();
    const deadline = Date.parse(b.deadline);
    if (!(deadline > now)) throw new BadRequestException('deadline must be in the future');
    const f = {
      id: `fd-${randomBytes(8).toString('hex')}`,
      siteId: item.siteId,
      ...(item.sourceId !== undefined ? { sourceId: item.sourceId } : {}),
      ...(origin === 'alarm' && item.alarmId !== undefined ? { alarmId: item.alarmId } : {}),
      origin,
      grade: b.grade as FindingGrade,
      title,
      description: b.description ?? '',
      deadline,
      reportedBy: principal.name,
      createdAt: now,
      hiddenDangerId: item.id,
    };
    const why = b.comment !== undefined && b.comment.trim() !== '' ? `：${b.comment.trim()}` : '';
    const converted = await this.repo.createConverted(f, item, principal, {
      finding: `由隐患 ${item.id}（${ITEM_STATUS_ZH[item.status]}）转入 converted from hidden-danger item${why}`,
      item: `转为隐患 ${f.id}，${GRADE_ZH[f.grade]}，整改期限 ${chinaTime(deadline)} converted into finding${why}`,
    });
    if (!converted) throw new ConflictException(`hidden-danger item ${item.id} changed meanwhile; reload it`);
    this.log.info('hidden-danger item converted into a finding', {
      item: item.id,
      finding: f.id,
      by: principal.name,
    });
    const stored = (await this.repo.get(f.id)) as Finding;
    this.notifyMain(stored, 'recorded');
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
    // verified or signed off: the overdue alarm clears; returned for rectification past the deadline: raised again
    if (moved.escalatedAt !== undefined)
      this.emitOverdue(moved, moved.status === 'open' || moved.status === 'rectifying');
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
    return loadScoped(this.scope, principal, 'finding', id, (x) => this.repo.get(x));
  }

  /** Calls the 主要负责人 in the background; the outcome goes into the finding's history. */
  private notifyMain(f: Finding, kind: 'recorded' | 'overdue'): void {
    const site = this.config.plant.siteById.get(f.siteId);
    const p = this.notifier
      .notify({
        findingId: f.id,
        siteId: f.siteId,
        siteName: site?.name ?? f.siteId,
        ...(f.sourceId !== undefined ? { sourceId: f.sourceId } : {}),
        kind,
        grade: GRADE_ZH[f.grade],
        title: f.title,
        deadline: chinaTime(f.deadline),
      })
      .then((r) =>
        this.repo.notified(
          f.id,
          this.clock.now(),
          r.called
            ? `主要负责人 ${r.calleeName} ${kind === 'recorded' ? '登记通知' : '逾期通知'}: ${r.outcome} (${r.attempts} 次呼叫${r.rosterGap ? '，值班表空档' : ''})`
            : `主要负责人未通知 (${kind}): ${r.reason}`,
        ),
      )
      .catch((err: unknown) => this.log.error('could not record the notice of a finding', { id: f.id, err }))
      .finally(() => this.notices.delete(p));
    this.notices.add(p);
  }

  private emitOverdue(
    f: Pick<Finding, 'id' | 'siteId' | 'sourceId' | 'grade' | 'title' | 'deadline'>,
    active: boolean,
  ): void {
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
