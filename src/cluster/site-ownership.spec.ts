import { firstValueFrom, toArray } from 'rxjs';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { ManualScheduler } from '../common/testing/manual.scheduler';
import { jobKey } from './domain/lease-keys';
import { LeaseManager } from './lease-manager';
import { LeaseSiteOwnership, SingleNodeOwnership, type SiteOwnershipChange } from './site-ownership';
import { MemoryLeaseStore } from './testing/memory-lease.store';

const TTL = 10_000;
const RENEW = 2_500;
const KEYS = ['site-a', 'site-b', 'site-c', jobKey('anchors')];

describe('SiteOwnership', () => {
  beforeAll(() => JsonLogger.setLevel('error'));

  it('single node: owns every site, no epochs, no fencing token, no changes', async () => {
    const o = new SingleNodeOwnership();
    expect(o.owns('anything')).toBe(true);
    expect(o.epochOf('anything')).toBeUndefined();
    expect(o.tokenFor('anything')).toBeUndefined();
    expect(await firstValueFrom(o.ownership$.pipe(toArray()))).toEqual([]);
  });

  it('cluster node: follows the lease manager, replays current sites to late subscribers, leaves jobs out', async () => {
    const clock = new ManualClock(1_000_000);
    const timer = new ManualScheduler(clock);
    const store = new MemoryLeaseStore(clock);
    const m = new LeaseManager({
      nodeId: 'n1',
      store: store.forNode('n1'),
      keys: () => KEYS,
      ttlMs: TTL,
      renewEveryMs: RENEW,
      clock,
      timer,
    });
    const o = new LeaseSiteOwnership(m);
    const early: SiteOwnershipChange[] = [];
    o.ownership$.subscribe((c) => early.push(c));
    expect(o.owns('site-a')).toBe(false);
    m.start();
    await timer.advance(RENEW);
    expect(early.map((c) => [c.siteId, c.owned, c.reason])).toEqual([
      ['site-a', true, 'acquired'],
      ['site-b', true, 'acquired'],
      ['site-c', true, 'acquired'],
    ]);
    expect(o.owns('site-b')).toBe(true);
    expect(o.owns(jobKey('anchors'))).toBe(false); // a job is not a site
    expect(o.tokenFor('site-b')).toEqual({ siteId: 'site-b', nodeId: 'n1', epoch: 1 });

    const late: SiteOwnershipChange[] = [];
    o.ownership$.subscribe((c) => late.push(c));
    expect(late.map((c) => [c.siteId, c.reason, c.epoch])).toEqual([
      ['site-a', 'current', 1],
      ['site-b', 'current', 1],
      ['site-c', 'current', 1],
    ]);

    // renewals stop reaching the database: the node self-fences before the lease can expire there
    store.block('n1');
    await timer.advance(TTL);
    expect(o.owns('site-a')).toBe(false);
    expect(o.tokenFor('site-a')).toBeUndefined();
    expect(late.filter((c) => !c.owned).map((c) => [c.siteId, c.reason])).toEqual([
      ['site-a', 'fenced'],
      ['site-b', 'fenced'],
      ['site-c', 'fenced'],
    ]);
    store.unblock('n1');
    m.halt();
  });
});
