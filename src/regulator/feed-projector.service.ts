import { jurisdictionView } from '../config/admin-divisions';
import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Subject, type Observable, type Subscription } from 'rxjs';
import { ReplayTooLargeError } from '../alarms/alarm.errors';
import type { AlarmEventDto } from '../alarms/domain/alarm.types';
import { isExternalCondition } from '../alarms/external-conditions';
import { sitePath, type Principal } from '../auth/principal';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { JobGates, type JobFenceToken } from '../common/job-gate';
import { FencedError } from '../cluster/fence';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { Backoff, systemScheduler, type Scheduler } from '../common/timer.port';
import { buildCapAlert } from './domain/cap-message.builder';
import { formatAnchor } from '../alarms/domain/journal-anchor';
import { JournalAnchorService } from '../alarms/journal-anchor.service';
import { renderCapXml } from './domain/cap-xml';
import { NationalFeed } from './national-feed';
import { decideCapMessage, type Incident } from './domain/incident.policy';
import { subscriptionWants } from './domain/webhook.policy';
import { FEED_SETTINGS, type FeedSettings } from './feeds-settings.loader';
import type { NewObligation } from './disposal.repository';
import { capStatusFor } from '../drills/domain/drill-window';
import { DrillRepository } from '../drills/drill.repository';
import {
  FeedMessageRepository,
  type PlannedDelivery,
  type SubscriptionTarget,
} from './feed-message.repository';

/** What the projector needs of the alarm module (AlarmService implements it). */
export type FeedAlarmSource = {
  readonly events$: Observable<AlarmEventDto>;
  whenReady(): Promise<void>;
  currentSeq(): number;
  eventsSince(since: number, principal: Principal): Promise<AlarmEventDto[]>;
};
export const FEED_ALARM_SOURCE = Symbol('FEED_ALARM_SOURCE');
export const FEED_SCHEDULER = Symbol('FEED_SCHEDULER');

export const CURSOR_NAME = 'alarm-events';

/** Cluster mode: how often the projector looks whether it holds (or lost) the `job:feeds` lease. */
export const FEED_LEASE_CHECK_MS = 1_000;

/** The feed reads every site's events (it filters per reader later). */
export const FEED_PRINCIPAL: Principal = Object.freeze({
  tokenId: 'hazwatch-feeds',
  name: 'hazwatch feeds',
  role: 'admin',
  scope: '',
});

export type ProjectedMessage = {
  readonly identifier: string;
  readonly msgType: 'Alert' | 'Update' | 'Cancel';
  readonly alarmId: string;
  readonly siteId: string;
  readonly seq: number;
  readonly deliveries: number;
  readonly obligation?: NewObligation;
};

/** Stable delivery id: the same subscription and message always give the same id (receivers de-duplicate on it). */
export const deliveryId = (subscriptionId: string, messageId: string): string =>
  'dlv-' + createHash('sha256').update(`${subscriptionId}|${messageId}`).digest('hex').slice(0, 24);

/**
 * Turns alarm events into CAP messages (Alert / Update / Cancel per incident), stores them with their webhook
 * deliveries and disposal obligations in one transaction, in seq order, and remembers the last seq handled, so a
 * restart resumes exactly where it stopped (replaying from the alarm journal). A failure holds the queue and retries:
 * nothing is skipped and nothing overtakes.
 */
@Injectable()
export class FeedProjector implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('feeds.projector');
  private readonly incidents = new Map<string, Incident>();
  private readonly queue: AlarmEventDto[] = [];
  private lastSeq = 0;
  private started = false;
  private loaded = false;
  private draining = false;
  private closed = false;
  private sub: Subscription | undefined;
  private readonly projectedSubject = new Subject<ProjectedMessage>();
  private readonly scheduler: Scheduler;
  private idleResolvers: Array<() => void> = [];
  private readonly national: NationalFeed | undefined;
  /** Cluster mode: the `job:feeds` lease this projector loaded its state under (undefined: another node projects). */
  private token: JobFenceToken | undefined;
  /** Bumped whenever the projector (re)loads or gives the job up, so a stale load or drain stops. */
  private generation = 0;
  private leaseTimer: { cancel(): void } | undefined;

  /** Every message stored (after its transaction committed). */
  readonly projected$: Observable<ProjectedMessage> = this.projectedSubject.asObservable();

  constructor(
    @Inject(FEED_ALARM_SOURCE) private readonly alarms: FeedAlarmSource,
    private readonly repo: FeedMessageRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(FEED_SETTINGS) private readonly settings: FeedSettings,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: HazwatchMetrics,
    @Optional() @Inject(FEED_SCHEDULER) scheduler?: Scheduler,
    /** Signs the journal's chain head into every regulator message (docs/adr/0015-journal-anchors.md). */
    @Optional() private readonly anchors?: JournalAnchorService,
    /** Cluster mode: the projector is the singleton job `feeds` (docs/adr/0026-cluster-callouts-feeds.md). */
    @Optional() private readonly gates?: JobGates,
    /** Declared drills (docs/adr/0028-declared-drills.md): a drill alarm goes out as CAP Exercise. */
    @Optional() private readonly drills?: DrillRepository,
  ) {
    this.scheduler = scheduler ?? systemScheduler;
    this.national = settings.nationalProfile ? new NationalFeed(settings.nationalProfile, repo) : undefined;
  }

  onModuleInit(): void {
    this.start();
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.leaseTimer?.cancel();
    this.sub?.unsubscribe();
    this.projectedSubject.complete();
    for (const r of this.idleResolvers.splice(0)) r();
  }

  /** Subscribes at once (buffering live events) and loads the cursor and open incidents in the background. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const clustered = this.gates?.clustered === true;
    this.sub = this.alarms.events$.subscribe({
      next: (e) => {
        // cluster mode: only the holder of job:feeds projects; the next holder replays from the stored cursor
        if (clustered && this.token === undefined) return;
        this.queue.push(e);
        void this.drain();
      },
      error: (err: unknown) =>
        this.log.error('alarm event stream failed; the feed receives no further events', { err }),
    });
    if (clustered) void this.alarms.whenReady().then(() => this.checkLease());
    else void this.load(this.generation);
  }

  /**
   * Cluster mode: the projector is a fold over the journal (cursor, open incidents, national serial numbers), so it
   * runs on one node, the holder of `job:feeds`. Taking the lease (or a new epoch of it) reloads the state from the
   * database and replays from the stored cursor; losing it drops the in-memory state. Every projection transaction
   * passes the lease's fence, so a node that lost the lease mid-write writes nothing.
   */
  private checkLease(): void {
    if (this.closed) return;
    const t = this.gates?.tokenOf('feeds');
    if (t && t.epoch !== this.token?.epoch) {
      this.giveUp(this.token ? 'lease taken again with a new epoch' : undefined);
      this.token = t;
      this.log.info('regulator feed projection runs on this node (job:feeds)', { epoch: t.epoch });
      void this.load(this.generation);
    } else if (!t && this.token) this.giveUp('lease no longer held');
    this.leaseTimer = this.scheduler.after(FEED_LEASE_CHECK_MS, () => this.checkLease());
  }

  private giveUp(reason: string | undefined): void {
    this.generation++;
    const had = this.token;
    this.token = undefined;
    this.loaded = false;
    this.queue.length = 0;
    this.incidents.clear();
    this.lastSeq = 0;
    if (had && reason)
      this.log.warn('regulator feed projection stops on this node: another node holds job:feeds', {
        epoch: had.epoch,
        reason,
      });
    for (const r of this.idleResolvers.splice(0)) r();
  }

  /** Cluster mode: whether this node projects now (tests, diagnostics). */
  get projecting(): boolean {
    return this.gates?.clustered !== true || (this.token !== undefined && this.loaded);
  }

  /** Seq of the last alarm event handled. */
  get cursor(): number {
    return this.lastSeq;
  }

  /** Resolves when everything received so far has been handled (tests, shutdown). */
  whenIdle(): Promise<void> {
    if (this.loaded && !this.draining && this.queue.length === 0) return Promise.resolve();
    if (this.gates?.clustered === true && this.token === undefined) return Promise.resolve();
    return new Promise((r) => this.idleResolvers.push(r));
  }

  private async load(gen: number): Promise<void> {
    await this.alarms.whenReady();
    const backoff = new Backoff(500, 15_000);
    for (;;) {
      if (this.closed || gen !== this.generation) return;
      try {
        let cursor = await this.repo.cursor(CURSOR_NAME);
        const incidents = await this.repo.incidents();
        for (const i of incidents) this.incidents.set(i.alarmId, i);
        if (cursor === 0 && incidents.length === 0) {
          // a new feed starts with the alarms raised from now on (the journal before it is not re-published)
          cursor = this.alarms.currentSeq();
          await this.repo.project({ cursor: { name: CURSOR_NAME, seq: cursor } }, this.token);
        }
        this.lastSeq = cursor;
        let missed: AlarmEventDto[] = [];
        try {
          missed = await this.alarms.eventsSince(cursor, FEED_PRINCIPAL);
        } catch (err) {
          if (!(err instanceof ReplayTooLargeError)) throw err;
          const now = this.alarms.currentSeq();
          this.log.error(
            'FEED GAP: too many alarm events since the feed last ran to republish; the feed continues from now. Regulators must be told; the events stay in the alarm journal',
            {
              fromSeq: cursor,
              toSeq: now,
            },
          );
          this.lastSeq = now;
          await this.repo.project({ cursor: { name: CURSOR_NAME, seq: now } }, this.token);
        }
        if (gen !== this.generation) return;
        this.queue.unshift(...missed);
        break;
      } catch (err) {
        if (err instanceof FencedError) {
          this.giveUp('fenced: another node holds job:feeds');
          return;
        }
        const delay = backoff.next();
        this.log.error(
          'cannot load the feed state; alarm events are held in order until the database answers',
          { err, retryInMs: delay },
        );
        await new Promise<void>((r) => this.scheduler.after(delay, r));
      }
    }
    this.loaded = true;
    this.log.info('regulator feed ready', {
      cursor: this.lastSeq,
      openIncidents: [...this.incidents.values()].filter((i) => i.open).length,
      replay: this.queue.length,
    });
    await this.drain();
  }

  private async drain(): Promise<void> {
    if (!this.loaded || this.draining) return;
    this.draining = true;
    const backoff = new Backoff(200, 15_000);
    const gen = this.generation;
    try {
      while (!this.closed && gen === this.generation && this.queue.length > 0) {
        const e = this.queue[0] as AlarmEventDto;
        try {
          await this.handle(e);
          if (gen !== this.generation) break; // given up meanwhile: the queue belongs to the next load
          this.queue.shift();
          backoff.reset();
        } catch (err) {
          if (err instanceof FencedError) {
            this.log.error(
              'regulator feed write refused: another node holds job:feeds; projection stops here',
              {
                seq: e.seq,
                err: err.message,
              },
            );
            this.giveUp('fenced');
            break;
          }
          this.metrics.feedProjectionErrors.inc();
          const delay = backoff.next();
          this.log.error(
            'could not publish an alarm event to the regulator feed; holding the queue and retrying',
            {
              err,
              seq: e.seq,
              alarmId: e.id,
              queued: this.queue.length,
              retryInMs: delay,
            },
          );
          await new Promise<void>((r) => this.scheduler.after(delay, r));
        }
      }
    } finally {
      this.draining = false;
      if (this.queue.length === 0) for (const r of this.idleResolvers.splice(0)) r();
    }
  }

  private async handle(e: AlarmEventDto): Promise<void> {
    if (e.seq <= this.lastSeq) return;
    const decision = decideCapMessage(e, this.incidents.get(e.id));
    const site = this.config.plant.siteById.get(e.siteId);
    if (decision === null || site === undefined) {
      if (decision !== null)
        this.log.error('alarm event for a site missing from the plant model; not published', {
          seq: e.seq,
          siteId: e.siteId,
        });
      // nothing stored: the cursor moves with the next stored message (a replay re-decides the same way)
      this.lastSeq = e.seq;
      return;
    }
    const sourceInfo = this.config.plant.sourceById.get(e.sourceId);
    const device =
      e.deviceId !== undefined ? this.config.plant.deviceByKey.get(`${e.siteId}/${e.deviceId}`) : undefined;
    const at = Date.parse(e.at);
    const reportable = decision.msgType === 'Alert' && this.isReportable(e);
    const dueAt = reportable ? at + this.settings.disposalDeadlineMs : undefined;
    const anchor = this.anchors ? await this.anchors.anchorForMessage() : undefined;
    const cap = buildCapAlert({
      ...(anchor ? { journalAnchor: formatAnchor(anchor) } : {}),
      event: e,
      msgType: decision.msgType,
      ...(decision.msgType !== 'Alert' ? { incident: decision.reference } : {}),
      site: { ...site, ...jurisdictionView(this.config.plant.jurisdictionByPath, site.jurisdiction) },
      ...(sourceInfo
        ? {
            source: {
              id: sourceInfo.id,
              name: sourceInfo.name,
              ...(sourceInfo.nameEn ? { nameEn: sourceInfo.nameEn } : {}),
              substances: sourceInfo.substances.map((x) => x.substance),
              ...(sourceInfo.filingCode !== undefined ? { filingCode: sourceInfo.filingCode } : {}),
              ...(sourceInfo.consequenceRadiiKm !== undefined
                ? { consequenceRadiiKm: { ...sourceInfo.consequenceRadiiKm } }
                : {}),
            },
          }
        : {}),
      ...(device
        ? {
            device: {
              id: device.id,
              name: device.name,
              kind: device.kind,
              ...(device.gas ? { gas: device.gas } : {}),
              ...(device.gasClass ? { gasClass: device.gasClass } : {}),
            },
          }
        : {}),
      settings: {
        sender: this.settings.sender,
        // a drill alarm is an Exercise, from the recorded drill window of its site at the time it was raised (a
        // failed look-up throws: the queue holds and retries rather than call a drill alarm Actual)
        status: capStatusFor(
          this.settings.capStatus,
          (await this.drills?.drillAt(e.siteId, Date.parse(e.raisedAt ?? e.at))) != null,
        ),
        areaRadiusKm: this.settings.areaRadiusKm,
      },
      ...(dueAt !== undefined ? { disposalDueAt: dueAt } : {}),
    });
    const xml = renderCapXml(cap);
    const national = await this.national?.render(
      cap,
      jurisdictionView(this.config.plant.jurisdictionByPath, site.jurisdiction).adminCode,
      at,
    );
    const path = sitePath(site);
    const now = this.clock.now();
    const obligation: NewObligation | undefined =
      dueAt !== undefined
        ? {
            incident: decision.incident.identifier,
            alarmId: e.id,
            siteId: e.siteId,
            sourceId: e.sourceId,
            priority: e.priority,
            raisedAt: at,
            dueAt,
          }
        : undefined;
    const deliveries = (subs: readonly SubscriptionTarget[]): PlannedDelivery[] =>
      subs
        .filter((s) => subscriptionWants(s, path, e.priority))
        .map((s) => ({ id: deliveryId(s.id, cap.identifier), subscriptionId: s.id, dueAt: now }));
    const n = await this.repo.project(
      {
        cursor: { name: CURSOR_NAME, seq: e.seq },
        message: {
          identifier: cap.identifier,
          event: e,
          msgType: decision.msgType,
          incident: decision.incident,
          sentMs: at,
          headline: cap.infos[0]?.headline ?? e.message,
          xml,
          ...(national ? { national } : {}),
        },
        deliveries,
        ...(obligation ? { obligation } : {}),
      },
      this.token,
    );
    this.incidents.set(e.id, decision.incident);
    this.lastSeq = e.seq;
    this.metrics.feedMessages.inc({ msg_type: decision.msgType });
    this.projectedSubject.next({
      identifier: cap.identifier,
      msgType: decision.msgType,
      alarmId: e.id,
      siteId: e.siteId,
      seq: e.seq,
      deliveries: n,
      ...(obligation ? { obligation } : {}),
    });
  }

  /**
   * Reporting rule: an alarm of a reportable priority (critical/high) on a major hazard source of the plant
   * model. Conditions raised by hazwatch itself (ext:…, e.g. an overdue disposal) inform but oblige no record.
   */
  isReportable(e: Pick<AlarmEventDto, 'priority' | 'sourceId' | 'ruleId'>): boolean {
    return (
      this.settings.reportablePriorities.has(e.priority) &&
      this.config.plant.sourceById.has(e.sourceId) &&
      !isExternalCondition(e)
    );
  }
}
