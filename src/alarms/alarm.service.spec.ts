import { makeCondition, T0 } from '../../test/factories/alarm.factory';
import { JsonLogger } from '../common/logger';
import { AlarmForbiddenError, AlarmNotFoundError } from './alarm.errors';
import { alarmId } from './domain/alarm-id';
import { type AlarmSettings } from './domain/alarm-settings';
import { AlarmTransitionError } from './domain/alarm-transition.error';
import { settle } from '../common/testing/manual.scheduler';

import {
  admin,
  gauge,
  GAS,
  GAS_ID,
  harness,
  MIN,
  operator,
  regulator,
  supervisor,
  wuqingOperator,
  type Harness,
} from './testing/alarm-service.harness';

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
      expect(h.events[0]).toMatchObject({
        id: GAS_ID,
        event: 'raised',
        state: 'unacknowledged',
        seq: 1,
        priority: 'high',
        level: 'orange',
        value: 2.4,
        limit: 2,
        raisedAt: new Date(T0).toISOString(),
      });
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
      expect(h.service.get(GAS_ID, operator)).toMatchObject({
        state: 'rtn_unacknowledged',
        active: false,
        clearedAt: new Date(T0 + MIN).toISOString(),
      });
      const s = await h.service.ack(GAS_ID, operator, 'checked on site');
      expect(s).toMatchObject({ state: 'normal', acked: true, ackedBy: 'control room bohai' });
      expect(h.events.map((e) => e.seq)).toEqual([1, 2, 3]);
      await settle();
      const ackRow = h.store.rows[2]!;
      expect(ackRow).toMatchObject({
        event: 'acknowledged',
        actorRole: 'operator',
        comment: 'checked on site',
        fromState: 'rtn_unacknowledged',
        toState: 'normal',
      });
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
      await expect(h.service.setOutOfService(GAS_ID, operator, 'calibration')).rejects.toBeInstanceOf(
        AlarmForbiddenError,
      );
      expect((await h.service.setOutOfService(GAS_ID, supervisor, 'calibration')).state).toBe(
        'out_of_service',
      );
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
      await expect(h.service.shelve(GAS_ID, operator, 30, 'nuisance')).rejects.toMatchObject({
        code: 'critical_shelve_forbidden',
        kind: 'forbidden',
      });
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
      const e = await h.service.note(
        GAS_ID,
        operator,
        'alarm.disposition',
        'disposal record filed: valve packing replaced',
      );
      expect(e).toMatchObject({
        id: GAS_ID,
        event: 'note',
        seq: 2,
        state: before.state,
        acked: before.acked,
        active: true,
        comment: 'disposal record filed: valve packing replaced',
      });
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
      await expect(h.service.note(GAS_ID, regulator, 'alarm.disposition', 'x')).rejects.toBeInstanceOf(
        AlarmForbiddenError,
      );
      await expect(h.service.note(GAS_ID, wuqingOperator, 'alarm.disposition', 'x')).rejects.toBeInstanceOf(
        AlarmNotFoundError,
      );
      await expect(h.service.note(GAS_ID, operator, 'alarm.disposition', '  ')).rejects.toThrow(
        'a note needs text',
      );
      // a regulator holds the review capability
      await expect(
        h.service.note(GAS_ID, regulator, 'disposition.review', 'accepted'),
      ).resolves.toMatchObject({ event: 'note', actor: expect.stringContaining('Binhai ESB') });
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
    const OFFLINE = makeCondition({
      ruleId: 'offline',
      condition: 'offline',
      priority: 'medium',
      value: null,
      limit: null,
      message: 'offline',
    });

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
      expect(h.service.get(GAS_ID, operator)).toMatchObject({
        state: 'suppressed',
        suppressedBy: ['maintenance'],
      });
      h.service.setAreaMaintenance('bohai-chem', 'cl-a1', false);
      expect(h.service.get(GAS_ID, operator).state).toBe('unacknowledged');
    });

    it('should apply maintenance areas from config at start', async () => {
      h = await harness({ settings: { ...settings, maintenanceAreas: ['bohai-chem/cl-a1'] } });
      h.conditions.next(GAS);
      expect(h.service.get(GAS_ID, operator).state).toBe('suppressed');
    });
  });
});
