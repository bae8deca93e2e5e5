import { JsonLogger } from '../../src/common/logger';
import { SINGLETON_JOBS, jobKey } from '../../src/cluster/domain/lease-keys';
import { rendezvousOwner } from '../../src/cluster/domain/rendezvous';
import { FencedError, fence, fencedWrite } from '../../src/cluster/fence';
import { LeaseManager, type OwnershipChange } from '../../src/cluster/lease-manager';
import { PgLeaseStore } from '../../src/cluster/lease.store';
import { monotonicClock, systemLeaseTimer } from '../../src/cluster/system-timer';
import { Database } from '../../src/storage/database.service';
import { pollUntil } from '../setup/poll-until';
import { TcpProxy } from '../setup/tcp-proxy';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
} from '../setup/test-db';

const suite = describeWithDb('cluster-leases.int-spec');

/** Short lease timing so the suite runs in seconds; production defaults are 10 s / 2.5 s / 2 s. */
const TTL = 4_000;
const RENEW = 1_000;
const MARGIN = 800;
const SITES = Array.from({ length: 12 }, (_, i) => `cl-site-${String(i + 1).padStart(2, '0')}`);
const KEYS = [...SITES, ...SINGLETON_JOBS.map(jobKey)];

type Node = { id: string; proxy: TcpProxy; db: Database; manager: LeaseManager };
type Event = OwnershipChange & { node: string };

/**
 * Three LeaseManagers, each with its own connection pool through its own TCP proxy, over one fresh database and a plant
 * of 12 sites plus the singleton jobs (docs/adr/0016-cluster.md): exclusive ownership, crash failover, graceful
 * handover, and a partitioned node that self-fences before anyone else can take its leases and whose stale-epoch
 * write is refused.
 */
suite('cluster leases on PostgreSQL (3 nodes)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let direct: Database;
  const nodes = new Map<string, Node>();
  const events: Event[] = [];

  const viaProxy = (url: string, port: number): string => {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };

  const startNode = async (id: string): Promise<Node> => {
    const target = new URL(scratch.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    const port = await proxy.start();
    const db = await Database.open({
      url: viaProxy(scratch.url, port),
      migrate: false,
      probeIntervalMs: 0,
      queryTimeoutMs: 1_000,
      connectTimeoutMs: 1_000,
      poolMax: 3,
    });
    const manager = new LeaseManager({
      nodeId: id,
      store: new PgLeaseStore(db),
      keys: () => KEYS,
      ttlMs: TTL,
      renewEveryMs: RENEW,
      marginMs: MARGIN,
      clock: monotonicClock,
      timer: systemLeaseTimer,
    });
    manager.ownership$.subscribe((e) => events.push({ ...e, node: id }));
    const n = { id, proxy, db, manager };
    nodes.set(id, n);
    manager.start();
    return n;
  };

  const live = (): LeaseManager[] => [...nodes.values()].map((n) => n.manager).filter((m) => m.running);
  const owners = (key: string): string[] =>
    live()
      .filter((m) => m.isOwned(key))
      .map((m) => m.nodeId);
  const dbOwners = async (): Promise<
    Map<string, { owner: string | null; epoch: number; valid: boolean }>
  > => {
    const r = await direct.query<{ site_id: string; owner: string | null; epoch: string; valid: boolean }>(
      `SELECT site_id, owner, epoch, (owner IS NOT NULL AND expires_at > now()) AS valid FROM site_lease`,
    );
    return new Map(
      r.rows.map((x) => [x.site_id, { owner: x.owner, epoch: Number(x.epoch), valid: x.valid }]),
    );
  };
  /** Every key owned by exactly one live node, its fair-share winner, as the database also says. */
  const settled = async (): Promise<boolean> => {
    const db = await dbOwners();
    const ids = live().map((m) => m.nodeId);
    return KEYS.every((k) => {
      const o = owners(k);
      return (
        o.length === 1 &&
        o[0] === rendezvousOwner(k, ids) &&
        db.get(k)?.valid === true &&
        db.get(k)?.owner === o[0]
      );
    });
  };

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'cluster');
    await prepareTestDatabase(scratch.url);
    direct = await Database.open({ url: scratch.url, migrate: false, probeIntervalMs: 0 });
    await direct.query(
      `CREATE TABLE fence_probe (site_id text NOT NULL, node_id text NOT NULL, epoch bigint NOT NULL, note text NOT NULL)`,
    );
  });

  afterAll(async () => {
    for (const n of nodes.values()) {
      n.proxy.unhang();
      n.manager.halt();
      await n.db.close();
      await n.proxy.close();
    }
    await direct?.close();
    await scratch?.drop();
  });

  it('every site and job is owned by exactly one of three nodes', async () => {
    for (const id of ['n1', 'n2', 'n3']) await startNode(id);
    await pollUntil(settled, { timeoutMs: 20_000, what: 'every key owned by exactly one node' });
    const shares = live().map((m) => `${m.nodeId}=${m.owned().length}`);
    console.log(`cluster-leases: initial shares ${shares.join(' ')} of ${KEYS.length} keys`);
    for (const m of live()) expect(m.owned().length).toBeGreaterThan(0);
  });

  it('a killed node (no release): its sites are re-owned with epoch + 1 within ttl + one round', async () => {
    const victim = nodes.get('n1')!;
    const held = victim.manager.owned();
    expect(held.length).toBeGreaterThan(0);
    const killedAt = monotonicClock.now();
    victim.manager.halt(); // as SIGKILL: no release, no more renewals
    await victim.db.close();
    await pollUntil(async () => held.every((h) => owners(h.key).length === 1) && (await settled()), {
      timeoutMs: 30_000,
      what: "the killed node's leases re-owned",
    });
    const takeovers = held.map((h) => events.find((e) => e.key === h.key && e.owned && e.at > killedAt)!);
    const worst = Math.max(...takeovers.map((e) => e.at - killedAt));
    console.log(
      `cluster-leases: killed node's ${held.length} leases re-owned after ${Math.round(worst)} ms (ttl ${TTL} ms, round ${RENEW} ms)`,
    );
    for (const [i, h] of held.entries()) expect(takeovers[i]!.epoch).toBe(h.epoch + 1);
    expect(worst).toBeGreaterThanOrEqual(TTL - RENEW - MARGIN); // not before the lease could have expired
    expect(worst).toBeLessThanOrEqual(TTL + 2 * RENEW);
  });

  it('a graceful stop hands over in under 5 s', async () => {
    await startNode('n4');
    await pollUntil(async () => nodes.get('n4')!.manager.owned().length > 0 && (await settled()), {
      timeoutMs: 20_000,
      what: 'n4 holding its share',
    });
    const leaving = nodes.get('n2')!;
    const held = leaving.manager.owned();
    const stoppedAt = monotonicClock.now();
    await leaving.manager.stop();
    await pollUntil(async () => held.every((h) => owners(h.key).length === 1) && (await settled()), {
      timeoutMs: 10_000,
      what: "the stopped node's leases re-owned",
    });
    const worst = Math.max(
      ...held.map((h) => events.find((e) => e.key === h.key && e.owned && e.at > stoppedAt)!.at - stoppedAt),
    );
    console.log(`cluster-leases: graceful stop handed ${held.length} leases over in ${Math.round(worst)} ms`);
    expect(worst).toBeLessThan(5_000);
  });

  it('a partitioned node self-fences before another node acquires its leases, and its stale-epoch write is refused', async () => {
    const cut = nodes.get('n3')!;
    const held = cut.manager.owned();
    expect(held.length).toBeGreaterThan(0);
    const cutAt = monotonicClock.now();
    cut.proxy.hang(); // its SQL no longer reaches the database; its connections stay open
    await pollUntil(
      async () =>
        held.every((h) => events.some((e) => e.node !== 'n3' && e.key === h.key && e.owned && e.at > cutAt)),
      { timeoutMs: 30_000, what: "the partitioned node's leases taken over" },
    );
    const rows = await dbOwners();
    let closest = Number.POSITIVE_INFINITY;
    for (const h of held) {
      const fenced = events.find((e) => e.node === 'n3' && e.key === h.key && !e.owned && e.at > cutAt)!;
      const took = events.find((e) => e.node !== 'n3' && e.key === h.key && e.owned && e.at > cutAt)!;
      expect(fenced.reason).toBe('fenced');
      expect(fenced.at).toBeLessThan(took.at);
      expect(took.epoch).toBeGreaterThan(h.epoch);
      expect(rows.get(h.key)?.epoch).toBe(took.epoch);
      closest = Math.min(closest, took.at - fenced.at);
    }
    console.log(
      `cluster-leases: partitioned node fenced ${held.length} leases; the earliest takeover came ${Math.round(closest)} ms after its self-fence (margin ${MARGIN} ms)`,
    );
    expect(cut.manager.owned()).toEqual([]);

    // the paused node's write arrives late, with its old epoch: refused, nothing written
    const site = held.find((h) => !h.key.startsWith('job:')) ?? held[0]!;
    const stale = { siteId: site.key, nodeId: 'n3', epoch: site.epoch };
    await expect(
      fencedWrite(direct, stale, (tx) =>
        tx.query(`INSERT INTO fence_probe VALUES ($1, $2, $3, 'stale')`, [
          stale.siteId,
          stale.nodeId,
          stale.epoch,
        ]),
      ),
    ).rejects.toBeInstanceOf(FencedError);
    // the new owner's write with the current epoch goes through
    const now = rows.get(site.key)!;
    await fencedWrite(direct, { siteId: site.key, nodeId: now.owner!, epoch: now.epoch }, (tx) =>
      tx.query(`INSERT INTO fence_probe VALUES ($1, $2, $3, 'current')`, [site.key, now.owner, now.epoch]),
    );
    const written = await direct.query<{ note: string }>(`SELECT note FROM fence_probe WHERE site_id = $1`, [
      site.key,
    ]);
    expect(written.rows.map((r) => r.note)).toEqual(['current']);

    // healed: the node rejoins and every key is again owned exactly once
    cut.proxy.unhang();
    await pollUntil(settled, { timeoutMs: 20_000, what: 'ownership settled after the partition healed' });
  });

  it('a takeover waits for a fenced write in progress: the write commits under its epoch before the lease can move', async () => {
    const rows = await dbOwners();
    const [key, lease] = [...rows].find(([k, r]) => !k.startsWith('job:') && r.valid)!;
    const token = { siteId: key, nodeId: lease.owner!, epoch: lease.epoch };
    const takeover = await direct.withTransaction(async (tx) => {
      await fence(tx, token);
      // another node trying to take the lease now (its row expired or not) must wait for this transaction
      const attempt = await direct
        .withTransaction(async (other) => {
          await other.query(`SELECT set_config('lock_timeout', '300ms', true)`);
          await other.query(
            `UPDATE site_lease SET owner = 'intruder', epoch = epoch + 1 WHERE site_id = $1`,
            [key],
          );
          return 'taken';
        })
        .catch((err: { code?: string }) => err.code);
      await tx.query(`INSERT INTO fence_probe VALUES ($1, $2, $3, 'during')`, [
        key,
        token.nodeId,
        token.epoch,
      ]);
      return attempt;
    });
    expect(takeover).toBe('55P03'); // lock_not_available: blocked by the fenced write's FOR SHARE lock
    expect((await dbOwners()).get(key)).toMatchObject({ owner: token.nodeId, epoch: token.epoch });
  });

  it('a second process started with a live node id holds nothing and leaves the first one alone', async () => {
    const original = nodes.get('n4')!.manager;
    const before = original.owned().map((l) => `${l.key}@${l.epoch}`);
    expect(before.length).toBeGreaterThan(0);
    const twin = new LeaseManager({
      nodeId: 'n4',
      store: new PgLeaseStore(direct),
      keys: () => KEYS,
      ttlMs: TTL,
      renewEveryMs: RENEW,
      marginMs: MARGIN,
      clock: monotonicClock,
      timer: systemLeaseTimer,
    });
    twin.start();
    try {
      await pollUntil(() => twin.stats.renewFailures >= 2, {
        timeoutMs: 10_000,
        what: 'two refused rounds of the twin',
      });
      expect(twin.owned()).toEqual([]);
      expect(original.owned().map((l) => `${l.key}@${l.epoch}`)).toEqual(before);
    } finally {
      twin.halt();
    }
  });
});
