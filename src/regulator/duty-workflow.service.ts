import {
  ConflictException,
  Inject,
  Injectable,
  Optional,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { AlarmService } from '../alarms/alarm.service';
import { ExternalConditions } from '../alarms/external-conditions';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DutyCheckService, type DutyCheckFinished } from '../notifications/duty-check.service';
import { systemScheduler, type Scheduler } from '../common/timer.port';
import { DeadlineWatch } from '../common/deadline-watch';
import { capTime } from './domain/cap-time';
import { loadScoped } from './scoped-load';
import {
  DutyWorkflowRepository,
  type DutyEvent,
  type DutyFeedback,
  type FeedbackStatus,
} from './duty-workflow.repository';
import { FEED_SCHEDULER } from './feed-projector.service';
import { FEED_SETTINGS, type FeedSettings } from './feeds-settings.loader';

/** Rule id prefix of the alarm an overdue feedback raises (its call-out ladder may name the district duty desk). */
export const FEEDBACK_OVERDUE_RULE = 'ext:duty-feedback:';

export type OffPostEvent = {
  readonly eventId: string;
  readonly site: string;
  readonly occurredAt?: string;
  readonly cameraId: string;
  readonly snapshotUrl?: string;
  readonly snapshotId?: string;
};

/**
 * Regulator duty workflows (docs/regulator-workflows.md):
 * - an operator-off-post (离岗) event from video analytics starts a duty check of that control room at once; the event
 *   is recorded with its evidence, and a retry with the same event id returns the first answer;
 * - a missed duty check opens a feedback obligation (反馈) for the enterprise — who was on post, why the call was missed,
 *   what was done — which the regulator accepts or returns; past its deadline it raises an `ext:duty-feedback:` alarm
 *   (escalated like any external condition), cleared once the feedback is filed.
 */
@Injectable()
export class DutyWorkflowService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('regulator.duty');
  private readonly watch: DeadlineWatch<DutyFeedback>;
  private finished$: Subscription | undefined;

  constructor(
    private readonly repo: DutyWorkflowRepository,
    private readonly duty: DutyCheckService,
    private readonly alarms: AlarmService,
    private readonly external: ExternalConditions,
    private readonly scope: ScopeService,
    @Inject(APP_CONFIG) private readonly app: AppConfig,
    @Inject(FEED_SETTINGS) private readonly settings: FeedSettings,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() @Inject(FEED_SCHEDULER) scheduler?: Scheduler,
  ) {
    this.watch = new DeadlineWatch<DutyFeedback>({
      scheduler: scheduler ?? systemScheduler,
      clock,
      log: this.log,
      everyMs: settings.overdueCheckMs,
      what: 'duty check feedback',
      due: (now) => this.repo.dueFeedback(now),
      claim: (f, now) => this.repo.markOverdue(f.id, now),
      emit: (f, active, now) => this.emitOverdue(f, active, now),
      describe: (f) => ({ id: f.id, siteId: f.siteId, dueAt: new Date(f.dueAt).toISOString() }),
    });
  }

  onModuleInit(): void {
    this.finished$ = this.duty.finished$.subscribe((f) => void this.onFinished(f));
    void this.reconcile();
    this.watch.start();
  }

  onModuleDestroy(): void {
    this.finished$?.unsubscribe();
    this.watch.stop();
  }

  // video events --------------------------------------------------------------------------------------------------------

  /** Records the event and starts (or joins) a duty check of the site's control room; idempotent on the event id. */
  async reportOffPost(p: Principal, e: OffPostEvent): Promise<{ event: DutyEvent; duplicate: boolean }> {
    this.scope.assertSite(p, e.site);
    const earlier = await this.repo.event(e.eventId);
    if (earlier) return this.repeat(earlier, e);
    const now = this.clock.now();
    let dutyCheckId: string | undefined;
    let outcome: DutyEvent['outcome'] = 'started';
    try {
      dutyCheckId = this.duty.run(e.site, 'video').id;
    } catch (err) {
      if (!(err instanceof ConflictException)) throw err;
      dutyCheckId = this.duty.runningCheck(e.site);
      outcome = 'joined';
    }
    const occurred = e.occurredAt !== undefined ? Date.parse(e.occurredAt) : now;
    const recorded = await this.repo.recordEvent({
      eventId: e.eventId,
      siteId: e.site,
      kind: 'off_post',
      occurredAt: occurred,
      receivedAt: now,
      cameraId: e.cameraId,
      snapshotUrl: e.snapshotUrl ?? null,
      snapshotId: e.snapshotId ?? null,
      tokenId: p.tokenId,
      reportedBy: p.name,
      dutyCheckId: dutyCheckId ?? null,
      outcome,
    });
    if (!recorded) {
      // the same event id arrived twice at once: the first one recorded wins
      const first = await this.repo.event(e.eventId);
      if (first) return this.repeat(first, e);
      throw new ConflictException(`duty event '${e.eventId}' could not be recorded; retry`);
    }
    this.log.warn('operator off post reported by video analytics: duty check of the control room', {
      eventId: e.eventId,
      siteId: e.site,
      cameraId: e.cameraId,
      dutyCheckId,
      outcome,
      by: p.name,
    });
    return { event: recorded, duplicate: false };
  }

  private repeat(earlier: DutyEvent, e: OffPostEvent): { event: DutyEvent; duplicate: boolean } {
    if (earlier.siteId !== e.site || earlier.cameraId !== e.cameraId)
      throw new ConflictException(
        `duty event '${e.eventId}' was already reported with a different site or camera`,
      );
    return { event: earlier, duplicate: true };
  }

  events(p: Principal, limit: number): Promise<DutyEvent[]> {
    return this.repo.events(this.scope.siteFilter(p), limit);
  }

  // feedback -------------------------------------------------------------------------------------------------------------

  private async onFinished(f: DutyCheckFinished): Promise<void> {
    if (!f.missed) return;
    try {
      const opened = await this.repo.openFeedback({
        id: `fb-${f.id}`,
        dutyCheckId: f.id,
        siteId: f.siteId,
        result: f.result,
        raisedAt: f.at,
        dueAt: f.at + this.settings.dutyFeedbackDeadlineMs,
      });
      if (opened)
        this.log.info('duty check missed: feedback obligation opened for the enterprise', {
          id: opened.id,
          siteId: opened.siteId,
          dueAt: new Date(opened.dueAt).toISOString(),
        });
    } catch (err) {
      this.log.error('could not open the feedback obligation of a missed duty check', {
        dutyCheckId: f.id,
        err,
      });
    }
  }

  feedbacks(p: Principal, q: { status?: FeedbackStatus; limit: number }): Promise<DutyFeedback[]> {
    return this.repo.feedbacks({ siteIds: this.scope.siteFilter(p), ...q });
  }

  async feedback(p: Principal, id: string): Promise<DutyFeedback> {
    return loadScoped(this.scope, p, 'feedback', id, (x) => this.repo.feedback(x));
  }

  /** The enterprise's answer: who was on post, why the check was missed, what was done. */
  async file(
    p: Principal,
    id: string,
    b: { who: string; why: string; actions: string },
  ): Promise<DutyFeedback> {
    const before = await this.feedback(p, id);
    const now = this.clock.now();
    const filed = await this.repo.fileFeedback({ id, ...b, by: p.name, at: now });
    if (!filed) throw new ConflictException(`feedback '${id}' is ${before.status}, not awaiting an answer`);
    if (before.overdueAt !== null) this.emitOverdue(filed, false, now);
    this.log.info('duty check feedback filed', { id, siteId: filed.siteId, by: p.name });
    return filed;
  }

  /** The regulator accepts (closed) or returns it (awaiting again, with a new deadline). */
  async review(p: Principal, id: string, b: { accept: boolean; comment: string }): Promise<DutyFeedback> {
    const before = await this.feedback(p, id);
    const now = this.clock.now();
    const reviewed = await this.repo.reviewFeedback({
      id,
      accept: b.accept,
      by: p.name,
      at: now,
      comment: b.comment,
      newDueAt: now + this.settings.dutyFeedbackDeadlineMs,
    });
    if (!reviewed) throw new ConflictException(`feedback '${id}' is ${before.status}, not awaiting review`);
    this.log.info('duty check feedback reviewed', { id, accept: b.accept, by: p.name });
    return reviewed;
  }

  // deadline -------------------------------------------------------------------------------------------------------------

  /** Escalates every obligation past its deadline without an answer. Public for tests. */
  checkOverdue(): Promise<number> {
    return this.watch.check();
  }

  private emitOverdue(f: Pick<DutyFeedback, 'id' | 'siteId' | 'dueAt'>, active: boolean, at: number): void {
    const site = this.app.plant.siteById.get(f.siteId);
    this.external.emit({
      ruleId: `${FEEDBACK_OVERDUE_RULE}${f.id}`,
      sourceId: site?.hazardSources[0]?.id ?? f.siteId,
      siteId: f.siteId,
      condition: 'duty_feedback_overdue',
      active,
      priority: 'high',
      value: Math.max(0, Math.round((at - f.dueAt) / 60_000)),
      limit: Math.round(this.settings.dutyFeedbackDeadlineMs / 60_000),
      ts: at,
      message: active
        ? `值班抽查反馈逾期 duty-check feedback ${f.id} overdue (due ${capTime(f.dueAt)}): escalated to the district`
        : `值班抽查反馈已报送 duty-check feedback ${f.id} filed`,
    });
  }

  /** After a restart: overdue obligations hold their alarm; alarms whose obligation was answered clear. */
  private async reconcile(): Promise<void> {
    try {
      await this.alarms.whenReady();
      this.watch.reconcile({
        overdue: await this.repo.overdueFeedback(),
        keyOf: (f) => f.id,
        rulePrefix: FEEDBACK_OVERDUE_RULE,
        alarms: this.alarms.records(),
        clearStale: (id, a, now) => this.emitOverdue({ id, siteId: a.siteId, dueAt: now }, false, now),
      });
    } catch (err) {
      this.log.warn('could not reconcile overdue feedback alarms at start', { err });
    }
  }
}
