/**
 * The regulator feed projector in cluster mode on real PostgreSQL (docs/adr/0026-cluster-callouts-feeds.md): two
 * projectors on one database, both fed every alarm event; only the holder of the `job:feeds` lease projects. When the
 * lease moves while the old holder still believes it holds it, the old holder's projection is refused by the lease
 * fence (no duplicate on feed_message_event_seq_key, no error loop), and the new holder continues from the stored
 * cursor with the stored incidents: every event is published once, an Update/Cancel refers to the Alert stored before.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { Subject } from 'rxjs';
import { makeAlarmTestConfig } from '../factories/alarm.factory';
import type { AlarmEventDto } from '../../src/alarms/domain/alarm.types';
import { ManualClock } from '../../src/common/clock';
import { JobGates } from '../../src/common/job-gate';
import { JsonLogger } from '../../src/common/logger';
import { ManualScheduler, settle } from '../../src/common/testing/manual.scheduler';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { FeedMessageRepository } from '../../src/regulator/feed-message.repository';
import { FEED_LEASE_CHECK_MS, FeedProjector } from '../../src/regulator/feed-projector.service';
import { loadFeedSettings } from '../../src/regulator/feeds-settings.loader';
import type { FeedSql } from '../../src/regulator/regulator-sql';
import { makeFeedEvent } from '../../src/regulator/testing/feed-event.factory';
import type { TxClient } from '../../src/storage/database.service';
import { pollUntil } from '../setup/poll-until';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
} from '../setup/test-db';

const suite = describeWithDb('cluster-feeds.int-spec');

suite('regulator feed projection once in the cluster (two projectors, one database)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let pool: Pool;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'h_cluster_ops_feeds');
    await prepareTestDatabase(scratch.url);
    pool = new Pool({ connectionString: scratch.url, max: 6 });
  });
  afterAll(async () => {
    await pool?.end();
    await scratch?.drop();
  });

  const sql = (): FeedSql => ({
    query: (text, params) => pool.query(text, params as unknown[]),
    withTransaction: async <T>(fn: (tx: TxClient) => Promise<T>): Promise<T> => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const r = await fn(c);
        await c.query('COMMIT');
        return r;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    },
  });

  const moveLease = (owner: string, epoch: number) =>
    pool.query(
      `INSERT INTO site_lease (site_id, owner, epoch, acquired_at, renewed_at, expires_at)
       VALUES ('job:feeds', $1, $2, now(), now(), now() + interval '1 hour')
       ON CONFLICT (site_id) DO UPDATE SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch,
         acquired_at = now(), renewed_at = now(), expires_at = EXCLUDED.expires_at`,
      [owner, epoch],
    );

  it('should publish every event once while the job lease moves between the two projectors', async () => {
    const app = makeAlarmTestConfig();
    const siteId = app.plant.sites[0]!.id;
    const { settings } = loadFeedSettings({
      ...app,
      configDir: mkdtempSync(join(tmpdir(), 'h-cluster-feeds-')),
    });
    const clock = new ManualClock(Date.now());
    const scheduler = new ManualScheduler(clock);
    const journal: AlarmEventDto[] = [];
    const events$ = new Subject<AlarmEventDto>();
    const source = {
      events$,
      whenReady: async () => undefined,
      currentSeq: () => 0,
      eventsSince: async (since: number) => journal.filter((e) => e.seq > since),
    };
    // every node is told every event (as today, before alarms follow site ownership)
    const emit = (e: AlarmEventDto): void => {
      journal.push(e);
      events$.next(e);
    };
    const node = (nodeId: string) => {
      const held = { epoch: undefined as number | undefined };
      const gates = new JobGates(true);
      gates.attach({
        nodeId,
        isOwned: (key) => key === 'job:feeds' && held.epoch !== undefined,
        epochOf: (key) => (key === 'job:feeds' ? held.epoch : undefined),
      });
      const metrics = new HazwatchMetrics(false);
      const projector = new FeedProjector(
        source,
        new FeedMessageRepository(sql()),
        app,
        settings,
        clock,
        metrics,
        scheduler,
        undefined,
        gates,
      );
      return { held, projector, metrics };
    };
    const rows = async () =>
      (
        await pool.query<{ event_seq: string; msg_type: string; incident: string }>(
          `SELECT event_seq, msg_type, incident FROM feed_message ORDER BY event_seq`,
        )
      ).rows.map((r) => [Number(r.event_seq), r.msg_type, r.incident] as const);
    const alarm = (n: number) => `al-${n.toString(16).padStart(20, '0')}`;
    const raised = (seq: number, n: number) =>
      makeFeedEvent({ id: alarm(n), siteId, seq, event: 'raised', at: new Date(clock.now()).toISOString() });
    const cleared = (seq: number, n: number) =>
      makeFeedEvent({
        id: alarm(n),
        siteId,
        seq,
        event: 'cleared',
        active: false,
        state: 'normal',
        at: new Date(clock.now()).toISOString(),
      });

    const a = node('node-a');
    const b = node('node-b');
    await moveLease('node-a', 1);
    a.held.epoch = 1;
    a.projector.start();
    b.projector.start();
    await scheduler.advance(FEED_LEASE_CHECK_MS);
    await pollUntil(() => a.projector.projecting, { what: 'node A projects' });
    expect(b.projector.projecting).toBe(false);

    emit(raised(1, 1));
    emit(raised(2, 2));
    await pollUntil(async () => (await rows()).length === 2, { what: 'two Alerts stored by node A' });

    // the lease moves to node B (epoch 2) while node A still believes it holds epoch 1 (a paused process)
    await moveLease('node-b', 2);
    emit(cleared(3, 1));
    await pollUntil(() => !a.projector.projecting, { what: 'node A refused and stops projecting' });
    expect((await rows()).map((r) => r[0])).toEqual([1, 2]);

    // node B learns it holds the lease: it reloads the cursor and the incidents and continues from seq 3
    b.held.epoch = 2;
    a.held.epoch = undefined;
    await scheduler.advance(FEED_LEASE_CHECK_MS);
    await pollUntil(async () => (await rows()).length === 3, { what: 'node B publishes the replayed event' });
    emit(cleared(4, 2));
    await pollUntil(async () => (await rows()).length === 4, { what: 'node B publishes the live event' });
    await settle();
    const stored = await rows();
    expect(stored.map((r) => r[0])).toEqual([1, 2, 3, 4]);
    expect(stored.map((r) => r[1])).toEqual(['Alert', 'Alert', 'Cancel', 'Cancel']);
    // the Cancels refer to the incidents node A opened
    expect(stored[2]![2]).toBe(stored[0]![2]);
    expect(stored[3]![2]).toBe(stored[1]![2]);
    // no projection error on either node (a duplicate on feed_message_event_seq_key would count one and retry forever)
    const errors = async (m: HazwatchMetrics) =>
      (await m.feedProjectionErrors.get()).values.reduce((s, v) => s + v.value, 0);
    expect(await errors(a.metrics)).toBe(0);
    expect(await errors(b.metrics)).toBe(0);
    const cursor = await pool.query<{ last_seq: string }>(`SELECT last_seq FROM feed_cursor`);
    expect(cursor.rows.map((r) => Number(r.last_seq))).toEqual([4]);
    a.projector.onModuleDestroy();
    b.projector.onModuleDestroy();
  });
});
