import { Subject } from 'rxjs';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/testing/manual.scheduler';
import type { ExternalConditions } from '../alarms/external-conditions';
import type { AppConfig } from '../config/app-config';
import type { HazwatchMetrics } from '../metrics/metrics.registry';
import type { FeedProjector } from './feed-projector.service';
import type { FeedSettings } from './feeds-settings.loader';
import type { AttemptRecord, DeliveryHead, SubscriptionRepository } from './subscription.repository';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import type { WebhookTransport } from './webhook.transport';

type Deferred<T> = { promise: Promise<T>; resolve: (v: T) => void };
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function head(id: string, subscriptionId: string, attempts = 0): DeliveryHead {
  return {
    id,
    ord: 1,
    attempts,
    nextAttemptAt: 0,
    subscription: {
      id: subscriptionId,
      url: 'https://receiver.example/hook',
      secret: 's3cret-for-signing',
      format: 'json',
    } as unknown as DeliveryHead['subscription'],
    message: {
      identifier: 'hazwatch-1',
      msgType: 'Alert',
      xml: '<alert/>',
      event: {
        at: new Date(0).toISOString(),
        siteId: 'site-1',
      } as unknown as DeliveryHead['message']['event'],
      incident: 'i-1',
      sent: new Date(0).toISOString(),
    },
  };
}

/**
 * The outbox as the database would answer: each read is a deferred the test settles, so a read can be made to start
 * before an attempt is recorded and to answer after it.
 */
function harness() {
  const clock = new ManualClock(1_000_000);
  const scheduler = new ManualScheduler(clock);
  const reads: Array<Deferred<DeliveryHead[]>> = [];
  const recorded: AttemptRecord[] = [];
  const posts: Array<{ delivery: string; reply: Deferred<{ status: number }> }> = [];
  const repo = {
    deliveryHeads: () => {
      const d = deferred<DeliveryHead[]>();
      reads.push(d);
      return d.promise;
    },
    pendingCounts: async () => new Map<string, number>(),
    recordAttempt: async (r: AttemptRecord) => {
      recorded.push(r);
      return null;
    },
    subscriptions: async () => [],
  } as unknown as SubscriptionRepository;
  const transport: WebhookTransport = {
    post: (_url, headers) => {
      const reply = deferred<{ status: number }>();
      posts.push({ delivery: headers['x-hazwatch-delivery'] ?? '', reply });
      return reply.promise;
    },
  };
  const settings = {
    webhook: {
      pollMs: 1000,
      timeoutMs: 5000,
      backoffInitialMs: 1000,
      backoffMaxMs: 60_000,
      pauseAfterMs: 24 * 3600_000,
    },
  } as unknown as FeedSettings;
  const metrics = {
    webhookPending: { set: () => undefined },
    webhookAttempts: { inc: () => undefined },
    webhookLatency: { observe: () => undefined },
  } as unknown as HazwatchMetrics;
  const dispatcher = new WebhookDispatcher(
    repo,
    { projected$: new Subject() } as unknown as FeedProjector,
    { emit: () => undefined } as unknown as ExternalConditions,
    {
      env: { HAZWATCH_WEBHOOK_ALLOW: '' },
      plant: { sites: [], siteById: new Map(), sourceById: new Map(), jurisdictionByPath: new Map() },
    } as unknown as AppConfig,
    settings,
    clock,
    metrics,
    transport,
    scheduler,
  );
  return { dispatcher, scheduler, reads, posts, recorded };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('WebhookDispatcher', () => {
  it('does not send a delivery again from an outbox read that began before its attempt was recorded', async () => {
    const h = harness();
    const pass1 = h.dispatcher.tick();
    h.reads[0]!.resolve([head('d-1', 'sub-a')]);
    await pass1;
    expect(h.posts.map((p) => p.delivery)).toEqual(['d-1']);

    // A second pass reads the outbox while d-1 is still on the wire …
    const pass2 = h.dispatcher.tick();
    expect(h.reads).toHaveLength(2);
    // … the receiver answers 200 and the attempt is recorded …
    h.posts[0]!.reply.resolve({ status: 200 });
    await flush();
    expect(h.recorded.map((r) => [r.deliveryId, r.delivered])).toEqual([['d-1', true]]);
    // … and only then does the read answer, with the head as it was before the record.
    h.reads[1]!.resolve([head('d-1', 'sub-a')]);
    await pass2;
    expect(h.posts.map((p) => p.delivery)).toEqual(['d-1']);

    // The next pass reads afresh: the outbox has moved on to d-2, which goes out once.
    await h.scheduler.advance(0);
    const fresh = h.reads[h.reads.length - 1]!;
    fresh.resolve([head('d-2', 'sub-a')]);
    await flush();
    expect(h.posts.map((p) => p.delivery)).toEqual(['d-1', 'd-2']);
  });

  it('still sends another subscription whose head was read in that same pass', async () => {
    const h = harness();
    const pass1 = h.dispatcher.tick();
    h.reads[0]!.resolve([head('d-1', 'sub-a')]);
    await pass1;
    const pass2 = h.dispatcher.tick();
    h.posts[0]!.reply.resolve({ status: 200 });
    await flush();
    h.reads[1]!.resolve([head('d-1', 'sub-a'), head('e-1', 'sub-b')]);
    await pass2;
    expect(h.posts.map((p) => p.delivery)).toEqual(['d-1', 'e-1']);
  });

  it('sends again after a failed attempt, with the next attempt number (at least once)', async () => {
    const h = harness();
    const pass1 = h.dispatcher.tick();
    h.reads[0]!.resolve([head('d-1', 'sub-a')]);
    await pass1;
    h.posts[0]!.reply.resolve({ status: 503 });
    await flush();
    expect(h.recorded.map((r) => [r.attempt, r.delivered])).toEqual([[1, false]]);
    // The retry is read after the failed attempt was recorded.
    await h.scheduler.advance(0);
    h.reads[h.reads.length - 1]!.resolve([head('d-1', 'sub-a', 1)]);
    await flush();
    expect(h.posts.map((p) => p.delivery)).toEqual(['d-1', 'd-1']);
  });
});
