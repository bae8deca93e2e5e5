import { Client } from 'pg';
import { JsonLogger } from '../../src/common/logger';
import { FencedError } from '../../src/cluster/fence';
import { LeaseManager } from '../../src/cluster/lease-manager';
import { PgLeaseStore } from '../../src/cluster/lease.store';
import { LeaseSiteOwnership } from '../../src/cluster/site-ownership';
import { monotonicClock, systemLeaseTimer } from '../../src/cluster/system-timer';
import { AlarmRepository } from '../../src/alarms/alarm.repository';
import type { AlarmWrite } from '../../src/alarms/alarm.store';
import { JOURNAL_NOTIFY_CHANNEL, JournalTail } from '../../src/alarms/core/journal-tail';
import { GENESIS_HASH } from '../../src/alarms/domain/journal-chain';
import { JournalVerifier } from '../../src/alarms/domain/journal-verifier';
import { SiteJournalRepository } from '../../src/alarms/site-journal.repository';
import { Database } from '../../src/storage/database.service';
import { makeAlarm, raisedEntry } from '../factories/alarm.factory';
import { pollUntil } from '../setup/poll-until';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
} from '../setup/test-db';

const suite = describeWithDb('cluster-journal.int-spec');

/** Events of one writer, sealed on its local chain (as its write-ahead log holds them). */
function localEvents(siteId: string, count: number, startSeq = 1): AlarmWrite[] {
  let prev = GENESIS_HASH;
  return Array.from({ length: count }, (_, i) => {
    const seq = startSeq + i;
    const alarm = makeAlarm({ siteId, seq, sourceId: `${siteId}-src-${seq}` });
    const entry = raisedEntry(alarm, seq, prev);
    prev = entry.hash;
    return { entry, alarm };
  });
}

/** The events as their writer sealed them (origin), from what the journal returned. */
function localEventsFrom(rows: readonly { origin: AlarmWrite['entry'] }[]): AlarmWrite[] {
  return rows.map((r) => ({
    entry: r.origin,
    alarm: makeAlarm({ siteId: r.origin.siteId, seq: r.origin.seq }),
  }));
}

/**
 * The journal for several writers (docs/adr/0016-cluster.md): a single node's global chain, then cluster nodes writing
 * per-site chains under their lease epochs, a stale epoch refused, a replay deduplicated, the tail in seq order.
 */
suite('cluster journal on PostgreSQL', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let db: Database;

  const lease = (site: string, owner: string, epoch: number): Promise<unknown> =>
    db.query(
      `INSERT INTO site_lease (site_id, owner, epoch, acquired_at, renewed_at, expires_at)
       VALUES ($1, $2, $3, now(), now(), now() + interval '1 hour')
       ON CONFLICT (site_id) DO UPDATE SET owner = $2, epoch = $3, expires_at = now() + interval '1 hour'`,
      [site, owner, epoch],
    );
  const verifyAll = async (): Promise<JournalVerifier> => {
    const v = new JournalVerifier();
    const rows = await new AlarmRepository(db).journal({ limit: 10_000 });
    for (const r of rows) expect(v.push(r)).toBeNull();
    return v;
  };

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'cljournal');
    await prepareTestDatabase(scratch.url);
    db = await Database.open({ url: scratch.url, migrate: false, probeIntervalMs: 0 });
  });

  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('continues a single node’s global chain with per-site chains whose rows carry epoch and node', async () => {
    await new AlarmRepository(db).persist(localEvents('s-legacy', 3));
    await lease('s-a', 'node-a', 1);
    await lease('s-b', 'node-b', 1);
    const sites = new SiteJournalRepository(db);
    const [a, b] = await Promise.all([
      sites.write({ siteId: 's-a', nodeId: 'node-a', epoch: 1 }, localEvents('s-a', 4)),
      sites.write({ siteId: 's-b', nodeId: 'node-b', epoch: 1 }, localEvents('s-b', 4)),
    ]);
    const seqs = [...a, ...b].map((r) => r.row.seq);
    expect(new Set(seqs).size).toBe(8);
    expect(Math.min(...seqs)).toBeGreaterThan(3);
    expect(a.map((r) => r.row.site?.siteSeq)).toEqual([1, 2, 3, 4]);
    expect(a.every((r) => r.row.site?.nodeId === 'node-a' && r.row.site.epoch === 1)).toBe(true);
    // the snapshot (what clients see as the event's seq) carries the global seq
    expect(a.every((r) => r.row.snapshot.seq === r.row.seq)).toBe(true);
    const v = await verifyAll();
    expect(v.rowsChecked).toBe(11);
    expect([...v.siteHeads.keys()].sort()).toEqual(['s-a', 's-b']);
    // the alarm table holds the global seq of the alarm's last event
    const stored = await db.query<{ seq: string }>(`SELECT seq FROM alarm WHERE id = $1`, [
      a[3]!.row.alarmId,
    ]);
    expect(Number(stored.rows[0]!.seq)).toBe(a[3]!.row.seq);
  });

  it('refuses a stale epoch’s write (nothing written); the next owner journals the same events once', async () => {
    const events = localEvents('s-a', 2, 100);
    await lease('s-a', 'node-b', 2); // node-b took s-a
    const before = await db.query<{ n: string }>(`SELECT count(*) AS n FROM alarm_journal`);
    const sites = new SiteJournalRepository(db);
    await expect(sites.write({ siteId: 's-a', nodeId: 'node-a', epoch: 1 }, events)).rejects.toBeInstanceOf(
      FencedError,
    );
    const after = await db.query<{ n: string }>(`SELECT count(*) AS n FROM alarm_journal`);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    // the events stayed with the old owner (its write-ahead log); the next owner replays them
    const first = await sites.write({ siteId: 's-a', nodeId: 'node-b', epoch: 2 }, events);
    expect(first.map((r) => [r.duplicate, r.row.site?.siteSeq, r.row.site?.epoch])).toEqual([
      [false, 5, 2],
      [false, 6, 2],
    ]);
    const again = await sites.write({ siteId: 's-a', nodeId: 'node-b', epoch: 2 }, events);
    expect(again.map((r) => [r.duplicate, r.row.seq])).toEqual(first.map((r) => [true, r.row.seq]));
    await verifyAll();
  });

  it('two nodes with real leases: the killed owner’s late write is refused, the next owner continues the chain', async () => {
    const node = (id: string): { m: LeaseManager; o: LeaseSiteOwnership } => {
      const m = new LeaseManager({
        nodeId: id,
        store: new PgLeaseStore(db),
        keys: () => ['s-take'],
        ttlMs: 3_000,
        renewEveryMs: 500,
        marginMs: 600,
        clock: monotonicClock,
        timer: systemLeaseTimer,
      });
      return { m, o: new LeaseSiteOwnership(m) };
    };
    const a = node('node-a');
    a.m.start();
    await pollUntil(() => a.o.owns('s-take'), { timeoutMs: 10_000, what: 'node-a owns s-take' });
    const tokenA = a.o.tokenFor('s-take')!;
    const sites = new SiteJournalRepository(db);
    const raisedByA = await sites.write(tokenA, localEvents('s-take', 2, 300));
    const b = node('node-b');
    b.m.start();
    try {
      a.m.halt(); // killed: no release, its lease expires in the database
      await pollUntil(() => b.o.owns('s-take'), { timeoutMs: 15_000, what: 'node-b takes s-take' });
      const tokenB = b.o.tokenFor('s-take')!;
      expect(tokenB.epoch).toBeGreaterThan(tokenA.epoch);
      // node-a, paused rather than dead, wakes up and writes what was in its write-ahead log: refused
      const unjournalled = localEvents('s-take', 1, 302);
      await expect(sites.write(tokenA, unjournalled)).rejects.toBeInstanceOf(FencedError);
      // node-b replays node-a's write-ahead log: what was journalled already is recognised, the rest written once
      const replay = await sites.write(tokenB, [...localEventsFrom(raisedByA), ...unjournalled]);
      expect(replay.map((r) => [r.duplicate, r.row.site?.siteSeq, r.row.site?.nodeId])).toEqual([
        [true, 1, 'node-a'],
        [true, 2, 'node-a'],
        [false, 3, 'node-b'],
      ]);
      const rows = await new AlarmRepository(db).journal({ siteIds: ['s-take'], limit: 100 });
      expect(rows.map((r) => r.site?.siteSeq)).toEqual([1, 2, 3]);
      expect(new Set((await new AlarmRepository(db).journal({ limit: 10_000 })).map((r) => r.seq)).size).toBe(
        (await db.query<{ n: string }>(`SELECT count(*) AS n FROM alarm_journal`)).rows.map((r) =>
          Number(r.n),
        )[0],
      );
      await verifyAll();
    } finally {
      a.m.halt();
      b.m.halt();
    }
  });

  it('tails the journal in seq order up to the watermark, and notifies on every write', async () => {
    const listener = new Client({ connectionString: scratch.url });
    await listener.connect();
    const notified: string[] = [];
    listener.on('notification', (n) => {
      if (n.channel === JOURNAL_NOTIFY_CHANNEL && n.payload) notified.push(n.payload);
    });
    await listener.query(`LISTEN ${JOURNAL_NOTIFY_CHANNEL}`);
    try {
      const written = await new SiteJournalRepository(db).write(
        { siteId: 's-b', nodeId: 'node-b', epoch: 1 },
        localEvents('s-b', 3, 200),
      );
      const last = written[written.length - 1]!.row.seq;
      await pollUntil(() => notified.includes(String(last)), {
        timeoutMs: 5_000,
        what: 'journal notification',
      });

      const tail = new JournalTail(db);
      const all = await tail.readAfter(0, 1_000);
      const seqs = all.events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(all.watermark).toBe(last);
      expect(all.events[all.events.length - 1]).toMatchObject({ seq: last, siteId: 's-b', event: 'raised' });
      expect(all.events[0]).not.toHaveProperty('journalled');

      const page = await tail.readAfter(seqs[2]!, 2);
      expect(page.events.map((e) => e.seq)).toEqual(seqs.slice(3, 5));
      expect(page.watermark).toBe(seqs[4]);
      expect(await tail.readAfter(last, 10)).toEqual({ events: [], watermark: last });
    } finally {
      await listener.end();
    }
  });
});
