import { JsonLogger } from '../common/logger';
import { ManualClock } from '../common/clock';
import { SINGLETON_JOBS, jobKey } from './domain/lease-keys';
import { LeaseManager, type OwnershipChange } from './lease-manager';
import { MemoryLeaseStore } from './testing/memory-lease.store';
import { ManualScheduler } from '../common/testing/manual.scheduler';

const TTL = 10_000;
const RENEW = 2_500;
const MARGIN = 2_000;
const SITES = Array.from({ length: 12 }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
const KEYS = [...SITES, ...SINGLETON_JOBS.map(jobKey)];

describe('LeaseManager (virtual time)', () => {
  beforeAll(() => JsonLogger.setLevel('error'));
  let clock: ManualClock;
  let timer: ManualScheduler;
  let store: MemoryLeaseStore;
  let events: Array<OwnershipChange & { node: string }>;

  const node = (id: string, keys: readonly string[] = KEYS): LeaseManager => {
    const m = new LeaseManager({
      nodeId: id,
      store: store.forNode(id),
      keys: () => keys,
      ttlMs: TTL,
      renewEveryMs: RENEW,
      marginMs: MARGIN,
      clock,
      timer,
    });
    m.ownership$.subscribe((e) => events.push({ ...e, node: id }));
    return m;
  };
  const ownersOf = (ms: LeaseManager[], key: string): string[] =>
    ms.filter((m) => m.isOwned(key)).map((m) => m.nodeId);

  beforeEach(() => {
    clock = new ManualClock(1_000_000);
    timer = new ManualScheduler(clock);
    store = new MemoryLeaseStore(clock);
    events = [];
  });

  it('shares every key among three nodes, each owned by exactly one, in the database and in the nodes', async () => {
    const ms = ['a', 'b', 'c'].map((id) => node(id));
    ms.forEach((m) => m.start());
    await timer.advance(3 * RENEW);
    for (const k of KEYS) {
      expect(ownersOf(ms, k)).toHaveLength(1);
      expect(store.ownerOf(k)).toBe(ownersOf(ms, k)[0]);
    }
    for (const m of ms) expect(m.owned().length).toBeGreaterThan(0);
    // stable: more rounds move nothing (no handover ping-pong), epochs stay put
    // (the first node to start takes everything, then hands over as the others appear: that is the only churn)
    const before = KEYS.map((k) => store.rows.get(k)?.epoch);
    const seen = events.length;
    await timer.advance(10 * RENEW);
    expect(KEYS.map((k) => store.rows.get(k)?.epoch)).toEqual(before);
    expect(events.slice(seen)).toEqual([]);
  });

  it('a crashed node: its leases are re-owned (epoch + 1) after the ttl, within ttl + one round', async () => {
    const ms = ['a', 'b', 'c'].map((id) => node(id));
    ms.forEach((m) => m.start());
    await timer.advance(3 * RENEW);
    const [a, b, c] = ms as [LeaseManager, LeaseManager, LeaseManager];
    const lost = a.owned();
    expect(lost.length).toBeGreaterThan(0);
    const killedAt = clock.now();
    a.halt();
    await timer.advance(TTL - RENEW);
    for (const l of lost) expect(ownersOf([b, c], l.key)).toEqual([]); // not before the lease could expire
    await timer.advance(2 * RENEW);
    for (const l of lost) {
      expect(ownersOf([b, c], l.key)).toHaveLength(1);
      expect(store.rows.get(l.key)?.epoch).toBe(l.epoch + 1);
      const took = events.find((e) => e.key === l.key && e.owned && e.node !== 'a');
      expect(took!.at - killedAt).toBeLessThanOrEqual(TTL + RENEW);
    }
  });

  it('a graceful stop hands every lease over within one round', async () => {
    const ms = ['a', 'b', 'c'].map((id) => node(id));
    ms.forEach((m) => m.start());
    await timer.advance(3 * RENEW);
    const [a, b, c] = ms as [LeaseManager, LeaseManager, LeaseManager];
    const given = a.owned();
    const stoppedAt = clock.now();
    await a.stop();
    expect(events.filter((e) => e.node === 'a' && e.reason === 'stopped')).toHaveLength(given.length);
    await timer.advance(RENEW);
    for (const l of given) {
      expect(ownersOf([b, c], l.key)).toHaveLength(1);
      const took = events.find((e) => e.key === l.key && e.owned && e.node !== 'a')!;
      expect(took.at - stoppedAt).toBeLessThanOrEqual(RENEW);
    }
  });

  it('a node cut off from the database self-fences at least the margin before anyone else can take its leases', async () => {
    const ms = ['a', 'b', 'c'].map((id) => node(id));
    ms.forEach((m) => m.start());
    await timer.advance(3 * RENEW);
    const [a, b, c] = ms as [LeaseManager, LeaseManager, LeaseManager];
    const held = a.owned();
    store.block('a');
    await timer.advance(TTL + 2 * RENEW);
    expect(a.owned()).toEqual([]);
    expect(a.stats.selfFences).toBe(held.length);
    for (const l of held) {
      const fenced = events.find((e) => e.node === 'a' && e.key === l.key && e.reason === 'fenced')!;
      const took = events.find((e) => e.node !== 'a' && e.key === l.key && e.owned)!;
      expect(fenced).toBeDefined();
      expect(took).toBeDefined();
      expect(took.at - fenced.at).toBeGreaterThanOrEqual(MARGIN);
      expect(took.epoch).toBe(l.epoch + 1);
      expect(ownersOf([a, b, c], l.key)).toEqual([took.node]);
    }
    // back online: the late answers do not revive the old epochs; it rejoins with new ones
    store.unblock('a');
    await timer.advance(4 * RENEW);
    for (const k of KEYS) expect(ownersOf(ms, k)).toHaveLength(1);
    for (const l of held) expect(a.epochOf(l.key) ?? 0).not.toBe(l.epoch);
  });

  it('counts failed rounds and keeps leases valid no longer than the last renewal allows', async () => {
    const m = node('solo');
    m.start();
    await timer.advance(RENEW);
    expect(m.owned()).toHaveLength(KEYS.length);
    const lastRenewal = clock.now();
    store.block('solo');
    await timer.advance(TTL - MARGIN - (clock.now() - lastRenewal) - 1);
    expect(m.isOwned(SITES[0]!)).toBe(true);
    await timer.advance(1);
    expect(m.isOwned(SITES[0]!)).toBe(false);
    expect(m.stats.selfFences).toBe(KEYS.length);
  });

  it('a new node takes its fair share from the others by handover, without a key being owned twice', async () => {
    const ab = ['a', 'b'].map((id) => node(id));
    ab.forEach((m) => m.start());
    await timer.advance(3 * RENEW);
    const c = node('c');
    c.start();
    for (let i = 0; i < 8; i++) {
      await timer.advance(RENEW / 2);
      for (const k of KEYS) expect(ownersOf([...ab, c], k).length).toBeLessThanOrEqual(1);
    }
    for (const k of KEYS) expect(ownersOf([...ab, c], k)).toHaveLength(1);
    expect(c.owned().length).toBeGreaterThan(0);
    expect(events.some((e) => e.reason === 'handover')).toBe(true);
  });

  it('refuses timings that cannot renew before expiry', () => {
    expect(
      () =>
        new LeaseManager({
          nodeId: 'x',
          store: store.forNode('x'),
          keys: () => KEYS,
          ttlMs: 1000,
          renewEveryMs: 800,
          marginMs: 300,
          clock,
          timer,
        }),
    ).toThrow(/must stay below the ttl/);
  });
});

describe('LeaseManager with a node id already in use', () => {
  it('a second process with the same node id holds nothing while the first is alive, and takes over once it is gone', async () => {
    JsonLogger.setLevel('error');
    const clock = new ManualClock(5_000_000);
    const timer = new ManualScheduler(clock);
    const store = new MemoryLeaseStore(clock);
    const make = (): LeaseManager =>
      new LeaseManager({
        nodeId: 'dup',
        store: store.forNode('dup'),
        keys: () => KEYS,
        ttlMs: TTL,
        renewEveryMs: RENEW,
        marginMs: MARGIN,
        clock,
        timer,
      });
    const first = make();
    first.start();
    await timer.advance(RENEW);
    expect(first.owned()).toHaveLength(KEYS.length);
    const second = make();
    second.start();
    await timer.advance(3 * RENEW);
    expect(second.owned()).toEqual([]);
    expect(second.stats.renewFailures).toBeGreaterThan(0);
    expect(first.owned()).toHaveLength(KEYS.length); // the first is not disturbed
    first.halt();
    await timer.advance(TTL + 2 * RENEW);
    expect(second.owned()).toHaveLength(KEYS.length);
    expect(KEYS.every((k) => store.ownerOf(k) === 'dup')).toBe(true);
  });
});
