/**
 * Latch × overlay table (docs/alarm-lifecycle.md, ADR 0012): every shown start state, latching or not, under every
 * overlay (shelve → unshelve, shelve → shelf expiry, out of service → return to service, design suppression on → off),
 * with the condition staying as it is, clearing, or re-activating under the overlay. A latch survives every overlay;
 * only ack + supervisor reset ends it. The expected column is written out by hand, independently of the code.
 */
import { makeAlarm, T0 } from '../../../test/factories/alarm.factory';
import type { Actor, AlarmRecord, AlarmState } from './alarm.types';
import type { AlarmErrorCode } from './alarm-transition.error';
import { applyAlarmCommand, toSnapshot, type AlarmCommand } from './alarm-state.machine';

const MIN = 60_000;
const operator: Actor = { name: 'control room', role: 'operator' };
const supervisor: Actor = { name: 'shift supervisor', role: 'supervisor' };

type Start =
  'normal' | 'unacknowledged' | 'acknowledged' | 'rtn_unacknowledged' | 'latched' | 'latched_acked';
type During = 'none' | 'clear' | 'activate' | 'activate+clear';
type Overlay = 'shelve/unshelve' | 'shelve/expiry' | 'out-of-service/return' | 'suppress/unsuppress';
type Final = { state: AlarmState; acked: boolean };
const OVERLAYS: readonly Overlay[] = [
  'shelve/unshelve',
  'shelve/expiry',
  'out-of-service/return',
  'suppress/unsuppress',
];

function start(s: Start, latching: boolean): AlarmRecord {
  const base = { latching, priority: 'high' as const, condition: latching ? 'over_range' : 'gas_l2' };
  switch (s) {
    case 'normal':
      return makeAlarm({ ...base, state: 'normal', active: false, acked: true, clearedAt: T0 });
    case 'unacknowledged':
      return makeAlarm({
        ...base,
        state: 'unacknowledged',
        active: true,
        acked: false,
        ...(latching ? { latched: true } : {}),
      });
    case 'acknowledged':
      return makeAlarm({
        ...base,
        state: 'acknowledged',
        active: true,
        acked: true,
        ackedAt: T0,
        ackedBy: 'control room',
        ...(latching ? { latched: true } : {}),
      });
    case 'rtn_unacknowledged':
      return makeAlarm({ ...base, state: 'rtn_unacknowledged', active: false, acked: false, clearedAt: T0 });
    case 'latched':
      // as stored before the `latched` flag existed: the shown state alone says the latch is held
      return makeAlarm({ ...base, state: 'latched', active: false, acked: false, clearedAt: T0 });
    case 'latched_acked':
      return makeAlarm({
        ...base,
        state: 'latched',
        active: false,
        acked: true,
        ackedAt: T0,
        ackedBy: 'control room',
        latched: true,
        clearedAt: T0,
      });
  }
}

const must = (a: AlarmRecord, cmd: AlarmCommand): AlarmRecord => {
  const r = applyAlarmCommand(a, cmd);
  if (!r.ok) throw new Error(`${cmd.kind} on ${a.state}: ${r.error.code}`);
  return r.alarm;
};

function overlayOn(o: Overlay, a: AlarmRecord, at: number): ReturnType<typeof applyAlarmCommand> {
  if (o === 'shelve/unshelve' || o === 'shelve/expiry')
    return applyAlarmCommand(a, { kind: 'shelve', at, actor: operator, minutes: 1, reason: 'nuisance' });
  if (o === 'out-of-service/return')
    return applyAlarmCommand(a, { kind: 'oos_set', at, actor: supervisor, reason: 'calibration' });
  return applyAlarmCommand(a, { kind: 'suppress', at, ruleId: 'site-offline' });
}

function overlayOff(o: Overlay, a: AlarmRecord, at: number): AlarmRecord {
  if (o === 'shelve/unshelve') return must(a, { kind: 'unshelve', at, actor: supervisor });
  if (o === 'shelve/expiry') return must(a, { kind: 'shelve_expire', at: T0 + 2 * MIN });
  if (o === 'out-of-service/return') return must(a, { kind: 'oos_clear', at, actor: supervisor });
  return must(a, { kind: 'unsuppress', at, ruleId: 'site-offline' });
}

function during(d: During, a0: AlarmRecord, at: number): AlarmRecord {
  let a = a0;
  const act: AlarmCommand = {
    kind: 'activate',
    at,
    priority: 'high',
    value: 105,
    limit: 100,
    message: 'over range',
  };
  if (d === 'activate' || d === 'activate+clear') a = must(a, act);
  if (d === 'clear' || d === 'activate+clear') a = must(a, { kind: 'clear', at: at + 1, value: 0 });
  return a;
}

type Row = [start: Start, latching: boolean, during: During, expected: Final];
const F = (state: AlarmState, acked: boolean): Final => ({ state, acked });

/** Start × latching × condition under the overlay → state once the overlay is lifted. */
const TABLE: readonly Row[] = [
  // not latching: ISA-18.2 "return to the state the process dictates": cleared → normal, active → unacknowledged
  ['normal', false, 'none', F('normal', true)],
  ['normal', false, 'activate', F('unacknowledged', false)],
  ['normal', false, 'activate+clear', F('normal', true)],
  ['unacknowledged', false, 'none', F('unacknowledged', false)],
  ['unacknowledged', false, 'clear', F('normal', true)],
  ['acknowledged', false, 'none', F('unacknowledged', false)],
  ['acknowledged', false, 'clear', F('normal', true)],
  ['rtn_unacknowledged', false, 'none', F('normal', true)],
  ['rtn_unacknowledged', false, 'activate', F('unacknowledged', false)],
  // latching: the latch survives; only ack + reset ends it
  ['normal', true, 'none', F('normal', true)],
  ['normal', true, 'activate', F('unacknowledged', false)],
  ['normal', true, 'activate+clear', F('latched', false)],
  ['unacknowledged', true, 'none', F('unacknowledged', false)],
  ['unacknowledged', true, 'clear', F('latched', false)],
  ['acknowledged', true, 'none', F('unacknowledged', false)],
  ['acknowledged', true, 'clear', F('latched', true)],
  ['latched', true, 'none', F('latched', false)],
  ['latched', true, 'activate', F('unacknowledged', false)],
  ['latched', true, 'activate+clear', F('latched', false)],
  ['latched_acked', true, 'none', F('latched', true)],
  ['latched_acked', true, 'activate', F('unacknowledged', false)],
  ['latched_acked', true, 'activate+clear', F('latched', false)],
];

/** Overlays an operator or the design may not apply to this start state (→ refusal code). */
const REFUSED: Partial<Record<Start, Partial<Record<Overlay, AlarmErrorCode>>>> = {
  normal: { 'shelve/unshelve': 'not_shown', 'shelve/expiry': 'not_shown' },
};

const HIDDEN_FOR: Record<Overlay, AlarmState> = {
  'shelve/unshelve': 'shelved',
  'shelve/expiry': 'shelved',
  'out-of-service/return': 'out_of_service',
  'suppress/unsuppress': 'suppressed',
};

describe('latch × overlay table', () => {
  const cases = TABLE.flatMap(([s, latching, d, expected]) =>
    OVERLAYS.map((o) => [o, s, latching, d, expected] as const),
  );

  it('should cover every overlay for every row', () => {
    expect(cases).toHaveLength(TABLE.length * OVERLAYS.length);
  });

  it.each(cases)('%s on %s (latching %s), condition %s under it → %j', (o, s, latching, d, expected) => {
    const at = T0 + 10_000;
    const a0 = start(s, latching);
    const on = overlayOn(o, a0, at);
    const refusal = REFUSED[s]?.[o];
    if (refusal) {
      expect(on.ok).toBe(false);
      if (!on.ok) expect(on.error.code).toBe(refusal);
      return;
    }
    if (!on.ok) throw new Error(on.error.code);
    expect(on.alarm.state).toBe(HIDDEN_FOR[o]);
    // hidden: neither ack nor reset reaches it
    for (const cmd of [
      { kind: 'ack', at, actor: operator },
      { kind: 'reset', at, actor: supervisor },
    ] as const) {
      const r = applyAlarmCommand(on.alarm, cmd);
      expect(r.ok ? 'ok' : r.error.code).toBe('hidden');
    }
    const hidden = during(d, on.alarm, at + 1);
    expect(hidden.state).toBe(HIDDEN_FOR[o]);
    const lifted = overlayOff(o, hidden, at + 10);
    expect({ state: lifted.state, acked: lifted.acked }).toEqual(expected);
    if (expected.state === 'latched') {
      expect(toSnapshot(lifted).latchHeld).toBe(true);
      // a latch ends only with ack, then a supervisor reset
      const early = applyAlarmCommand(lifted, { kind: 'reset', at: at + 20, actor: supervisor });
      if (!expected.acked) expect(early.ok ? 'ok' : early.error.code).toBe('ack_required');
      const acked = expected.acked ? lifted : must(lifted, { kind: 'ack', at: at + 20, actor: operator });
      expect(acked.state).toBe('latched');
      const reset = must(acked, { kind: 'reset', at: at + 30, actor: supervisor });
      expect(reset.state).toBe('normal');
      expect(reset.latched).toBe(false);
      expect(toSnapshot(reset).latchHeld).toBeUndefined();
    }
  });
});

describe('latch details', () => {
  const at = T0 + 10_000;

  it('should keep a latched over-range alarm latched after a 1-minute shelf is lifted (the reported defect)', () => {
    let a = makeAlarm({
      state: 'normal',
      active: false,
      acked: true,
      latching: true,
      condition: 'over_range',
    });
    a = must(a, { kind: 'activate', at, priority: 'high', value: 105, limit: 100, message: 'over range' });
    a = must(a, { kind: 'clear', at: at + 1_000, value: 0 });
    expect(a.state).toBe('latched');
    a = must(a, { kind: 'shelve', at: at + 2_000, actor: operator, minutes: 1, reason: 'nuisance' });
    a = must(a, { kind: 'unshelve', at: at + 3_000, actor: supervisor });
    expect(a.state).toBe('latched');
    expect(a.acked).toBe(false);
  });

  it('should not end a latch with an ack alone', () => {
    let a = makeAlarm({ state: 'normal', active: false, acked: true, latching: true, condition: 'trip' });
    a = must(a, {
      kind: 'activate',
      at,
      priority: 'critical',
      value: 'closed',
      limit: 'open',
      message: 'trip',
    });
    a = must(a, { kind: 'ack', at: at + 1, actor: operator });
    a = must(a, { kind: 'clear', at: at + 2, value: 'open' });
    expect(a.state).toBe('latched');
    const again = applyAlarmCommand(a, { kind: 'ack', at: at + 3, actor: operator });
    expect(again.ok ? 'ok' : again.error.code).toBe('already_acknowledged');
    expect(a.state).toBe('latched');
  });

  it('should keep the latch through nested overlays (shelved, then out of service, then suppressed)', () => {
    let a = makeAlarm({
      state: 'unacknowledged',
      active: true,
      acked: false,
      latching: true,
      latched: true,
      condition: 'shutoff_failed',
    });
    a = must(a, { kind: 'shelve', at, actor: operator, minutes: 5, reason: 'x' });
    a = must(a, { kind: 'oos_set', at, actor: supervisor, reason: 'y' });
    a = must(a, { kind: 'suppress', at, ruleId: 'site-offline' });
    a = must(a, { kind: 'clear', at: at + 1, value: 'ok' });
    a = must(a, { kind: 'unshelve', at: at + 2, actor: supervisor });
    a = must(a, { kind: 'unsuppress', at: at + 3, ruleId: 'site-offline' });
    expect(a.state).toBe('out_of_service');
    a = must(a, { kind: 'oos_clear', at: at + 4, actor: supervisor });
    expect(a.state).toBe('latched');
  });
});

describe('priority escalation of an acknowledged alarm', () => {
  const at = T0 + 10_000;
  const acked = (): AlarmRecord =>
    makeAlarm({
      state: 'acknowledged',
      active: true,
      acked: true,
      ackedAt: T0,
      ackedBy: 'control room',
      priority: 'high',
      condition: 'bypassed',
      message: 'ESD bypassed',
    });

  it('should re-announce it (realarm, unacknowledged, ack cleared) when the priority rises', () => {
    const r = applyAlarmCommand(acked(), {
      kind: 'activate',
      at,
      priority: 'critical',
      value: 'bypassed',
      limit: 'ok',
      message: 'ESD bypassed > 8 h',
    });
    if (!r.ok) throw new Error(r.error.code);
    expect(r.event).toBe('realarm');
    expect(r.alarm).toMatchObject({ state: 'unacknowledged', acked: false, priority: 'critical' });
    expect(r.alarm.ackedAt).toBeUndefined();
  });

  it('should only update it when the priority falls', () => {
    const r = applyAlarmCommand(acked(), {
      kind: 'activate',
      at,
      priority: 'medium',
      value: 'bypassed',
      limit: 'ok',
      message: 'ESD bypassed',
    });
    if (!r.ok) throw new Error(r.error.code);
    expect(r.event).toBe('updated');
    expect(r.alarm.state).toBe('acknowledged');
  });
});
