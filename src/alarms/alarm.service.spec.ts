import { Subject } from 'rxjs';
import { makeAlarmTestConfig, makeCondition, makePrincipal, T0 } from '../../test/factories/alarm.factory';
import { ScopeService } from '../auth/scope.service';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { AlarmForbiddenError, AlarmNotFoundError, AlarmsNotReadyError, ReplayTooLargeError } from './alarm.errors';
import { AlarmService, type AlarmServiceOptions, type AlarmSystemStatus } from './alarm.service';
import { alarmId } from './domain/alarm-id';
import { DEFAULT_ALARM_SETTINGS, type AlarmSettings } from './domain/alarm-settings';
import { AlarmTransitionError } from './domain/alarm-transition.error';
import type { AlarmEventDto } from './domain/alarm.types';
import type { ConditionChange } from './domain/condition-change';
import { ChainVerifier } from './domain/journal-chain';
import type { PendingSpool } from './alarm-pending.spool';
import type { AlarmWrite } from './alarm.store';
import { InMemoryAlarmStore } from './testing/in-memory-alarm.store';
import { ManualScheduler, settle } from './testing/manual.scheduler';

const MIN = 60_000;
const operator = makePrincipal('operator', 'tianjin/binhai', 'control room bohai');
const supervisor = makePrincipal('supervisor', 'tianjin/binhai', 'shift supervisor');
const regulator = makePrincipal('regulator', 'tianjin/binhai', 'Binhai ESB');
const wuqingOperator = makePrincipal('operator', 'tianjin/wuqing', 'control room wuqing');
const admin = makePrincipal('admin', '', 'admin');

const GAS = makeCondition();
const GAS_ID = alarmId(GAS);

type Harness = {
  service: AlarmService;
  store: InMemoryAlarmStore;
  clock: ManualClock;
  scheduler: ManualScheduler;
  conditions: Subject<ConditionChange>;
  events: AlarmEventDto[];
  statuses: AlarmSystemStatus[];
  metrics: HazwatchMetrics;
};

async function harness(
  opts: {
    settings?: Partial<AlarmSettings>;
    store?: InMemoryAlarmStore;
    clock?: ManualClock;
    options?: Partial<AlarmServiceOptions>;
    wait?: boolean;
    spool?: PendingSpool;
    seed?: (active: ConditionChange[]) => void;
  } = {},
): Promise<Harness> {
  const clock = opts.clock ?? new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const store = opts.store ?? new InMemoryAlarmStore();
  const conditions = new Subject<ConditionChange>();
  const metrics = new HazwatchMetrics(false);
  const config = makeAlarmTestConfig();
  const service = new AlarmService(
    store,
    clock,
    conditions,
    { ...DEFAULT_ALARM_SETTINGS, ...opts.settings },
    config,
    new ScopeService(config),
    metrics,
    scheduler,
    { writeQueue: { maxBatch: 100, retryInitialMs: 100, retryMaxMs: 1_000, warnAbove: 10_000 }, actionCommitWaitMs: 0, shutdownDrainMs: 0, ...opts.options },
    opts.spool,
    opts.seed,
  );
  const events: AlarmEventDto[] = [];
  const statuses: AlarmSystemStatus[] = [];
  service.events$.subscribe((e) => events.push(e));
  service.status$.subscribe((s) => statuses.push(s));
  service.start();
  if (opts.wait !== false) await service.whenReady();
  return { service, store, clock, scheduler, conditions, events, statuses, metrics };
}

const gauge = async (m: HazwatchMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
};

describe('AlarmService', () => {
  let h: Harness;
  beforeAll(() => JsonLogger.setLevel('error'));
  afterEach(async () => {
    await h?.service.stop();
  });

  describe('raising and clearing', () => {
    it('should raise an unacknowledged alarm, journal it and push it when a condition becomes active', async () => {
      h = await harness();
      h.conditions.next(GAS);
      expect(h.events).toHaveLength(1);
      expect(h.events[0]).toMatchObject({ id: GAS_ID, event: 'raised', state: 'unacknowledged', seq: 1, priority: 'high', level: 'orange', value: 2.4, limit: 2, raisedAt: new Date(T0).toISOString() });
      await settle();
      expect(h.store.rows.map((r) => [r.seq, r.event, r.alarmId])).toEqual([[1, 'raised', GAS_ID]]);
      expect(h.store.alarms.get(GAS_ID)?.state).toBe('unacknowledged');
      expect(await gauge(h.metrics, 'hazwatch_alarms_active', { priority: 'high' })).toBe(1);
      expect(await gauge(h.metrics, 'hazwatch_alarm_events_total')).toBe(1);
    });

    it('should not raise twice when the same condition is reported active again', async () => {
      h = await harness();
      h.conditions.next(GAS);
      h.conditions.next({ ...GAS, value: 3 });
      expect(h.events).toHaveLength(1);
      expect(h.service.currentSeq()).toBe(1);
    });

    it('should push an update when the priority of an active alarm rises', async () => {
      h = await harness();
      h.conditions.next(GAS);
      h.conditions.next({ ...GAS, priority: 'critical' });
      expect(h.events.map((e) => [e.event, e.priority, e.level])).toEqual([
        ['raised', 'high', 'orange'],
        ['updated', 'critical', 'red'],
      ]);
      expect(await gauge(h.metrics, 'hazwatch_alarms_active', { priority: 'high' })).toBe(0);
      expect(await gauge(h.metrics, 'hazwatch_alarms_active', { priority: 'critical' })).toBe(1);
    });

    it('should go to rtn_unacknowledged on clear before ack, then normal on ack', async () => {
      h = await harness();
      h.conditions.next(GAS);
      h.clock.advance(MIN);
      h.conditions.next({ ...GAS, active: false, value: 0.3, ts: T0 + MIN });
      expect(h.service.get(GAS_ID, operator)).toMatchObject({ state: 'rtn_unacknowledged', active: false, clearedAt: new Date(T0 + MIN).toISOString() });
      const s = await h.service.ack(GAS_ID, operator, 'checked on site');
      expect(s).toMatchObject({ state: 'normal', acked: true, ackedBy: 'control room bohai' });
      expect(h.events.map((e) => e.seq)).toEqual([1, 2, 3]);
      await settle();
      const ackRow = h.store.rows[2]!;
      expect(ackRow).toMatchObject({ event: 'acknowledged', actorRole: 'operator', comment: 'checked on site', fromState: 'rtn_unacknowledged', toState: 'normal' });
      expect(ackRow.actor).toContain('control room bohai');
      expect(ackRow.actor).toContain(operator.tokenId);
    });

    it('should ignore a clear for an alarm that was never raised', async () => {
      h = await harness();
      h.conditions.next({ ...GAS, active: false });
      expect(h.events).toHaveLength(0);
      expect(h.service.records()).toHaveLength(0);
    });

    it('should keep consuming conditions after one cannot be applied', async () => {
      h = await harness();
      h.conditions.next({ ...GAS, message: undefined as unknown as string });
      h.conditions.next(makeCondition({ deviceId: 'cl-gd-2' }));
      expect(h.events).toHaveLength(1);
      expect(h.events[0]?.deviceId).toBe('cl-gd-2');
    });

    it('should store a non-finite value as text so the journal stays hashable', async () => {
      h = await harness();
      h.conditions.next({ ...GAS, value: Number.NaN, message: 'bad\u0000value' });
      expect(h.events[0]).toMatchObject({ value: 'NaN', message: 'badvalue' });
    });
  });

  describe('operator actions', () => {
    it('should reject an illegal transition with a typed error and change nothing', async () => {
      h = await harness();
      h.conditions.next(GAS);
      await h.service.ack(GAS_ID, operator);
      const err = await h.service.ack(GAS_ID, operator).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AlarmTransitionError);
      expect((err as AlarmTransitionError).code).toBe('already_acknowledged');
      expect(h.service.currentSeq()).toBe(2);
    });

    it('should hide an alarm outside the principal jurisdiction as not found', async () => {
      h = await harness();
      h.conditions.next(GAS);
      expect(() => h.service.get(GAS_ID, wuqingOperator)).toThrow(AlarmNotFoundError);
      await expect(h.service.ack(GAS_ID, wuqingOperator)).rejects.toBeInstanceOf(AlarmNotFoundError);
      expect(h.service.list({}, wuqingOperator)).toEqual([]);
      expect(h.service.list({}, admin)).toHaveLength(1);
    });

    it('should refuse every state change to a regulator', async () => {
      h = await harness();
      h.conditions.next(GAS);
      await expect(h.service.ack(GAS_ID, regulator)).rejects.toBeInstanceOf(AlarmForbiddenError);
      await expect(h.service.shelve(GAS_ID, regulator, 10, 'x')).rejects.toBeInstanceOf(AlarmForbiddenError);
      expect(h.service.get(GAS_ID, regulator).state).toBe('unacknowledged');
    });

    it('should let only a supervisor take an alarm out of service and back', async () => {
      h = await harness();
      h.conditions.next(GAS);
      await expect(h.service.setOutOfService(GAS_ID, operator, 'calibration')).rejects.toBeInstanceOf(AlarmForbiddenError);
      expect((await h.service.setOutOfService(GAS_ID, supervisor, 'calibration')).state).toBe('out_of_service');
      // still evaluated and journalled underneath
      h.conditions.next({ ...GAS, active: false, ts: T0 + 1 });
      expect(h.events.at(-1)).toMatchObject({ event: 'cleared', state: 'out_of_service', active: false });
      expect((await h.service.returnToService(GAS_ID, supervisor)).state).toBe('normal');
    });

    it('should latch a configured alarm until it is acknowledged and reset by a supervisor', async () => {
      h = await harness({ settings: { latch: [{ condition: 'gas_l2' }] } });
      h.conditions.next(GAS);
      h.conditions.next({ ...GAS, active: false, ts: T0 + 1000 });
      expect(h.service.get(GAS_ID, operator).state).toBe('latched');
      await expect(h.service.reset(GAS_ID, operator)).rejects.toBeInstanceOf(AlarmForbiddenError);
      await expect(h.service.reset(GAS_ID, supervisor)).rejects.toMatchObject({ code: 'ack_required' });
      await h.service.ack(GAS_ID, operator);
      expect((await h.service.reset(GAS_ID, supervisor)).state).toBe('normal');
    });

    it('should refuse to let an operator shelve a critical alarm', async () => {
      h = await harness();
      h.conditions.next({ ...GAS, priority: 'critical' });
      await expect(h.service.shelve(GAS_ID, operator, 30, 'nuisance')).rejects.toMatchObject({ code: 'critical_shelve_forbidden', kind: 'forbidden' });
      expect((await h.service.shelve(GAS_ID, supervisor, 30, 'sensor swap')).state).toBe('shelved');
    });

    it('should wait for the journal commit before answering an action when the database is up', async () => {
      h = await harness({ options: { actionCommitWaitMs: 10_000 } });
      h.conditions.next(GAS);
      await settle();
      const before = h.store.rows.length;
      await h.service.ack(GAS_ID, operator);
      expect(h.store.rows.length).toBe(before + 1);
    });
  });

  describe('notes (journal-only records from other modules)', () => {
    it('should journal a note with who and text, keep the alarm state and continue seq and hash chain', async () => {
      h = await harness();
      h.conditions.next(GAS);
      const before = h.service.get(GAS_ID, operator);
      const e = await h.service.note(GAS_ID, operator, 'alarm.disposition', 'disposal record filed: valve packing replaced');
      expect(e).toMatchObject({ id: GAS_ID, event: 'note', seq: 2, state: before.state, acked: before.acked, active: true, comment: 'disposal record filed: valve packing replaced' });
      expect(e.actor).toContain('control room bohai');
      expect(h.events.map((x) => x.event)).toEqual(['raised', 'note']);
      expect(h.service.get(GAS_ID, operator)).toEqual({ ...before, seq: 2, journalled: expect.any(Boolean) });
      await settle();
      expect(h.store.rows.map((r) => [r.seq, r.event, r.fromState, r.toState, r.actorRole])).toEqual([
        [1, 'raised', 'normal', 'unacknowledged', 'system'],
        [2, 'note', 'unacknowledged', 'unacknowledged', 'operator'],
      ]);
      expect(await h.service.verifyJournal()).toEqual({ ok: true, rowsChecked: 2, lastSeq: 2 });
      expect((await h.metrics.journalVerifyOk.get()).values[0]?.value).toBe(1);
      expect((await h.metrics.journalVerifyTime.get()).values[0]?.value).toBe(h.clock.now() / 1000);
      // an ack after the note still works from the unchanged state
      expect((await h.service.ack(GAS_ID, operator)).state).toBe('acknowledged');
    });

    it('should refuse a note without the capability, outside the jurisdiction or without text', async () => {
      h = await harness();
      h.conditions.next(GAS);
      await expect(h.service.note(GAS_ID, regulator, 'alarm.disposition', 'x')).rejects.toBeInstanceOf(AlarmForbiddenError);
      await expect(h.service.note(GAS_ID, wuqingOperator, 'alarm.disposition', 'x')).rejects.toBeInstanceOf(AlarmNotFoundError);
      await expect(h.service.note(GAS_ID, operator, 'alarm.disposition', '  ')).rejects.toThrow('a note needs text');
      // a regulator holds the review capability
      await expect(h.service.note(GAS_ID, regulator, 'disposition.review', 'accepted')).resolves.toMatchObject({ event: 'note', actor: expect.stringContaining('Binhai ESB') });
      expect(h.service.currentSeq()).toBe(2);
    });

    it('should replay notes on resume like every alarm event', async () => {
      h = await harness();
      h.conditions.next(GAS);
      await h.service.note(GAS_ID, operator, 'alarm.disposition', 'filed');
      await settle();
      const replay = await h.service.eventsSince(0, regulator);
      expect(replay.map((e) => e.event)).toEqual(['raised', 'note']);
    });
  });

  describe('timers (virtual time)', () => {
    it('should unshelve automatically when the shelf time is up, and not before', async () => {
      h = await harness();
      h.conditions.next(GAS);
      await h.service.shelve(GAS_ID, operator, 30, 'detector being serviced');
      await h.scheduler.advance(30 * MIN - 1_000);
      expect(h.service.get(GAS_ID, operator).state).toBe('shelved');
      await h.scheduler.advance(1_000);
      expect(h.service.get(GAS_ID, operator).state).toBe('unacknowledged');
      expect(h.events.at(-1)).toMatchObject({ event: 'shelve_expired', state: 'unacknowledged' });
      expect(h.events.at(-1)?.actor).toBeUndefined();
    });

    it('should re-announce an acknowledged alarm still active after ReAlarmTime', async () => {
      h = await harness({ settings: { reAlarmMs: 10 * MIN } });
      h.conditions.next(GAS);
      await h.service.ack(GAS_ID, operator);
      await h.scheduler.advance(10 * MIN - 1_000);
      expect(h.service.get(GAS_ID, operator).state).toBe('acknowledged');
      await h.scheduler.advance(1_000);
      expect(h.events.at(-1)).toMatchObject({ event: 'realarm', state: 'unacknowledged', acked: false });
    });

    it('should flag a flood when more than 10 alarms are raised at one site within 10 minutes', async () => {
      h = await harness();
      for (let i = 0; i < 11; i++) {
        h.conditions.next(makeCondition({ ruleId: `r${i}`, ts: h.clock.now() }));
        h.clock.advance(10_000);
      }
      expect(h.service.floods(operator)).toEqual([{ siteId: 'bohai-chem', alarmsIn10Min: 11, flood: true }]);
      expect(h.statuses.at(-1)?.floods.map((f) => f.siteId)).toEqual(['bohai-chem']);
      expect(h.service.floods(wuqingOperator)).toEqual([]);
      await h.scheduler.advance(10 * MIN);
      expect(h.service.floods(operator)).toEqual([]);
      expect(h.statuses.at(-1)?.floods).toEqual([]);
    });
  });

  describe('design suppression', () => {
    const settings: Partial<AlarmSettings> = {
      suppression: [
        { id: 'device-offline', whileCondition: 'offline', scope: 'device' },
        { id: 'maintenance', whileAreaInMaintenance: true, scope: 'area', conditions: ['gas_l2'] },
      ],
    };
    const OFFLINE = makeCondition({ ruleId: 'offline', condition: 'offline', priority: 'medium', value: null, limit: null, message: 'offline' });

    it('should never annunciate an alarm raised while its device is offline, and show it when the device returns', async () => {
      h = await harness({ settings });
      h.conditions.next(OFFLINE);
      h.conditions.next(GAS);
      const gasEvents = () => h.events.filter((e) => e.id === GAS_ID).map((e) => [e.event, e.state]);
      expect(gasEvents()).toEqual([
        ['suppressed', 'suppressed'],
        ['raised', 'suppressed'],
      ]);
      h.conditions.next({ ...OFFLINE, active: false, ts: T0 + MIN });
      expect(gasEvents().at(-1)).toEqual(['unsuppressed', 'unacknowledged']);
    });

    it('should suppress an already active alarm when its device goes offline', async () => {
      h = await harness({ settings });
      h.conditions.next(GAS);
      h.conditions.next(OFFLINE);
      expect(h.service.get(GAS_ID, operator).state).toBe('suppressed');
      expect(h.service.get(alarmId(OFFLINE), operator).state).toBe('unacknowledged');
    });

    it('should suppress an area in maintenance and lift it afterwards', async () => {
      h = await harness({ settings });
      h.conditions.next(GAS);
      h.service.setAreaMaintenance('bohai-chem', 'cl-a1', true);
      expect(h.service.get(GAS_ID, operator)).toMatchObject({ state: 'suppressed', suppressedBy: ['maintenance'] });
      h.service.setAreaMaintenance('bohai-chem', 'cl-a1', false);
      expect(h.service.get(GAS_ID, operator).state).toBe('unacknowledged');
    });

    it('should apply maintenance areas from config at start', async () => {
      h = await harness({ settings: { ...settings, maintenanceAreas: ['bohai-chem/cl-a1'] } });
      h.conditions.next(GAS);
      expect(h.service.get(GAS_ID, operator).state).toBe('suppressed');
    });
  });

  describe('storage outage', () => {
    it('should keep every event in order while the database is down and write them when it returns', async () => {
      h = await harness();
      h.store.down = true;
      for (let i = 0; i < 30; i++) h.conditions.next(makeCondition({ ruleId: `r${i}`, ts: T0 + i }));
      await h.service.ack(alarmId(makeCondition({ ruleId: 'r3' })), operator, 'during outage');
      await settle();
      expect(h.service.storageDegraded()).toBe(true);
      expect(h.service.status().pendingWrites).toBe(31);
      expect(h.statuses.some((s) => s.storageDegraded)).toBe(true);
      expect(await gauge(h.metrics, 'hazwatch_alarms_pending_writes')).toBe(31);
      expect(h.events).toHaveLength(31); // live push does not wait for storage
      expect(h.store.rows).toHaveLength(0);

      await h.scheduler.advance(5_000); // still down: retried with backoff, nothing lost
      expect(h.service.status().pendingWrites).toBe(31);

      h.store.down = false;
      await h.scheduler.advance(2_000);
      expect(h.store.rows.map((r) => r.seq)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
      expect(h.service.storageDegraded()).toBe(false);
      expect(h.statuses.at(-1)?.storageDegraded).toBe(false);
      expect(await gauge(h.metrics, 'hazwatch_alarms_pending_writes')).toBe(0);
      const v = new ChainVerifier();
      for (const r of h.store.rows) expect(v.push(r)).toBeNull();
    });

    it('should not duplicate rows when a write committed but its reply was lost', async () => {
      h = await harness();
      const real = h.store.persist.bind(h.store);
      let lose = true;
      h.store.persist = async (batch) => {
        await real(batch);
        if (lose) {
          lose = false;
          throw new Error('Connection terminated unexpectedly');
        }
      };
      h.conditions.next(GAS);
      await h.scheduler.advance(1_000);
      h.conditions.next({ ...GAS, active: false, ts: T0 + 1 });
      await h.scheduler.advance(1_000);
      expect(h.store.rows.map((r) => r.seq)).toEqual([1, 2]);
      expect(h.service.storageDegraded()).toBe(false);
    });

    it('should buffer conditions in order until the state is loaded, then apply them', async () => {
      const store = new InMemoryAlarmStore();
      store.holdLoad();
      h = await harness({ store, wait: false });
      h.conditions.next(GAS);
      h.conditions.next({ ...GAS, active: false, ts: T0 + 1 });
      expect(() => h.service.list({}, operator)).toThrow(AlarmsNotReadyError);
      expect(h.events).toHaveLength(0);
      store.releaseLoad();
      await h.service.whenReady();
      expect(h.events.map((e) => e.event)).toEqual(['raised', 'cleared']);
    });

    it('should retry loading while the database is down at start', async () => {
      const store = new InMemoryAlarmStore();
      store.down = true;
      h = await harness({ store, wait: false });
      await h.scheduler.advance(2_000);
      expect(h.service.isReady).toBe(false);
      store.down = false;
      await h.scheduler.advance(15_000);
      expect(h.service.isReady).toBe(true);
    });
  });

  describe('shutdown while the database is down', () => {
    class MemorySpool implements PendingSpool {
      readonly location = 'memory://alarm-spool';
      saved: AlarmWrite[] | null = null;
      quarantined: string | null = null;
      save(writes: readonly AlarmWrite[]): void {
        this.saved = structuredClone([...writes]);
      }
      load(): AlarmWrite[] {
        return this.saved ?? [];
      }
      clear(): void {
        this.saved = null;
      }
      quarantine(reason: string): string {
        this.quarantined = reason;
        this.saved = null;
        return 'memory://rejected';
      }
    }

    it('should save unwritten events at shutdown and write them, chain intact, at the next start', async () => {
      const store = new InMemoryAlarmStore();
      const spool = new MemorySpool();
      h = await harness({ store, spool });
      h.conditions.next(GAS);
      await settle();
      store.down = true;
      await h.service.ack(GAS_ID, operator, 'acked while the database is down');
      h.conditions.next(makeCondition({ deviceId: 'cl-gd-2' }));
      await h.service.stop();
      expect(spool.saved?.map((w) => w.entry.seq)).toEqual([2, 3]);
      expect(store.rows.map((r) => r.seq)).toEqual([1]);

      store.down = false;
      h = await harness({ store, spool, clock: new ManualClock(T0 + MIN) });
      expect(h.service.get(GAS_ID, operator)).toMatchObject({ state: 'acknowledged', ackedBy: 'control room bohai' });
      expect(h.service.currentSeq()).toBe(3);
      await settle();
      expect(store.rows.map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(spool.saved).toBeNull();
      expect((await h.service.verifyJournal()).ok).toBe(true);
      // new events continue the chain
      h.conditions.next({ ...GAS, active: false, ts: T0 + MIN });
      await settle();
      expect((await h.service.verifyJournal()).rowsChecked).toBe(4);
    });

    it('should move aside a spool that does not continue the journal and apply nothing from it', async () => {
      const store = new InMemoryAlarmStore();
      const spool = new MemorySpool();
      h = await harness({ store, spool });
      h.conditions.next(GAS);
      await settle();
      store.down = true;
      await h.service.ack(GAS_ID, operator);
      await h.service.stop();
      // meanwhile another writer used the database (not supported: one writer per database)
      store.down = false;
      const other = await harness({ store });
      other.conditions.next(makeCondition({ deviceId: 'nh-gd-1' }));
      await settle();
      await other.service.stop();

      h = await harness({ store, spool });
      expect(spool.quarantined).toMatch(/do not continue the journal at seq 2/);
      expect(h.service.get(GAS_ID, operator).state).toBe('unacknowledged');
      expect(h.service.currentSeq()).toBe(2);
    });

    it('should drop a spool whose events are already in the journal', async () => {
      const store = new InMemoryAlarmStore();
      const spool = new MemorySpool();
      h = await harness({ store, spool });
      h.conditions.next(GAS);
      await settle();
      spool.save([{ entry: store.rows[0]!, alarm: store.alarms.get(GAS_ID)! }]);
      await h.service.stop();
      h = await harness({ store, spool });
      expect(spool.saved).toBeNull();
      expect(spool.quarantined).toBeNull();
      expect(h.service.currentSeq()).toBe(1);
    });
  });

  describe('restart', () => {
    it('should rebuild the same state with no duplicate raise and no lost ack', async () => {
      const store = new InMemoryAlarmStore();
      h = await harness({ store });
      const other = makeCondition({ deviceId: 'cl-gd-2' });
      h.conditions.next(GAS);
      h.conditions.next(other);
      await h.service.ack(GAS_ID, operator);
      await h.service.shelve(alarmId(other), operator, 60, 'nuisance');
      await settle();
      const before = h.service.records();
      const seq = h.service.currentSeq();
      await h.service.stop();

      h = await harness({ store, clock: new ManualClock(T0 + 5 * MIN) });
      expect(h.service.records()).toEqual(before);
      expect(h.service.currentSeq()).toBe(seq);
      // the rule engine re-reports the still active conditions after its own restart
      h.conditions.next(GAS);
      h.conditions.next(other);
      expect(h.events).toHaveLength(0);
      expect(h.service.get(GAS_ID, operator)).toMatchObject({ state: 'acknowledged', ackedBy: 'control room bohai' });
      // seq and chain continue
      h.conditions.next({ ...GAS, active: false, ts: T0 + 6 * MIN });
      expect(h.events[0]?.seq).toBe(seq + 1);
      await settle();
      expect(await h.service.verifyJournal()).toEqual({ ok: true, rowsChecked: seq + 1, lastSeq: seq + 1 });
    });
  });

  describe('rule engine seeding', () => {
    it('should hand the alarms active at start to the rule engine, so a condition ending after a restart clears', async () => {
      const store = new InMemoryAlarmStore();
      h = await harness({ store });
      const offline = makeCondition({ ruleId: 'offline:cl-gd-1', condition: 'offline', priority: 'medium', value: 'offline', limit: 'online', message: 'cl-gd-1 offline' });
      h.conditions.next(GAS);
      h.conditions.next(offline);
      h.conditions.next(makeCondition({ deviceId: 'cl-gd-2' }));
      h.conditions.next(makeCondition({ deviceId: 'cl-gd-2', active: false }));
      await settle();
      await h.service.stop();

      const seeded: ConditionChange[][] = [];
      h = await harness({ store, seed: (active) => seeded.push(active) });
      expect(seeded).toHaveLength(1);
      expect(seeded[0]!.map((c) => [c.ruleId, c.deviceId, c.condition, c.active, c.priority]).sort()).toEqual(
        [
          ['gas-limit', 'cl-gd-1', 'gas_l2', true, 'high'],
          ['offline:cl-gd-1', 'cl-gd-1', 'offline', true, 'medium'],
        ].sort(),
      );
      expect(seeded[0]!.find((c) => c.condition === 'offline')).toMatchObject({ ts: T0, value: 'offline', limit: 'online', sourceId: 'bhc-cl2', siteId: 'bohai-chem' });
    });
  });

  describe('resume and journal', () => {
    it('should replay every missed event in order, scoped, from memory', async () => {
      h = await harness();
      h.conditions.next(GAS);
      h.conditions.next(makeCondition({ siteId: 'wuqing-gas', sourceId: 'wq-lpg', deviceId: 'wq-gd-1' }));
      await h.service.ack(GAS_ID, operator);
      expect((await h.service.eventsSince(0, admin)).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect((await h.service.eventsSince(1, operator)).map((e) => e.seq)).toEqual([3]);
      expect((await h.service.eventsSince(0, wuqingOperator)).map((e) => e.seq)).toEqual([2]);
      expect(await h.service.eventsSince(3, admin)).toEqual([]);
    });

    it('should replay from the journal what memory no longer holds, without gaps or duplicates', async () => {
      h = await harness({ options: { recentEvents: 5 } });
      for (let i = 0; i < 20; i++) h.conditions.next(makeCondition({ ruleId: `r${i}`, ts: T0 + i }));
      await settle();
      // the database goes down: new events exist only in memory
      h.store.down = true;
      for (let i = 20; i < 25; i++) h.conditions.next(makeCondition({ ruleId: `r${i}`, ts: T0 + i }));
      h.store.down = false; // reads work again, the write retry is still pending
      const seqs = (await h.service.eventsSince(2, admin)).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 23 }, (_, i) => i + 3));
    });

    it('should refuse a resume beyond the replay limit rather than send a partial history', async () => {
      h = await harness({ options: { recentEvents: 2, maxReplay: 5 } });
      for (let i = 0; i < 10; i++) h.conditions.next(makeCondition({ ruleId: `r${i}` }));
      await settle();
      await expect(h.service.eventsSince(0, admin)).rejects.toBeInstanceOf(ReplayTooLargeError);
    });

    it('should report the first tampered journal row', async () => {
      h = await harness();
      for (let i = 0; i < 5; i++) h.conditions.next(makeCondition({ ruleId: `r${i}` }));
      await settle();
      expect((await h.service.verifyJournal(2)).ok).toBe(true);
      const row = h.store.rows[3]!;
      h.store.rows[3] = { ...row, actor: 'someone' };
      expect(await h.service.verifyJournal(2)).toEqual({ ok: false, rowsChecked: 3, firstBroken: { seq: 4, reason: expect.stringMatching(/modified/) } });
      // the failed verification is what /metrics shows (alert HazwatchJournalVerifyFailed)
      expect((await h.metrics.journalVerifyOk.get()).values[0]?.value).toBe(0);
    });

    it('should compute KPIs over annunciated raises in scope', async () => {
      h = await harness();
      for (let i = 0; i < 3; i++) {
        h.conditions.next(GAS);
        h.conditions.next({ ...GAS, active: false });
        h.clock.advance(10_000);
      }
      h.conditions.next(makeCondition({ siteId: 'wuqing-gas', sourceId: 'wq-lpg', deviceId: 'wq-gd-1' }));
      await settle();
      const k = await h.service.kpis(T0, T0 + 60 * MIN, operator);
      expect(k.totalAlarms).toBe(3);
      expect(k.chattering).toEqual([expect.objectContaining({ alarmId: GAS_ID, maxActivationsIn60s: 3 })]);
      expect((await h.service.kpis(T0, T0 + 60 * MIN, admin)).totalAlarms).toBe(4);
    });
  });
});
