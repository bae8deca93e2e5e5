import { makeAlarm, T0 } from '../../../test/factories/alarm.factory';
import type { Actor, AlarmEventType, AlarmRecord, AlarmState } from './alarm.types';
import { ALARM_STATES } from './alarm.types';
import type { AlarmErrorCode } from './alarm-transition.error';
import {
  ALARM_COMMAND_KINDS,
  applyAlarmCommand,
  dueForRealarm,
  dueForUnshelve,
  newAlarm,
  toSnapshot,
  type AlarmCommand,
  type AlarmCommandKind,
  type TransitionResult,
} from './alarm-state.machine';

const MIN = 60_000;
const operator: Actor = { name: 'control room', role: 'operator' };
const supervisor: Actor = { name: 'shift supervisor', role: 'supervisor' };

/** One representative alarm per state (the condition underneath as the state implies). */
const FIXTURES: Record<AlarmState, AlarmRecord> = {
  normal: makeAlarm({ state: 'normal', active: false, acked: true, clearedAt: T0 }),
  unacknowledged: makeAlarm({ state: 'unacknowledged', active: true, acked: false }),
  acknowledged: makeAlarm({
    state: 'acknowledged',
    active: true,
    acked: true,
    ackedAt: T0,
    ackedBy: 'control room',
  }),
  rtn_unacknowledged: makeAlarm({ state: 'rtn_unacknowledged', active: false, acked: false, clearedAt: T0 }),
  latched: makeAlarm({ state: 'latched', active: false, acked: false, latching: true, clearedAt: T0 }),
  shelved: makeAlarm({
    state: 'shelved',
    active: true,
    shelf: { until: T0 + 10 * MIN, by: 'control room', reason: 'chattering', at: T0 },
  }),
  suppressed: makeAlarm({ state: 'suppressed', active: true, suppressedBy: ['offline'] }),
  out_of_service: makeAlarm({
    state: 'out_of_service',
    active: true,
    outOfService: { by: 'shift supervisor', reason: 'calibration', at: T0 },
  }),
};

const at = T0 + MIN;
const COMMANDS: Record<AlarmCommandKind, AlarmCommand> = {
  activate: {
    kind: 'activate',
    at,
    priority: 'critical',
    value: 3.1,
    limit: 2,
    message: 'chlorine level 2 (voted)',
  },
  clear: { kind: 'clear', at, value: 0.2 },
  ack: { kind: 'ack', at, actor: operator, comment: 'seen' },
  reset: { kind: 'reset', at, actor: supervisor },
  shelve: { kind: 'shelve', at, actor: operator, minutes: 30, reason: 'sensor being replaced' },
  unshelve: { kind: 'unshelve', at, actor: supervisor },
  shelve_expire: { kind: 'shelve_expire', at: T0 + 11 * MIN },
  suppress: { kind: 'suppress', at, ruleId: 'maintenance' },
  unsuppress: { kind: 'unsuppress', at, ruleId: 'offline' },
  oos_set: { kind: 'oos_set', at, actor: supervisor, reason: 'detector replaced' },
  oos_clear: { kind: 'oos_clear', at, actor: supervisor },
  realarm: { kind: 'realarm', at },
};

type Expect = { to: AlarmState; event: AlarmEventType } | { error: AlarmErrorCode };
const to = (s: AlarmState, event: AlarmEventType): Expect => ({ to: s, event });
const err = (code: AlarmErrorCode): Expect => ({ error: code });

/** The full table: every (state, command) pair, written out independently of the implementation. */
const TABLE: Record<AlarmState, Record<AlarmCommandKind, Expect>> = {
  normal: {
    activate: to('unacknowledged', 'raised'),
    clear: err('not_active'),
    ack: err('nothing_to_ack'),
    reset: err('not_latched'),
    shelve: err('not_shown'),
    unshelve: err('not_shelved'),
    shelve_expire: err('not_shelved'),
    suppress: to('suppressed', 'suppressed'),
    unsuppress: err('not_suppressed'),
    oos_set: to('out_of_service', 'out_of_service'),
    oos_clear: err('not_out_of_service'),
    realarm: err('not_realarmable'),
  },
  unacknowledged: {
    activate: to('unacknowledged', 'updated'),
    clear: to('rtn_unacknowledged', 'cleared'),
    ack: to('acknowledged', 'acknowledged'),
    reset: err('not_latched'),
    shelve: to('shelved', 'shelved'),
    unshelve: err('not_shelved'),
    shelve_expire: err('not_shelved'),
    suppress: to('suppressed', 'suppressed'),
    unsuppress: err('not_suppressed'),
    oos_set: to('out_of_service', 'out_of_service'),
    oos_clear: err('not_out_of_service'),
    realarm: err('not_realarmable'),
  },
  acknowledged: {
    // COMMANDS.activate raises the priority high → critical: re-announced (docs/alarm-lifecycle.md)
    activate: to('unacknowledged', 'realarm'),
    clear: to('normal', 'cleared'),
    ack: err('already_acknowledged'),
    reset: err('not_latched'),
    shelve: to('shelved', 'shelved'),
    unshelve: err('not_shelved'),
    shelve_expire: err('not_shelved'),
    suppress: to('suppressed', 'suppressed'),
    unsuppress: err('not_suppressed'),
    oos_set: to('out_of_service', 'out_of_service'),
    oos_clear: err('not_out_of_service'),
    realarm: to('unacknowledged', 'realarm'),
  },
  rtn_unacknowledged: {
    activate: to('unacknowledged', 'raised'),
    clear: err('not_active'),
    ack: to('normal', 'acknowledged'),
    reset: err('not_latched'),
    shelve: to('shelved', 'shelved'),
    unshelve: err('not_shelved'),
    shelve_expire: err('not_shelved'),
    suppress: to('suppressed', 'suppressed'),
    unsuppress: err('not_suppressed'),
    oos_set: to('out_of_service', 'out_of_service'),
    oos_clear: err('not_out_of_service'),
    realarm: err('not_realarmable'),
  },
  latched: {
    activate: to('unacknowledged', 'raised'),
    clear: err('not_active'),
    ack: to('latched', 'acknowledged'),
    reset: err('ack_required'),
    shelve: to('shelved', 'shelved'),
    unshelve: err('not_shelved'),
    shelve_expire: err('not_shelved'),
    suppress: to('suppressed', 'suppressed'),
    unsuppress: err('not_suppressed'),
    oos_set: to('out_of_service', 'out_of_service'),
    oos_clear: err('not_out_of_service'),
    realarm: err('not_realarmable'),
  },
  shelved: {
    activate: to('shelved', 'updated'),
    clear: to('shelved', 'cleared'),
    ack: err('hidden'),
    reset: err('hidden'),
    shelve: err('already_shelved'),
    unshelve: to('unacknowledged', 'unshelved'),
    shelve_expire: to('unacknowledged', 'shelve_expired'),
    suppress: to('suppressed', 'suppressed'),
    unsuppress: err('not_suppressed'),
    oos_set: to('out_of_service', 'out_of_service'),
    oos_clear: err('not_out_of_service'),
    realarm: err('not_realarmable'),
  },
  suppressed: {
    activate: to('suppressed', 'updated'),
    clear: to('suppressed', 'cleared'),
    ack: err('hidden'),
    reset: err('hidden'),
    shelve: err('hidden'),
    unshelve: err('not_shelved'),
    shelve_expire: err('not_shelved'),
    suppress: to('suppressed', 'suppressed'),
    unsuppress: to('unacknowledged', 'unsuppressed'),
    oos_set: to('out_of_service', 'out_of_service'),
    oos_clear: err('not_out_of_service'),
    realarm: err('not_realarmable'),
  },
  out_of_service: {
    activate: to('out_of_service', 'updated'),
    clear: to('out_of_service', 'cleared'),
    ack: err('hidden'),
    reset: err('hidden'),
    shelve: err('hidden'),
    unshelve: err('not_shelved'),
    shelve_expire: err('not_shelved'),
    suppress: to('out_of_service', 'suppressed'),
    unsuppress: err('not_suppressed'),
    oos_set: err('already_out_of_service'),
    oos_clear: to('unacknowledged', 'returned_to_service'),
    realarm: err('not_realarmable'),
  },
};

const ok = (r: TransitionResult): Extract<TransitionResult, { ok: true }> => {
  if (!r.ok) throw new Error(`expected a legal transition, got ${r.error.code}: ${r.error.message}`);
  return r;
};
const rejected = (r: TransitionResult): Extract<TransitionResult, { ok: false }> => {
  if (r.ok) throw new Error(`expected a rejection, got ${r.alarm.state} (${String(r.event)})`);
  return r;
};

describe('alarm state machine', () => {
  describe('exhaustive transition table', () => {
    const cases = ALARM_STATES.flatMap((state) =>
      ALARM_COMMAND_KINDS.map((kind) => [state, kind, TABLE[state][kind]] as const),
    );

    it('should cover every state and every command', () => {
      expect(cases).toHaveLength(ALARM_STATES.length * ALARM_COMMAND_KINDS.length);
      expect(cases).toHaveLength(96);
    });

    it.each(cases)('should handle %s + %s as the table says', (state, kind, expected) => {
      const before = FIXTURES[state];
      const result = applyAlarmCommand(before, COMMANDS[kind]);
      if ('error' in expected) {
        const r = rejected(result);
        expect(r.error.code).toBe(expected.error);
        expect(r.error.state).toBe(state);
        expect(r.error.command).toBe(kind);
        expect(r.error.message).toContain(before.id);
      } else {
        const r = ok(result);
        expect(r.alarm.state).toBe(expected.to);
        expect(r.event).toBe(expected.event);
        expect(r.from).toBe(state);
      }
      // inputs are never mutated
      expect(FIXTURES[state]).toBe(before);
      expect(before.state).toBe(state);
    });
  });

  describe('condition tracking', () => {
    it('should record raise time, value and priority when a normal alarm activates', () => {
      const r = ok(applyAlarmCommand(FIXTURES.normal, COMMANDS.activate));
      expect(r.alarm).toMatchObject({
        active: true,
        acked: false,
        raisedAt: at,
        priority: 'critical',
        value: 3.1,
        message: 'chlorine level 2 (voted)',
      });
      expect(r.alarm.clearedAt).toBeUndefined();
    });

    it('should produce no event when an active alarm is activated again with the same priority, limit and message', () => {
      const a = FIXTURES.unacknowledged;
      const r = ok(
        applyAlarmCommand(a, {
          kind: 'activate',
          at,
          priority: a.priority,
          value: 9,
          limit: a.limit,
          message: a.message,
        }),
      );
      expect(r.event).toBeNull();
      expect(r.alarm.value).toBe(a.value);
    });

    it('should re-announce an acknowledged alarm when its priority is raised', () => {
      const r = ok(applyAlarmCommand(FIXTURES.acknowledged, COMMANDS.activate));
      expect(r.alarm).toMatchObject({ state: 'unacknowledged', acked: false, priority: 'critical' });
      expect(r.event).toBe('realarm');
    });

    it('should keep an acknowledged alarm acknowledged when only its message changes', () => {
      const r = ok(
        applyAlarmCommand(FIXTURES.acknowledged, {
          kind: 'activate',
          at,
          priority: FIXTURES.acknowledged.priority,
          value: 3.1,
          limit: 2,
          message: 'reworded',
        }),
      );
      expect(r.alarm).toMatchObject({ state: 'acknowledged', acked: true });
      expect(r.event).toBe('updated');
    });

    it.each(['shelved', 'suppressed', 'out_of_service'] as const)(
      'should track the condition underneath when %s',
      (state) => {
        const cleared = ok(applyAlarmCommand(FIXTURES[state], COMMANDS.clear));
        expect(cleared.alarm).toMatchObject({ state, active: false, clearedAt: at });
        const raised = ok(applyAlarmCommand(cleared.alarm, { ...COMMANDS.activate, at: at + 1000 }));
        expect(raised.event).toBe('raised');
        expect(raised.alarm).toMatchObject({ state, active: true, raisedAt: at + 1000 });
      },
    );

    it('should reject a clear of an overlaid alarm whose condition is already clear', () => {
      const shelvedClear = makeAlarm({
        state: 'shelved',
        active: false,
        shelf: { until: T0 + MIN, by: 'x', reason: 'y', at: T0 },
      });
      expect(rejected(applyAlarmCommand(shelvedClear, COMMANDS.clear)).error.code).toBe('not_active');
    });
  });

  describe('latching', () => {
    const latching = { latching: true };

    it('should latch an unacknowledged latching alarm on clear', () => {
      const r = ok(applyAlarmCommand(makeAlarm({ ...latching }), COMMANDS.clear));
      expect(r.alarm).toMatchObject({ state: 'latched', acked: false, active: false });
    });

    it('should latch an acknowledged latching alarm on clear and keep the ack', () => {
      const r = ok(
        applyAlarmCommand(
          makeAlarm({ ...latching, state: 'acknowledged', acked: true, ackedAt: T0, ackedBy: 'x' }),
          COMMANDS.clear,
        ),
      );
      expect(r.alarm).toMatchObject({ state: 'latched', acked: true, ackedBy: 'x' });
    });

    it('should return to normal when a latched alarm is acknowledged and then reset', () => {
      const acked = ok(applyAlarmCommand(FIXTURES.latched, COMMANDS.ack));
      expect(acked.alarm).toMatchObject({ state: 'latched', acked: true, ackedBy: 'control room' });
      expect(rejected(applyAlarmCommand(acked.alarm, COMMANDS.ack)).error.code).toBe('already_acknowledged');
      const reset = ok(applyAlarmCommand(acked.alarm, COMMANDS.reset));
      expect(reset.alarm.state).toBe('normal');
      expect(reset.event).toBe('reset');
    });
  });

  describe('shelving', () => {
    it('should set the shelf end from the minutes and keep the reason', () => {
      const r = ok(applyAlarmCommand(FIXTURES.unacknowledged, COMMANDS.shelve));
      expect(r.alarm.shelf).toEqual({
        until: at + 30 * MIN,
        by: 'control room',
        reason: 'sensor being replaced',
        at,
      });
    });

    it('should forbid operators to shelve a critical alarm', () => {
      const r = rejected(applyAlarmCommand(makeAlarm({ priority: 'critical' }), COMMANDS.shelve));
      expect(r.error.code).toBe('critical_shelve_forbidden');
      expect(r.error.kind).toBe('forbidden');
    });

    it('should let a supervisor shelve a critical alarm', () => {
      const r = ok(
        applyAlarmCommand(makeAlarm({ priority: 'critical' }), {
          kind: 'shelve',
          at,
          actor: supervisor,
          minutes: 30,
          reason: 'sensor being replaced',
        }),
      );
      expect(r.alarm.state).toBe('shelved');
    });

    it.each([0, -5, 721, 1.5, Number.NaN])('should reject %p minutes', (minutes) => {
      const r = rejected(
        applyAlarmCommand(FIXTURES.unacknowledged, {
          kind: 'shelve',
          at,
          actor: operator,
          minutes,
          reason: 'x',
        }),
      );
      expect(r.error.code).toBe('invalid_shelve');
      expect(r.error.kind).toBe('invalid');
    });

    it('should accept the 720-minute maximum', () => {
      const r = ok(
        applyAlarmCommand(FIXTURES.unacknowledged, {
          kind: 'shelve',
          at,
          actor: operator,
          minutes: 720,
          reason: 'x',
        }),
      );
      expect(r.alarm.shelf?.until).toBe(at + 720 * MIN);
    });

    it('should require a non-blank reason', () => {
      const r = rejected(
        applyAlarmCommand(FIXTURES.unacknowledged, {
          kind: 'shelve',
          at,
          actor: operator,
          minutes: 5,
          reason: '   ',
        }),
      );
      expect(r.error.code).toBe('reason_required');
    });

    it('should not expire a shelf before its end', () => {
      const r = rejected(
        applyAlarmCommand(FIXTURES.shelved, { kind: 'shelve_expire', at: T0 + 10 * MIN - 1 }),
      );
      expect(r.error.code).toBe('shelve_not_expired');
      expect(
        ok(applyAlarmCommand(FIXTURES.shelved, { kind: 'shelve_expire', at: T0 + 10 * MIN })).alarm.state,
      ).toBe('unacknowledged');
    });

    it('should return to normal when unshelved while the condition is clear', () => {
      const clear = makeAlarm({
        state: 'shelved',
        active: false,
        acked: false,
        shelf: { until: T0 + MIN, by: 'x', reason: 'y', at: T0 },
      });
      const r = ok(applyAlarmCommand(clear, COMMANDS.unshelve));
      expect(r.alarm).toMatchObject({ state: 'normal', acked: true });
      expect(r.alarm.shelf).toBeUndefined();
    });

    it('should require a fresh ack when an acknowledged alarm is unshelved still active', () => {
      const acked = makeAlarm({ state: 'acknowledged', acked: true, ackedAt: T0, ackedBy: 'x' });
      const shelved = ok(applyAlarmCommand(acked, COMMANDS.shelve)).alarm;
      const r = ok(applyAlarmCommand(shelved, COMMANDS.unshelve));
      expect(r.alarm).toMatchObject({ state: 'unacknowledged', acked: false });
      expect(r.alarm.ackedBy).toBeUndefined();
    });
  });

  describe('overlay precedence', () => {
    it('should show out_of_service over suppressed over shelved and lift them one by one', () => {
      let a = ok(applyAlarmCommand(FIXTURES.unacknowledged, COMMANDS.shelve)).alarm;
      a = ok(applyAlarmCommand(a, { kind: 'suppress', at, ruleId: 'offline' })).alarm;
      expect(a.state).toBe('suppressed');
      a = ok(applyAlarmCommand(a, COMMANDS.oos_set)).alarm;
      expect(a.state).toBe('out_of_service');
      a = ok(applyAlarmCommand(a, COMMANDS.oos_clear)).alarm;
      expect(a.state).toBe('suppressed');
      a = ok(applyAlarmCommand(a, { kind: 'unsuppress', at, ruleId: 'offline' })).alarm;
      expect(a.state).toBe('shelved');
      a = ok(applyAlarmCommand(a, COMMANDS.unshelve)).alarm;
      expect(a.state).toBe('unacknowledged');
    });

    it('should let a shelf expire underneath a suppression without showing the alarm', () => {
      let a = ok(applyAlarmCommand(FIXTURES.unacknowledged, COMMANDS.shelve)).alarm;
      a = ok(applyAlarmCommand(a, { kind: 'suppress', at, ruleId: 'offline' })).alarm;
      const r = ok(applyAlarmCommand(a, { kind: 'shelve_expire', at: at + 30 * MIN }));
      expect(r.event).toBe('shelve_expired');
      expect(r.alarm.state).toBe('suppressed');
      expect(r.alarm.shelf).toBeUndefined();
    });

    it('should stay suppressed while another suppression rule still holds', () => {
      let a = ok(
        applyAlarmCommand(FIXTURES.suppressed, { kind: 'suppress', at, ruleId: 'maintenance' }),
      ).alarm;
      expect(a.suppressedBy).toEqual(['maintenance', 'offline']);
      a = ok(applyAlarmCommand(a, { kind: 'unsuppress', at, ruleId: 'offline' })).alarm;
      expect(a.state).toBe('suppressed');
      expect(rejected(applyAlarmCommand(a, { kind: 'suppress', at, ruleId: 'maintenance' })).error.code).toBe(
        'already_suppressed',
      );
    });

    it('should require a reason to take an alarm out of service', () => {
      const r = rejected(
        applyAlarmCommand(FIXTURES.unacknowledged, { kind: 'oos_set', at, actor: supervisor, reason: '' }),
      );
      expect(r.error.code).toBe('reason_required');
    });
  });

  describe('re-alarm and timers', () => {
    it('should be due for re-alarm only after ReAlarmTime since the ack while still active', () => {
      const a = FIXTURES.acknowledged;
      expect(dueForRealarm(a, T0 + 30 * MIN - 1, 30 * MIN)).toBe(false);
      expect(dueForRealarm(a, T0 + 30 * MIN, 30 * MIN)).toBe(true);
      expect(dueForRealarm(a, T0 + 300 * MIN, 0)).toBe(false);
      expect(dueForRealarm(FIXTURES.unacknowledged, T0 + 300 * MIN, 30 * MIN)).toBe(false);
    });

    it('should be due for unshelve at the shelf end', () => {
      expect(dueForUnshelve(FIXTURES.shelved, T0 + 10 * MIN - 1)).toBe(false);
      expect(dueForUnshelve(FIXTURES.shelved, T0 + 10 * MIN)).toBe(true);
      expect(dueForUnshelve(FIXTURES.unacknowledged, T0 + 10 * MIN)).toBe(false);
    });
  });

  describe('snapshot', () => {
    it.each([
      ['critical', 'red'],
      ['high', 'orange'],
      ['medium', 'yellow'],
      ['low', 'blue'],
    ] as const)('should map priority %s to level %s', (priority, level) => {
      expect(toSnapshot(makeAlarm({ priority })).level).toBe(level);
    });

    it('should carry exactly the contract fields with ISO times', () => {
      const s = toSnapshot(FIXTURES.acknowledged);
      expect(Object.keys(s).sort()).toEqual(
        [
          'id',
          'siteId',
          'sourceId',
          'ruleId',
          'deviceId',
          'condition',
          'priority',
          'level',
          'state',
          'active',
          'acked',
          'value',
          'limit',
          'message',
          'raisedAt',
          'ackedAt',
          'ackedBy',
          'seq',
        ].sort(),
      );
      expect(s.raisedAt).toBe('2026-11-24T10:00:00.000Z');
    });

    it('should start a new alarm normal, clear and acknowledged', () => {
      const a = newAlarm({
        id: 'x',
        siteId: 's',
        sourceId: 'src',
        ruleId: 'r',
        condition: 'c',
        priority: 'low',
        latching: false,
        at: T0,
      });
      expect(a).toMatchObject({ state: 'normal', active: false, acked: true, seq: 0, suppressedBy: [] });
      expect('deviceId' in a).toBe(false);
    });
  });
});
