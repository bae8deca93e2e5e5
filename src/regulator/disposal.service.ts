import {
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  Optional,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AlarmService } from '../alarms/alarm.service';
import { ExternalConditions } from '../alarms/external-conditions';
import { can } from '../auth/domain/capability.policy';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { systemScheduler, type Scheduler } from '../common/timer.port';
import { DeadlineWatch } from '../common/deadline-watch';
import { capTime } from './domain/cap-time';
import { loadScoped } from './scoped-load';
import { checkHiddenDangerMove, type HiddenDangerState } from './domain/hidden-danger.machine';
import { FEED_SCHEDULER } from './feed-projector.service';
import {
  DisposalRepository,
  type Disposition,
  type HiddenDanger,
  type Obligation,
} from './disposal.repository';
import { FEED_SETTINGS, type FeedSettings } from './feeds-settings.loader';

export const DISPOSAL_OVERDUE_RULE = 'ext:feeds:disposal-overdue:';

export type DispositionInput = { cause: string; actions: string; closedBy: string; attachments?: string[] };

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/**
 * The disposal closed loop: reportable alarms oblige the enterprise to file a disposal record by a deadline
 * (overdue → an escalated alarm to the district, cleared when the record arrives); regulators accept or return
 * records; hidden-danger items go open → rectifying → verified → closed. Every step is journalled on the alarm
 * (`AlarmService.note`), which also puts it in the regulator feed as a CAP Update.
 */
@Injectable()
export class DisposalService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('feeds.disposal');
  private readonly watch: DeadlineWatch<Obligation>;

  constructor(
    private readonly repo: DisposalRepository,
    private readonly alarms: AlarmService,
    private readonly external: ExternalConditions,
    private readonly scope: ScopeService,
    @Inject(FEED_SETTINGS) private readonly settings: FeedSettings,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: HazwatchMetrics,
    @Optional() @Inject(FEED_SCHEDULER) scheduler?: Scheduler,
  ) {
    this.watch = new DeadlineWatch<Obligation>({
      scheduler: scheduler ?? systemScheduler,
      clock,
      log: this.log,
      everyMs: settings.overdueCheckMs,
      what: 'disposal record (escalated to the district)',
      due: (now) => this.repo.dueObligations(now),
      claim: (o, now) => this.repo.markOverdue(o.incident, now),
      emit: (o, active, now) => this.emitOverdue(o, active, now),
      describe: (o) => ({ alarmId: o.alarmId, siteId: o.siteId, dueAt: new Date(o.dueAt).toISOString() }),
      afterPass: async () => this.metrics.disposalsOverdue.set((await this.repo.overdueAwaiting()).length),
    });
  }

  onModuleInit(): void {
    void this.reconcile();
    this.watch.start();
  }

  onModuleDestroy(): void {
    this.watch.stop();
  }

  /** Escalates every obligation whose deadline passed without a record. Public for tests. */
  checkOverdue(): Promise<number> {
    return this.watch.check();
  }

  private emitOverdue(
    o: Pick<Obligation, 'alarmId' | 'siteId' | 'sourceId' | 'dueAt'>,
    active: boolean,
    at: number,
  ): void {
    this.external.emit({
      ruleId: `${DISPOSAL_OVERDUE_RULE}${o.alarmId}`,
      sourceId: o.sourceId,
      siteId: o.siteId,
      condition: 'disposal_overdue',
      active,
      priority: 'high',
      value: Math.max(0, Math.round((at - o.dueAt) / 60_000)),
      limit: Math.round(this.settings.disposalDeadlineMs / 60_000),
      ts: at,
      message: active
        ? `处置记录逾期 disposal record overdue for alarm ${o.alarmId} (due ${capTime(o.dueAt)}): escalated to the district`
        : `处置记录已报送 disposal record filed for alarm ${o.alarmId}`,
    });
  }

  /** After a restart: overdue obligations hold their alarm; alarms whose obligation was met clear. */
  private async reconcile(): Promise<void> {
    try {
      await this.alarms.whenReady();
      const overdue = await this.repo.overdueAwaiting();
      this.watch.reconcile({
        overdue,
        keyOf: (o) => o.alarmId,
        rulePrefix: DISPOSAL_OVERDUE_RULE,
        alarms: this.alarms.records(),
        clearStale: (alarmId, a, now) =>
          this.emitOverdue({ alarmId, siteId: a.siteId, sourceId: a.sourceId, dueAt: now }, false, now),
      });
      this.metrics.disposalsOverdue.set(overdue.length);
    } catch (err) {
      this.log.warn('could not reconcile overdue-disposal alarms at start', { err });
    }
  }

  // ------------------------------------------------------------------------------------------------------------------
  // disposal records

  async file(
    alarmId: string,
    p: Principal,
    input: DispositionInput,
  ): Promise<{ disposition: Disposition; obligation: Obligation | null }> {
    this.alarms.get(alarmId, p); // 404 outside the jurisdiction, 503 while loading
    this.scope.assertCan(p, 'alarm.disposition');
    const obligation = (await this.repo.latestObligation(alarmId)) ?? null;
    if (obligation?.status === 'filed')
      throw new ConflictException(`a disposal record for this alarm awaits the regulator's review`);
    if (obligation?.status === 'accepted')
      throw new ConflictException(`the disposal record of this alarm was already accepted`);
    const id = 'dsp-' + randomBytes(6).toString('hex');
    const attachments = input.attachments ?? [];
    const note = `处置记录 disposal record ${id} filed — cause: ${oneLine(input.cause)}; actions: ${oneLine(input.actions)}; closed by: ${oneLine(input.closedBy)}${attachments.length ? `; attachments: ${attachments.join(', ')}` : ''}`;
    const ev = await this.alarms.note(alarmId, p, 'alarm.disposition', note);
    const disposition = await this.repo.fileDisposition({
      id,
      alarmId,
      incident: obligation?.incident ?? null,
      siteId: ev.siteId,
      cause: input.cause,
      actions: input.actions,
      closedBy: input.closedBy,
      attachments,
      filedBy: ev.actor ?? p.name,
      filedAt: Date.parse(ev.at),
      filedSeq: ev.seq,
    });
    if (obligation?.overdueAt !== null && obligation?.overdueAt !== undefined)
      this.emitOverdue(obligation, false, this.clock.now());
    this.log.info('disposal record filed', {
      id,
      alarmId,
      by: p.name,
      late: obligation ? Date.parse(ev.at) > obligation.dueAt : false,
    });
    return { disposition, obligation: (await this.repo.latestObligation(alarmId)) ?? null };
  }

  async review(
    alarmId: string,
    p: Principal,
    decision: 'accept' | 'return',
    comment: string,
  ): Promise<{ disposition: Disposition; obligation: Obligation | null }> {
    this.alarms.get(alarmId, p);
    this.scope.assertCan(p, 'disposition.review');
    const pending = (await this.repo.dispositions(alarmId)).filter((d) => d.status === 'filed').at(-1);
    if (!pending) throw new ConflictException('no disposal record of this alarm awaits review');
    const note = `处置记录审核 disposal record ${pending.id} ${decision === 'accept' ? 'accepted 通过' : 'returned 退回'} by the regulator${comment ? ` — ${oneLine(comment)}` : ''}`;
    const ev = await this.alarms.note(alarmId, p, 'disposition.review', note);
    const at = Date.parse(ev.at);
    const reviewed = await this.repo.reviewDisposition({
      id: pending.id,
      incident: pending.incident,
      accept: decision === 'accept',
      by: ev.actor ?? p.name,
      at,
      comment,
      seq: ev.seq,
      newDueAt: at + this.settings.disposalDeadlineMs,
    });
    if (!reviewed) throw new ConflictException('the disposal record was reviewed meanwhile');
    return { disposition: reviewed, obligation: (await this.repo.latestObligation(alarmId)) ?? null };
  }

  async history(
    alarmId: string,
    p: Principal,
  ): Promise<{ alarmId: string; obligation: Obligation | null; dispositions: Disposition[] }> {
    this.alarms.get(alarmId, p);
    return {
      alarmId,
      obligation: (await this.repo.latestObligation(alarmId)) ?? null,
      dispositions: await this.repo.dispositions(alarmId),
    };
  }

  // ------------------------------------------------------------------------------------------------------------------
  // hidden dangers

  async raiseHiddenDanger(
    alarmId: string,
    p: Principal,
    title: string,
    comment?: string,
  ): Promise<HiddenDanger> {
    const alarm = this.alarms.get(alarmId, p);
    if (!can(p, 'alarm.disposition') && !can(p, 'disposition.review'))
      throw new ForbiddenException(`role '${p.role}' may not raise hidden-danger items`);
    const id = 'hd-' + randomBytes(6).toString('hex');
    const cap = can(p, 'alarm.disposition') ? 'alarm.disposition' : 'disposition.review';
    const ev = await this.alarms.note(
      alarmId,
      p,
      cap,
      `隐患 hidden danger ${id} raised: ${oneLine(title)}${comment ? ` — ${oneLine(comment)}` : ''}`,
    );
    return this.repo.createHiddenDanger({
      id,
      alarmId,
      siteId: alarm.siteId,
      sourceId: alarm.sourceId,
      title,
      at: Date.parse(ev.at),
      actor: ev.actor ?? p.name,
      actorRole: p.role,
      comment: comment ?? null,
    });
  }

  async moveHiddenDanger(
    id: string,
    p: Principal,
    to: HiddenDangerState,
    comment?: string,
  ): Promise<HiddenDanger> {
    const h = await loadScoped(this.scope, p, 'hidden-danger item', id, (x) => this.repo.hiddenDanger(x));
    if (h.findingId !== null)
      throw new ConflictException(
        `hidden-danger item ${id} was converted into finding ${h.findingId}; continue its work there (/api/findings/${h.findingId})`,
      );
    const check = checkHiddenDangerMove(h.status, to, (c) => can(p, c));
    if (!check.ok)
      throw check.status === 403 ? new ForbiddenException(check.reason) : new ConflictException(check.reason);
    const capability =
      to === 'closed' || h.status === 'verified' ? 'disposition.review' : 'alarm.disposition';
    let actor = p.name;
    let at = this.clock.now();
    if (h.alarmId !== null) {
      const ev = await this.alarms.note(
        h.alarmId,
        p,
        capability,
        `隐患 hidden danger ${id}: ${h.status} → ${to}${comment ? ` — ${oneLine(comment)}` : ''}`,
      );
      actor = ev.actor ?? p.name;
      at = Date.parse(ev.at);
    }
    if (
      !(await this.repo.moveHiddenDanger({
        id,
        from: h.status,
        to,
        at,
        actor,
        actorRole: p.role,
        comment: comment ?? null,
      }))
    )
      throw new ConflictException('the hidden-danger item changed meanwhile');
    return (await this.repo.hiddenDanger(id)) as HiddenDanger;
  }

  async hiddenDangers(
    p: Principal,
    q: { siteId?: string; alarmId?: string; status?: HiddenDangerState },
  ): Promise<HiddenDanger[]> {
    const visible = this.scope.siteFilter(p);
    const siteIds = q.siteId !== undefined ? (this.scope.canSeeSite(p, q.siteId) ? [q.siteId] : []) : visible;
    return this.repo.hiddenDangers({
      siteIds,
      ...(q.alarmId !== undefined ? { alarmId: q.alarmId } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
    });
  }
}
