import { makeCondition, T0 } from '../../test/factories/alarm.factory';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { AlarmsNotReadyError, ReplayTooLargeError } from './alarm.errors';
import { alarmId } from './domain/alarm-id';
import type { ConditionChange } from './domain/condition-change';
import { ChainVerifier } from './domain/journal-chain';
import type { PendingSpool } from './alarm-pending.spool';
import type { AlarmWrite } from './alarm.store';
import { InMemoryAlarmStore } from './testing/in-memory-alarm.store';
import { settle } from '../common/testing/manual.scheduler';

import {
  admin,
  gauge,
  GAS,
  GAS_ID,
  harness,
  MIN,
  operator,
  wuqingOperator,
  type Harness,
} from './testing/alarm-service.harness';

describe('AlarmService: outage, shutdown, restart and resume', () => {
  let h: Harness;
  beforeAll(() => JsonLogger.setLevel('error'));
  afterEach(async () => {
    await h?.service.stop();
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
      expect(h.service.get(GAS_ID, operator)).toMatchObject({
        state: 'acknowledged',
        ackedBy: 'control room bohai',
      });
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
      expect(h.service.get(GAS_ID, operator)).toMatchObject({
        state: 'acknowledged',
        ackedBy: 'control room bohai',
      });
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
      const offline = makeCondition({
        ruleId: 'offline:cl-gd-1',
        condition: 'offline',
        priority: 'medium',
        value: 'offline',
        limit: 'online',
        message: 'cl-gd-1 offline',
      });
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
      expect(seeded[0]!.find((c) => c.condition === 'offline')).toMatchObject({
        ts: T0,
        value: 'offline',
        limit: 'online',
        sourceId: 'bhc-cl2',
        siteId: 'bohai-chem',
      });
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
      expect(await h.service.verifyJournal(2)).toEqual({
        ok: false,
        rowsChecked: 3,
        firstBroken: { seq: 4, reason: expect.stringMatching(/modified/) },
      });
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
