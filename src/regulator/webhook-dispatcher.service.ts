import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription as RxSubscription } from 'rxjs';
import { ExternalConditions } from '../alarms/external-conditions';
import { scopeCovers, sitePath } from '../auth/principal';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { JobGates } from '../common/job-gate';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { systemScheduler, type Scheduler, type TimerHandle } from '../common/timer.port';
import {
  WEBHOOK_HEADERS,
  isDelivered,
  retryDelayMs,
  shouldPause,
  signPayload,
} from './domain/webhook.policy';
import { FEED_SCHEDULER, FeedProjector } from './feed-projector.service';
import { SubscriptionRepository, type DeliveryHead, type Subscription } from './subscription.repository';
import { FEED_SETTINGS, type FeedSettings } from './feeds-settings.loader';
import { parseWebhookAllowList } from './domain/webhook-target.policy';
import {
  WEBHOOK_TRANSPORT,
  deliveryErrorClass,
  guardedHttpTransport,
  WEBHOOK_RESOLVER,
  type Resolver,
  type WebhookTransport,
} from './webhook.transport';
import { NATIONAL_PROFILE } from './domain/cap-national.profile';
import { placeNames, type PlaceNames } from './place-names';

export const WEBHOOK_FAILING_RULE = 'ext:feeds:webhook-failing:';
/** External alarms about feed health hang on this pseudo source (no hazard source is at fault). */
export const FEED_SOURCE_ID = 'regulator-feed';

/** The body a receiver gets: the CAP document (format cap) or this JSON (format json). */
export type WebhookJsonBody = {
  deliveryId: string;
  subscriptionId: string;
  /** CAP identifier in the subscription's profile (a GB/T 35965.1 identifier for `cn-national`). */
  identifier: string;
  /** The OASIS-profile identifier, when `identifier` is the national one. */
  oasisIdentifier?: string;
  msgType: string;
  sent: string;
  incident: string;
  cap: string;
  /** Enterprise, hazard source and jurisdiction by name (the alarm carries the ids). */
  place?: PlaceNames;
  alarm: unknown;
  /** Signed alarm-journal chain head carried by the CAP message (docs/adr/0015-journal-anchors.md); keep it. */
  journalAnchor?: string;
};

/**
 * A `cn-national` subscription gets the national twin of each message; a message projected before that profile was
 * configured has none and goes out in the OASIS profile (never held back).
 */
export function webhookBody(
  h: DeliveryHead,
  capUrl: string,
  place?: PlaceNames,
): { body: string; contentType: string } {
  const national = h.subscription.profile === NATIONAL_PROFILE ? h.message.national : undefined;
  if (h.subscription.format === 'cap')
    return { body: national?.xml ?? h.message.xml, contentType: 'application/cap+xml; charset=utf-8' };
  const b: WebhookJsonBody = {
    deliveryId: h.id,
    subscriptionId: h.subscription.id,
    identifier: national?.identifier ?? h.message.identifier,
    ...(national ? { oasisIdentifier: h.message.identifier } : {}),
    msgType: h.message.msgType,
    sent: h.message.sent,
    incident: h.message.incident,
    cap: capUrl,
    ...(place ? { place } : {}),
    alarm: h.message.event,
  };
  const anchor = /<valueName>hazwatch:journalAnchor<\/valueName>\s*<value>([^<]+)<\/value>/.exec(
    h.message.xml,
  )?.[1];
  if (anchor !== undefined) b.journalAnchor = anchor;
  return { body: JSON.stringify(b), contentType: 'application/json; charset=utf-8' };
}

/**
 * Delivers the webhook outbox: per subscription strictly in order (the head delivery blocks the ones behind it until
 * it succeeds), signed with the subscription's secret, retried with capped exponential backoff for as long as it
 * takes. A subscription failing for `pauseAfterHours` is paused (its messages keep collecting) and an alarm goes to the
 * admins; resuming it clears the alarm and delivers the backlog in order.
 */
@Injectable()
export class WebhookDispatcher implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('feeds.webhooks');
  private readonly inFlight = new Set<string>();
  /**
   * Per subscription, the number of the last settled send (`settled` counts them). A pass whose outbox read began
   * before a send of that subscription settled may hold the head as it was before the attempt was recorded: it must not
   * send it again (that was a double delivery of one id under load).
   */
  private readonly settledAt = new Map<string, number>();
  private settled = 0;
  private timer: TimerHandle | undefined;
  private running = false;
  private again = false;
  private closed = false;
  /** Cluster: reconcile the failing alarms once this node holds the webhooks lease again. */
  private reconcileWhenOpen = false;
  private wake$: RxSubscription | undefined;
  private readonly transport: WebhookTransport;
  private readonly scheduler: Scheduler;

  constructor(
    private readonly repo: SubscriptionRepository,
    private readonly projector: FeedProjector,
    private readonly external: ExternalConditions,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(FEED_SETTINGS) private readonly settings: FeedSettings,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: HazwatchMetrics,
    @Optional() @Inject(WEBHOOK_TRANSPORT) transport?: WebhookTransport,
    @Optional() @Inject(FEED_SCHEDULER) scheduler?: Scheduler,
    @Optional() @Inject(WEBHOOK_RESOLVER) resolver?: Resolver,
    @Optional() private readonly gates?: JobGates, // cluster hook (docs/adr/0016-cluster.md)
  ) {
    this.transport =
      transport ?? guardedHttpTransport(parseWebhookAllowList(config.env.HAZWATCH_WEBHOOK_ALLOW), resolver);
    this.scheduler = scheduler ?? systemScheduler;
  }

  onModuleInit(): void {
    this.wake$ = this.projector.projected$.subscribe((m) => {
      if (m.deliveries > 0) this.wake();
    });
    // cluster: the node that takes the webhooks lease reconciles (in tick), not every node at start
    if (!this.gates || this.gates.isOpen('webhooks')) void this.reconcileAlarms();
    else this.reconcileWhenOpen = true;
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    this.wake$?.unsubscribe();
    this.timer?.cancel();
  }

  /** Look for due deliveries now (a new message, a resumed subscription). */
  wake(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = this.scheduler.after(ms, () => void this.tick());
  }

  /** One pass: start the due head delivery of every subscription that has none in flight. */
  async tick(): Promise<void> {
    if (this.closed) return;
    if (this.gates && !this.gates.isOpen('webhooks')) {
      this.reconcileWhenOpen = true;
      this.schedule(this.settings.webhook.pollMs); // cluster: another node dispatches; look again later
      return;
    }
    if (this.reconcileWhenOpen) {
      this.reconcileWhenOpen = false;
      await this.reconcileAlarms();
    }
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    let nextIn = this.settings.webhook.pollMs;
    try {
      const readFrom = this.settled;
      const heads = await this.repo.deliveryHeads();
      const now = this.clock.now();
      const sends: Array<Promise<void>> = [];
      for (const h of heads) {
        if (this.inFlight.has(h.subscription.id)) continue;
        if ((this.settledAt.get(h.subscription.id) ?? 0) > readFrom) {
          this.again = true; // read again: this head may be stale
          continue;
        }
        if (h.nextAttemptAt > now) {
          nextIn = Math.min(nextIn, h.nextAttemptAt - now);
          continue;
        }
        this.inFlight.add(h.subscription.id);
        sends.push(
          this.send(h)
            .catch((err: unknown) =>
              this.log.error('webhook delivery bookkeeping failed; it is retried', {
                err,
                delivery: h.id,
                subscription: h.subscription.id,
              }),
            )
            .finally(() => {
              this.settledAt.set(h.subscription.id, ++this.settled);
              this.inFlight.delete(h.subscription.id);
              this.wake();
            }),
        );
      }
      await this.updatePendingGauge();
      void Promise.all(sends);
    } catch (err) {
      this.log.error('cannot read the webhook outbox; retrying', { err });
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.schedule(0);
      } else this.schedule(Math.max(0, nextIn));
    }
  }

  private async updatePendingGauge(): Promise<void> {
    let n = 0;
    for (const v of (await this.repo.pendingCounts()).values()) n += v;
    this.metrics.webhookPending.set(n);
  }

  private async send(h: DeliveryHead): Promise<void> {
    const attempt = h.attempts + 1;
    const started = this.clock.now();
    const national = h.subscription.profile === NATIONAL_PROFILE ? h.message.national : undefined;
    const { body, contentType } = webhookBody(
      h,
      `/feeds/alerts/${encodeURIComponent(national?.identifier ?? h.message.identifier)}.cap`,
      placeNames(this.config.plant, h.message.event.siteId, h.message.event.sourceId),
    );
    const ts = Math.floor(started / 1000);
    const headers: Record<string, string> = {
      'content-type': contentType,
      'user-agent': 'hazwatch-webhooks/1',
      [WEBHOOK_HEADERS.timestamp]: String(ts),
      [WEBHOOK_HEADERS.signature]: signPayload(h.subscription.secret, ts, body),
      [WEBHOOK_HEADERS.delivery]: h.id,
      [WEBHOOK_HEADERS.subscription]: h.subscription.id,
      [WEBHOOK_HEADERS.attempt]: String(attempt),
    };
    let status: number | null = null;
    let error: string | null = null;
    try {
      status = (await this.transport.post(h.subscription.url, headers, body, this.settings.webhook.timeoutMs))
        .status;
      if (!isDelivered(status)) error = `HTTP ${status}`;
    } catch (err) {
      error = deliveryErrorClass(err);
      this.log.warn('webhook delivery attempt failed', {
        subscription: h.subscription.id,
        delivery: h.id,
        err,
      });
    }
    const at = this.clock.now();
    const delivered = status !== null && isDelivered(status);
    const nextAttemptAt = delivered
      ? at
      : at +
        retryDelayMs(attempt, this.settings.webhook.backoffInitialMs, this.settings.webhook.backoffMaxMs);
    const failingSince = await this.repo.recordAttempt({
      deliveryId: h.id,
      subscriptionId: h.subscription.id,
      attempt,
      at,
      durationMs: Math.max(0, at - started),
      httpStatus: status,
      error,
      delivered,
      nextAttemptAt,
    });
    this.metrics.webhookAttempts.inc({ result: delivered ? 'delivered' : 'failed' });
    if (delivered) {
      const recorded = Date.parse(h.message.event.at);
      if (Number.isFinite(recorded)) this.metrics.webhookLatency.observe(Math.max(0, at - recorded) / 1000);
      return;
    }
    this.log.warn('webhook delivery failed; retrying with backoff', {
      subscription: h.subscription.id,
      delivery: h.id,
      attempt,
      status,
      error,
      retryInMs: nextAttemptAt - at,
    });
    if (shouldPause(failingSince, at, this.settings.webhook.pauseAfterMs))
      await this.pause(h.subscription, at, failingSince as number, error ?? 'failed');
  }

  private async pause(sub: Subscription, at: number, failingSince: number, lastError: string): Promise<void> {
    const hours = ((at - failingSince) / 3600_000).toFixed(1);
    const reason = `deliveries failing for ${hours} h (last: ${lastError})`;
    if (!(await this.repo.pauseSubscription(sub.id, at, reason))) return;
    this.log.error(
      'webhook subscription paused: its receiver has failed too long; messages keep collecting until an admin or its owner resumes it',
      {
        subscription: sub.id,
        name: sub.name,
        since: new Date(failingSince).toISOString(),
        lastError,
      },
    );
    this.raiseFailing(sub, at, true, reason);
  }

  /** After a resume: the failing alarm clears, the backlog goes out in order. */
  resumed(sub: Subscription): void {
    this.raiseFailing(sub, this.clock.now(), false, 'subscription resumed');
    this.wake();
  }

  private raiseFailing(sub: Subscription, at: number, active: boolean, why: string): void {
    const site = this.config.plant.sites
      .filter((s) => scopeCovers(sub.scope, sitePath(s)))
      .sort((a, b) => a.id.localeCompare(b.id))[0];
    if (!site) {
      this.log.error('webhook failing alarm has no site in the subscription scope to hang on', {
        subscription: sub.id,
        scope: sub.scope,
        active,
      });
      return;
    }
    this.external.emit({
      ruleId: `${WEBHOOK_FAILING_RULE}${sub.id}`,
      sourceId: FEED_SOURCE_ID,
      siteId: site.id,
      condition: 'webhook_failing',
      active,
      priority: 'medium',
      value: null,
      limit: null,
      ts: at,
      // The regulator's own label (sub.name) is free text: it stays out of alarms that plant operators see.
      message: active
        ? `监管推送暂停 regulator webhook ${sub.id} paused: ${why}; admin action needed (POST /api/subscriptions/${sub.id}/resume)`
        : `监管推送恢复 regulator webhook ${sub.id} resumed`,
    });
  }

  /** After a restart: paused subscriptions hold their alarm, others none (producers own their external conditions). */
  private async reconcileAlarms(): Promise<void> {
    try {
      const subs = await this.repo.subscriptions();
      for (const s of subs)
        if (s.status === 'paused') this.raiseFailing(s, this.clock.now(), true, s.pauseReason ?? 'paused');
    } catch (err) {
      this.log.warn('could not reconcile webhook failure alarms at start', { err });
    }
  }
}
