import { Subject, type Observable } from 'rxjs';
import { makeAlarm, makeAlarmTestConfig, makeCondition, T0 } from '../../../test/factories/alarm.factory';
import { ScopeService } from '../../auth/scope.service';
import { FencedError } from '../../cluster/fence';
import { ManualClock } from '../../common/clock';
import { JsonLogger } from '../../common/logger';
import { SiteOwnership, type SiteFenceToken, type SiteOwnershipChange } from '../../common/site-ownership';
import { ManualScheduler, settle } from '../../common/testing/manual.scheduler';
import { HazwatchMetrics } from '../../metrics/metrics.registry';
import { AlarmActionNotJournalledError } from '../alarm.errors';
import { AlarmService } from '../alarm.service';
import type { AlarmWrite } from '../alarm.store';
import { alarmId } from '../domain/alarm-id';
import { DEFAULT_ALARM_SETTINGS } from '../domain/alarm-settings';
import type { AlarmEventDto, AlarmRecord } from '../domain/alarm.types';
import type { ConditionChange } from '../domain/condition-change';
import type { JournalEntry } from '../domain/journal-chain';
import type { SiteJournalRow } from '../site-journal.repository';
import { InMemoryAlarmStore } from '../testing/in-memory-alarm.store';
import { operator } from '../testing/alarm-service.harness';
import type { AlarmClusterPort } from './alarm-cluster.port';

const SITE = 'bohai-chem';
const OTHER = 'wuqing-gas';

/** Site ownership driven by the test (what LeaseSiteOwnership does from the lease manager). */
class TestOwnership extends SiteOwnership {
  readonly clustered = true;
  readonly nodeId = 'n1';
  private readonly held = new Map<string, number>();
  private readonly changes = new Subject<SiteOwnershipChange>();
  readonly ownership$: Observable<SiteOwnershipChange> = this.changes.asObservable();

  owns(siteId: string): boolean {
    return this.held.has(siteId);
  }
  epochOf(siteId: string): number | undefined {
    return this.held.get(siteId);
  }
  acquire(siteId: string, epoch: number): void {
    this.held.set(siteId, epoch);
    this.changes.next({ siteId, owned: true, epoch, reason: 'acquired' });
  }
  give(siteId: string, reason: 'handover' | 'lost' | 'fenced'): void {
    const epoch = this.held.get(siteId) ?? 0;
    this.held.delete(siteId);
    this.changes.next({ siteId, owned: false, epoch, reason });
  }
}

/** The fenced site journal in memory: global seqs, per-site chains, origin dedupe, a stale epoch refused. */
class TestSiteJournal {
  readonly rows: Array<JournalEntry & { epoch: number; origin: string }> = [];
  /** The epoch the "database" holds per site (a stale token is refused). */
  readonly current = new Map<string, number>();
  private seq = 100;

  async write(token: SiteFenceToken, batch: readonly AlarmWrite[]): Promise<SiteJournalRow[]> {
    await Promise.resolve();
    if (this.current.get(token.siteId) !== token.epoch) throw new FencedError(token);
    return batch.map((w) => {
      const known = this.rows.find((r) => r.origin === w.entry.hash);
      if (known) return { origin: w.entry, row: known, duplicate: true };
      this.seq += 1;
      const row = {
        ...w.entry,
        seq: this.seq,
        snapshot: { ...w.entry.snapshot, seq: this.seq },
        epoch: token.epoch,
        origin: w.entry.hash,
      };
      this.rows.push(row);
      return { origin: w.entry, row, duplicate: false };
    });
  }
}

type Setup = {
  service: AlarmService;
  ownership: TestOwnership;
  journal: TestSiteJournal;
  db: Map<string, AlarmRecord[]>;
  rules: Array<{ op: 'seed' | 'forget'; siteId: string; changes?: readonly ConditionChange[] }>;
  conditions: Subject<ConditionChange>;
  events: AlarmEventDto[];
  scheduler: ManualScheduler;
  metrics: HazwatchMetrics;
  holdLoad(): () => void;
};

async function setup(opts: { shutdownDrainMs?: number } = {}): Promise<Setup> {
  const clock = new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const ownership = new TestOwnership();
  const journal = new TestSiteJournal();
  const db = new Map<string, AlarmRecord[]>();
  const rules: Setup['rules'] = [];
  let gate: Promise<void> | undefined;
  const cluster: AlarmClusterPort = {
    ownership,
    siteJournal: journal,
    loadSite: async (siteId) => {
      if (gate) await gate;
      return db.get(siteId) ?? [];
    },
    rules: {
      seedSite: (siteId, changes) => rules.push({ op: 'seed', siteId, changes }),
      forgetSite: (siteId) => rules.push({ op: 'forget', siteId }),
    },
  };
  const conditions = new Subject<ConditionChange>();
  const metrics = new HazwatchMetrics(false);
  const config = makeAlarmTestConfig();
  const service = new AlarmService(
    new InMemoryAlarmStore(),
    clock,
    conditions,
    DEFAULT_ALARM_SETTINGS,
    config,
    new ScopeService(config),
    metrics,
    scheduler,
    {
      writeQueue: { maxBatch: 100, retryInitialMs: 100, retryMaxMs: 1_000, warnAbove: 10_000 },
      actionCommitWaitMs: 1_000,
      shutdownDrainMs: opts.shutdownDrainMs ?? 0,
      siteReleaseWaitMs: 500,
    },
    undefined,
    undefined,
    undefined,
    cluster,
  );
  const events: AlarmEventDto[] = [];
  service.events$.subscribe((e) => events.push(e));
  service.start();
  await service.whenReady();
  return {
    service,
    ownership,
    journal,
    db,
    rules,
    conditions,
    events,
    scheduler,
    metrics,
    holdLoad: () => {
      let open!: () => void;
      gate = new Promise<void>((r) => (open = r));
      return () => {
        gate = undefined;
        open();
      };
    },
  };
}

const take = async (s: Setup, siteId: string, epoch: number): Promise<void> => {
  s.journal.current.set(siteId, epoch);
  s.ownership.acquire(siteId, epoch);
  await s.service.clusterSettled();
  await settle();
};

describe('AlarmService on a cluster node: alarms follow site ownership', () => {
  let s: Setup;
  beforeAll(() => JsonLogger.setLevel('error'));
  afterEach(async () => {
    await s?.service.stop();
  });

  it('leaves a site it does not own to its owner, and journals an owned site’s events under its epoch before announcing them', async () => {
    s = await setup();
    s.conditions.next(makeCondition({ siteId: OTHER, sourceId: 'wq-src' }));
    await settle();
    expect(s.journal.rows).toHaveLength(0);
    expect(s.events).toHaveLength(0);

    await take(s, SITE, 7);
    s.conditions.next(makeCondition());
    // nothing is announced before the journal has it
    expect(s.events).toHaveLength(0);
    await settle();
    expect(s.journal.rows.map((r) => [r.event, r.epoch, r.seq])).toEqual([['raised', 7, 101]]);
    expect(s.events.map((e) => [e.event, e.seq, (e as { journalled?: boolean }).journalled])).toEqual([
      ['raised', 101, true],
    ]);
    // the alarm list shows the global seq, journalled
    expect(s.service.record(alarmId(makeCondition()))?.seq).toBe(101);
    expect(s.service.clusterOwnedSites()).toEqual([SITE]);
  });

  it('restores the site’s alarms from the journal before its conditions apply: no second raise, an ack holds, the clear is journalled', async () => {
    s = await setup();
    const id = alarmId(makeCondition());
    s.db.set(SITE, [makeAlarm({ id, state: 'acknowledged', acked: true, seq: 55 })]);
    const open = s.holdLoad();
    s.journal.current.set(SITE, 3);
    s.ownership.acquire(SITE, 3);
    // readings of the site reach the rule engine while the state loads: buffered, not applied, not dropped
    s.conditions.next(makeCondition({ value: 3.1, ts: T0 + 1 }));
    s.conditions.next(makeCondition({ active: false, value: 0.5, ts: T0 + 2 }));
    await settle();
    expect(s.journal.rows).toHaveLength(0);
    open();
    await s.service.clusterSettled();
    await settle();
    // the rule engine restarted the site from the active alarm, then the buffered changes in order
    const seed = s.rules.find((r) => r.op === 'seed' && r.siteId === SITE);
    expect(seed?.changes?.map((c) => c.active)).toEqual([true, true, false]);
    // still-active condition: no second raise; then the clear continues the restored acknowledged alarm
    expect(s.journal.rows.map((r) => r.event)).toEqual(['cleared']);
    expect(s.journal.rows[0]?.fromState).toBe('acknowledged');
    expect(s.events.filter((e) => e.event === 'raised')).toHaveLength(0);
  });

  it('drops a site handed over: its conditions, timers and state stop here, the rule engine forgets it', async () => {
    s = await setup();
    await take(s, SITE, 1);
    s.conditions.next(makeCondition());
    await settle();
    expect(s.journal.rows).toHaveLength(1);
    s.ownership.give(SITE, 'handover');
    s.journal.current.set(SITE, 2); // the next owner took it
    await s.scheduler.advance(1_000);
    await s.service.clusterSettled();
    expect(s.service.record(alarmId(makeCondition()))).toBeUndefined();
    expect(s.rules.some((r) => r.op === 'forget' && r.siteId === SITE)).toBe(true);
    s.conditions.next(makeCondition({ active: false, ts: T0 + 5 }));
    await s.scheduler.advance(10 * 60_000);
    expect(s.journal.rows).toHaveLength(1);
    expect(s.service.clusterOwnedSites()).toEqual([]);
  });

  it('refuses nothing silently: a fenced write is not retried, not announced, counted, and the site is dropped here', async () => {
    s = await setup();
    await take(s, SITE, 4);
    s.journal.current.set(SITE, 5); // another node took the site; this node has not noticed yet
    s.conditions.next(makeCondition());
    await s.scheduler.advance(5_000);
    expect(s.journal.rows).toHaveLength(0);
    expect(s.events).toHaveLength(0);
    const refused = await s.metrics.clusterAlarmEventsRefused.get();
    expect(refused.values.find((v) => v.labels.reason === 'fenced')?.value).toBe(1);
    await s.service.clusterSettled();
    expect(s.service.clusterOwnedSites()).toEqual([]);
    expect(s.service.storageDegraded()).toBe(false);
  });

  it('fails an operator action whose event the fence refused (an acknowledgement is never invented)', async () => {
    s = await setup();
    await take(s, SITE, 1);
    s.conditions.next(makeCondition());
    await settle();
    s.journal.current.set(SITE, 2);
    const ack = s.service.ack(alarmId(makeCondition()), operator, 'seen');
    await expect(ack).rejects.toBeInstanceOf(AlarmActionNotJournalledError);
    await expect(ack).rejects.toMatchObject({ refused: true });
    expect(s.journal.rows.map((r) => r.event)).toEqual(['raised']);
  });

  it('journals, before it stops, what a take-over still loading buffered (readings already acknowledged are not lost)', async () => {
    s = await setup({ shutdownDrainMs: 5_000 });
    const open = s.holdLoad();
    s.journal.current.set(SITE, 2);
    s.ownership.acquire(SITE, 2);
    s.conditions.next(makeCondition());
    await settle();
    const stopped = s.service.stop();
    await settle();
    expect(s.journal.rows).toHaveLength(0);
    open();
    await stopped;
    expect(s.journal.rows.map((r) => [r.event, r.epoch])).toEqual([['raised', 2]]);
  });

  it('takes a site again after losing it: restored afresh, continuing under the new epoch', async () => {
    s = await setup();
    await take(s, SITE, 1);
    s.conditions.next(makeCondition());
    await settle();
    s.ownership.give(SITE, 'lost');
    await s.service.clusterSettled();
    // meanwhile the other owner acknowledged it (the database has the record)
    const id = alarmId(makeCondition());
    s.db.set(SITE, [makeAlarm({ id, state: 'acknowledged', acked: true, seq: 150 })]);
    await take(s, SITE, 3);
    expect(s.service.record(id)?.state).toBe('acknowledged');
    s.conditions.next(makeCondition({ active: false, ts: T0 + 9 }));
    await settle();
    expect(s.journal.rows.map((r) => [r.event, r.epoch])).toEqual([
      ['raised', 1],
      ['cleared', 3],
    ]);
  });
});
