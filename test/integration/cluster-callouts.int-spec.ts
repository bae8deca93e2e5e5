/**
 * Call-outs in cluster mode on real PostgreSQL (docs/adr/0026-cluster-callouts-feeds.md): two nodes' CalloutServices
 * with a fake voice port share one database; the owner of the site loses its lease in the middle of a call-out (the
 * lease row moves to the other node, as a takeover after a pause would), its late step write is refused by the
 * database and it dials nobody again; the new owner resumes from the last committed step exactly once.
 */
import { Pool } from 'pg';
import { concat, defer, from, Subject, type Observable } from 'rxjs';
import { makeAlarmTestConfig, makeCondition } from '../factories/alarm.factory';
import { AlarmService } from '../../src/alarms/alarm.service';
import { DEFAULT_ALARM_SETTINGS } from '../../src/alarms/domain/alarm-settings';
import type { ConditionChange } from '../../src/alarms/domain/condition-change';
import { InMemoryAlarmStore } from '../../src/alarms/testing/in-memory-alarm.store';
import { ScopeService } from '../../src/auth/scope.service';
import { FencedError } from '../../src/cluster/fence';
import { ManualClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import { SiteOwnership, type SiteOwnershipChange } from '../../src/common/site-ownership';
import { ManualScheduler, settle } from '../../src/common/testing/manual.scheduler';
import { validateInto } from '../../src/config/config.loader';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { CalloutRepository } from '../../src/notifications/callout.repository';
import { CalloutService } from '../../src/notifications/callout.service';
import { toCalloutsConfig } from '../../src/notifications/callouts.loader';
import { CalloutsFileSchema } from '../../src/notifications/callouts.schema';
import { FakeVoiceProvider } from '../../src/notifications/voice/fake-voice.provider';
import { pollUntil } from '../setup/poll-until';
import { describeWithDb, prepareTestDatabase, TEST_DATABASE_URL, uniqueId } from '../setup/test-db';

const describeDb = describeWithDb('cluster-callouts.int-spec.ts');

/** Ownership as the test says it is (the lease rows are moved by the test itself). */
class TestOwnership extends SiteOwnership {
  readonly clustered = true;
  private readonly epochs = new Map<string, number>();
  private readonly changes = new Subject<SiteOwnershipChange>();
  readonly ownership$: Observable<SiteOwnershipChange> = defer(() =>
    concat(
      from(
        [...this.epochs].map(([siteId, epoch]): SiteOwnershipChange => ({
          siteId,
          epoch,
          owned: true,
          reason: 'current',
        })),
      ),
      this.changes,
    ),
  );
  constructor(readonly nodeId: string) {
    super();
  }
  owns(siteId: string): boolean {
    return this.epochs.has(siteId);
  }
  epochOf(siteId: string): number | undefined {
    return this.epochs.get(siteId);
  }
  acquire(siteId: string, epoch: number): void {
    this.epochs.set(siteId, epoch);
    this.changes.next({ siteId, epoch, owned: true, reason: 'acquired' });
  }
}

describeDb('call-outs follow the site lease on a shared database', () => {
  let pool: Pool;
  let repo: CalloutRepository;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(TEST_DATABASE_URL as string);
    pool = new Pool({ connectionString: TEST_DATABASE_URL });
    repo = new CalloutRepository(pool);
  });
  afterAll(async () => {
    await pool?.end();
  });

  const policy = (siteId: string) =>
    toCalloutsConfig(
      validateInto(
        CalloutsFileSchema,
        {
          sites: [
            {
              siteId,
              controlRoom: { name: 'room', number: 'sip:8001@pbx' },
              responsible: { operations: [{ name: '王强', number: '+8613800000003' }] },
            },
          ],
        },
        'callouts.yaml',
      ),
      makeAlarmTestConfig({ binhai: siteId }).plant,
      'callouts.yaml',
      true,
    );

  const lease = (siteId: string, owner: string, epoch: number) =>
    pool.query(
      `INSERT INTO site_lease (site_id, owner, epoch, acquired_at, renewed_at, expires_at)
       VALUES ($1, $2, $3, now(), now(), now() + interval '1 hour')
       ON CONFLICT (site_id) DO UPDATE SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch,
         acquired_at = now(), renewed_at = now(), expires_at = EXCLUDED.expires_at`,
      [siteId, owner, epoch],
    );

  it('should refuse the old owner’s late step write and resume on the new owner from the last committed step once', async () => {
    const clock = new ManualClock(Date.now());
    const alarmStore = new InMemoryAlarmStore();
    const siteId = uniqueId('cl');
    const ruleId = uniqueId('rule');
    const nodeA = uniqueId('node-a');
    const nodeB = uniqueId('node-b');
    const boot = async (ownership: TestOwnership) => {
      const scheduler = new ManualScheduler(clock);
      const app = makeAlarmTestConfig({ binhai: siteId });
      const metrics = new HazwatchMetrics(false);
      const conditions = new Subject<ConditionChange>();
      const alarms = new AlarmService(
        alarmStore,
        clock,
        conditions,
        DEFAULT_ALARM_SETTINGS,
        app,
        new ScopeService(app),
        metrics,
        scheduler,
        { actionCommitWaitMs: 0, shutdownDrainMs: 0 },
      );
      alarms.start();
      await alarms.whenReady();
      const voice = new FakeVoiceProvider(
        { callMs: 30_000, defaultOutcome: 'ANSWERED_NO_ACK', byNumber: new Map() },
        clock,
        scheduler,
      );
      const callouts = new CalloutService(
        alarms,
        policy(siteId),
        repo,
        voice,
        clock,
        app,
        metrics,
        scheduler,
        undefined,
        ownership,
      );
      callouts.onModuleInit();
      await callouts.whenRecovered();
      await callouts.whenSitesSettled();
      return {
        alarms,
        conditions,
        voice,
        callouts,
        scheduler,
        stop: async () => (await callouts.onModuleDestroy(), await alarms.stop()),
      };
    };
    const attempts = async () => {
      const [c] = await repo.listCallouts({ siteId, limit: 5 });
      return c;
    };

    // node A owns the site (epoch 1) and starts the call-out: the control room is ringing
    await lease(siteId, nodeA, 1);
    const ownA = new TestOwnership(nodeA);
    ownA.acquire(siteId, 1);
    const a = await boot(ownA);
    a.conditions.next(makeCondition({ ruleId, siteId, priority: 'critical', ts: clock.now() }));
    await settle();
    await pollUntil(() => a.voice.placed.length > 0, { what: 'node A calls the control room' });
    await pollUntil(async () => (await attempts())?.attempts.length === 1, { what: 'the attempt row' });

    // the lease moves to node B (epoch 2) while A still believes it owns the site (a paused process)
    await lease(siteId, nodeB, 2);
    // a direct write with A's token is refused by the database, nothing written
    const before = await attempts();
    await expect(
      repo.saveCallout(
        { ...(await repo.activeCallouts(siteId))[0]!, step: 7 },
        { siteId, nodeId: nodeA, epoch: 1 },
      ),
    ).rejects.toBeInstanceOf(FencedError);
    expect((await attempts())?.step).toBe(before?.step);

    // A's call ends: the end of the attempt and the next state are A's late step writes, both refused
    await a.scheduler.advance(30_000);
    await pollUntil(() => a.callouts.active().length === 0, { what: 'node A drops the site’s call-out' });
    const afterA = await attempts();
    expect(afterA?.status).toBe('active');
    expect(afterA?.attempts.map((x) => x.outcome)).toEqual([undefined]);
    // A never dials again, whatever its timers say
    await a.scheduler.advance(10 * 60_000);
    expect(a.voice.placed.map((p) => p.number)).toEqual(['sip:8001@pbx']);

    // node B takes the site: told twice (a duplicate event), it resumes once from the last committed step
    const ownB = new TestOwnership(nodeB);
    ownB.acquire(siteId, 2);
    const b = await boot(ownB);
    ownB.acquire(siteId, 2);
    await b.callouts.whenSitesSettled();
    expect(b.callouts.active()).toHaveLength(1);
    const interrupted = await pollUntil(
      async () => (await attempts())?.attempts.find((x) => x.outcome !== undefined),
      { what: 'the interrupted attempt closed by node B' },
    );
    expect(interrupted?.outcome).toBe('FAILED');
    expect(interrupted?.detail).toContain('another node');
    await b.scheduler.advance(3 * 60_000);
    await pollUntil(() => b.voice.placed.length > 0, { what: 'node B calls the next step' });
    await settle();
    expect(b.voice.placed.map((p) => p.number)).toEqual(['+8613800000003']);
    const rows = await pollUntil(
      async () => {
        const c = await attempts();
        return c && c.attempts.length === 2 ? c : undefined;
      },
      { what: 'the next attempt recorded by node B' },
    );
    expect(rows.attempts.map((x) => [x.number, x.step])).toEqual([
      ['sip:8001@pbx', 1],
      ['+8613800000003', 2],
    ]);
    expect(a.voice.placed).toHaveLength(1);
    b.scheduler.advance(30_000).catch(() => undefined); // let B's call end before it stops
    await pollUntil(async () => (await attempts())?.attempts[1]?.outcome !== undefined, {
      what: 'node B records the end of its call',
    });
    await a.stop();
    await b.stop();
    await pool.query(`DELETE FROM site_lease WHERE site_id = $1`, [siteId]);
  });
});
