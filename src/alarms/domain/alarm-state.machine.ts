/**
 * The ISA-18.2 alarm state machine (docs/domain.md §5). Pure: every input carries its own time, nothing is read from a clock.
 *
 * Base states follow the condition and operator actions: normal, unacknowledged, acknowledged, rtn_unacknowledged, latched.
 * Overlays hide an alarm while it is still evaluated: shelved (operator, time-limited), suppressed (design logic) and
 * out_of_service (supervisor). Precedence when several overlays hold: out_of_service > suppressed > shelved. When the last
 * overlay is lifted the alarm returns to `unacknowledged` if its condition is active, else to `latched` if it holds a
 * latch (`latched` flag: a latching alarm activated since its last reset, whether shown or hidden at the time), else
 * `normal`. A latch survives every overlay; only ack + supervisor reset ends it (docs/alarm-lifecycle.md, ADR 0012).
 * An acknowledged alarm whose priority rises is re-announced (`realarm`, back to unacknowledged).
 *
 * Exhaustive transition table (→ target, ✗ typed error; "flags" = the overlay is recorded under a higher overlay):
 *
 * | state \ command    | activate        | clear                 | ack               | reset               | shelve    | unshelve / shelve_expire | suppress     | unsuppress   | oos_set        | oos_clear      | realarm          |
 * |--------------------|-----------------|-----------------------|-------------------|---------------------|-----------|--------------------------|--------------|--------------|----------------|----------------|------------------|
 * | normal             | unacknowledged  | ✗ not_active          | ✗ nothing_to_ack  | ✗ not_latched       | ✗ not_shown | ✗ not_shelved          | suppressed   | ✗ not_supp.  | out_of_service | ✗ not_oos      | ✗ not_realarmable|
 * | unacknowledged     | (update)        | rtn_unack. / latched  | acknowledged      | ✗ not_latched       | shelved   | ✗ not_shelved            | suppressed   | ✗            | out_of_service | ✗              | ✗                |
 * | acknowledged       | (update/realarm)| normal / latched      | ✗ already_acked   | ✗ not_latched       | shelved   | ✗ not_shelved            | suppressed   | ✗            | out_of_service | ✗              | unacknowledged   |
 * | rtn_unacknowledged | unacknowledged  | ✗ not_active          | normal            | ✗ not_latched       | shelved   | ✗ not_shelved            | suppressed   | ✗            | out_of_service | ✗              | ✗                |
 * | latched            | unacknowledged  | ✗ not_active          | latched (acked) / ✗ already_acked | normal if acked / ✗ ack_required | shelved | ✗ not_shelved | suppressed | ✗ | out_of_service | ✗       | ✗                |
 * | shelved            | shelved (active)| shelved (clear)       | ✗ hidden          | ✗ hidden            | ✗ already_shelved | lifted (latch kept)| suppressed   | ✗            | out_of_service | ✗              | ✗                |
 * | suppressed         | suppressed      | suppressed            | ✗ hidden          | ✗ hidden            | ✗ hidden  | flag / ✗ not_shelved     | flag         | lifted / flag| out_of_service | ✗              | ✗                |
 * | out_of_service     | out_of_service  | out_of_service        | ✗ hidden          | ✗ hidden            | ✗ hidden  | flag / ✗ not_shelved     | flag         | flag         | ✗ already_oos  | lifted         | ✗                |
 *
 * Under an overlay, activate/clear on an already active/clear condition is ✗ not_active for clear and an update for
 * activate, as in the base states. `shelve_expire` before the shelf's end is ✗ shelve_not_expired.
 */
import type { Priority } from '../../common/types';
import { PRIORITY_LEVEL, PRIORITY_RANK } from '../../common/types';
import type { Actor, AlarmEventType, AlarmRecord, AlarmSnapshot, AlarmState } from './alarm.types';
import { AlarmTransitionError, type AlarmErrorCode } from './alarm-transition.error';
import type { ConditionValue } from './condition-change';

export const MAX_SHELVE_MINUTES = 720;

export type AlarmCommand =
  | {
      readonly kind: 'activate';
      readonly at: number;
      readonly priority: Priority;
      readonly value: ConditionValue;
      readonly limit: ConditionValue;
      readonly message: string;
    }
  | { readonly kind: 'clear'; readonly at: number; readonly value: ConditionValue }
  | { readonly kind: 'ack'; readonly at: number; readonly actor: Actor; readonly comment?: string }
  | { readonly kind: 'reset'; readonly at: number; readonly actor: Actor; readonly comment?: string }
  | {
      readonly kind: 'shelve';
      readonly at: number;
      readonly actor: Actor;
      readonly minutes: number;
      readonly reason: string;
    }
  | { readonly kind: 'unshelve'; readonly at: number; readonly actor: Actor; readonly comment?: string }
  | { readonly kind: 'shelve_expire'; readonly at: number }
  | { readonly kind: 'suppress'; readonly at: number; readonly ruleId: string }
  | { readonly kind: 'unsuppress'; readonly at: number; readonly ruleId: string }
  | { readonly kind: 'oos_set'; readonly at: number; readonly actor: Actor; readonly reason: string }
  | { readonly kind: 'oos_clear'; readonly at: number; readonly actor: Actor; readonly comment?: string }
  | { readonly kind: 'realarm'; readonly at: number };

export type AlarmCommandKind = AlarmCommand['kind'];
export const ALARM_COMMAND_KINDS: readonly AlarmCommandKind[] = [
  'activate',
  'clear',
  'ack',
  'reset',
  'shelve',
  'unshelve',
  'shelve_expire',
  'suppress',
  'unsuppress',
  'oos_set',
  'oos_clear',
  'realarm',
];

/** A legal transition. `event` is null when nothing worth journalling changed (e.g. a repeated activation). */
export type Transition = {
  readonly ok: true;
  readonly alarm: AlarmRecord;
  readonly event: AlarmEventType | null;
  readonly from: AlarmState;
};
export type Rejection = { readonly ok: false; readonly error: AlarmTransitionError };
export type TransitionResult = Transition | Rejection;

type Draft = { -readonly [K in keyof AlarmRecord]: AlarmRecord[K] };

const fail = (alarm: AlarmRecord, cmd: AlarmCommand, code: AlarmErrorCode, message: string): Rejection => ({
  ok: false,
  error: new AlarmTransitionError(
    code,
    alarm.state,
    cmd.kind,
    `alarm ${alarm.id} is ${alarm.state.replace(/_/g, ' ')}: ${message}`,
  ),
});

const done = (from: AlarmRecord, next: Draft | AlarmRecord, event: AlarmEventType | null): Transition => ({
  ok: true,
  alarm: Object.freeze({ ...next, suppressedBy: Object.freeze([...next.suppressedBy]) }),
  event,
  from: from.state,
});

const isHidden = (s: AlarmState): boolean => s === 'shelved' || s === 'suppressed' || s === 'out_of_service';

/** The state to show once an overlay changes: highest remaining overlay, else the base state the table prescribes. */
function liftedState(a: Draft): void {
  if (a.outOfService) {
    a.state = 'out_of_service';
  } else if (a.suppressedBy.length > 0) {
    a.state = 'suppressed';
  } else if (a.shelf) {
    a.state = 'shelved';
  } else if (a.active) {
    a.state = 'unacknowledged';
    a.acked = false;
    delete a.ackedAt;
    delete a.ackedBy;
  } else if (a.latched === true) {
    // the latch survives every overlay: it comes back `latched` (acked only if that activation was acknowledged)
    a.state = 'latched';
  } else {
    a.state = 'normal';
    a.acked = true;
  }
}

/** Records written before `latched` existed: a shown `latched` state is a held latch. */
function withLatch(alarm: AlarmRecord): AlarmRecord {
  return alarm.state === 'latched' && alarm.latched !== true ? { ...alarm, latched: true } : alarm;
}

function activate(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'activate' }>): TransitionResult {
  const a: Draft = { ...alarm };
  if (alarm.active) {
    // Same condition still active: only a change of priority, limit or message is an event (value alone is not).
    if (alarm.priority === cmd.priority && alarm.limit === cmd.limit && alarm.message === cmd.message)
      return done(alarm, alarm, null);
    const rises = PRIORITY_RANK[cmd.priority] > PRIORITY_RANK[alarm.priority];
    a.priority = cmd.priority;
    a.limit = cmd.limit;
    a.message = cmd.message;
    a.value = cmd.value;
    if (rises && alarm.state === 'acknowledged') {
      // An acknowledged alarm whose priority rises is news: re-announced like a new alarm (unacknowledged, audible,
      // call-out), journalled as `realarm` (docs/alarm-lifecycle.md).
      a.state = 'unacknowledged';
      a.acked = false;
      delete a.ackedAt;
      delete a.ackedBy;
      return done(alarm, a, 'realarm');
    }
    return done(alarm, a, 'updated');
  }
  Object.assign(a, {
    active: true,
    raisedAt: cmd.at,
    priority: cmd.priority,
    value: cmd.value,
    limit: cmd.limit,
    message: cmd.message,
  });
  delete a.clearedAt;
  if (alarm.latching) a.latched = true;
  // a new activation is unacknowledged, also under an overlay (it needs its own ack once shown)
  a.acked = false;
  delete a.ackedAt;
  delete a.ackedBy;
  if (!isHidden(alarm.state)) a.state = 'unacknowledged';
  return done(alarm, a, 'raised');
}

function clear(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'clear' }>): TransitionResult {
  if (!alarm.active) return fail(alarm, cmd, 'not_active', 'the condition is already clear');
  const a: Draft = { ...alarm, active: false, clearedAt: cmd.at, value: cmd.value };
  switch (alarm.state) {
    case 'unacknowledged':
      a.state = alarm.latching ? 'latched' : 'rtn_unacknowledged';
      break;
    case 'acknowledged':
      a.state = alarm.latching ? 'latched' : 'normal';
      break;
    case 'shelved':
    case 'suppressed':
    case 'out_of_service':
      break;
    case 'normal':
    case 'rtn_unacknowledged':
    case 'latched':
      // unreachable: these states are never active
      return fail(alarm, cmd, 'not_active', 'the condition is already clear');
  }
  return done(alarm, a, 'cleared');
}

function ack(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'ack' }>): TransitionResult {
  const by = { ackedAt: cmd.at, ackedBy: cmd.actor.name, acked: true };
  switch (alarm.state) {
    case 'unacknowledged':
      return done(alarm, { ...alarm, ...by, state: 'acknowledged' }, 'acknowledged');
    case 'rtn_unacknowledged':
      return done(alarm, { ...alarm, ...by, state: 'normal' }, 'acknowledged');
    case 'latched':
      if (alarm.acked)
        return fail(alarm, cmd, 'already_acknowledged', 'already acknowledged; reset it to return to normal');
      return done(alarm, { ...alarm, ...by }, 'acknowledged');
    case 'acknowledged':
      return fail(alarm, cmd, 'already_acknowledged', 'already acknowledged');
    case 'normal':
      return fail(alarm, cmd, 'nothing_to_ack', 'nothing to acknowledge');
    case 'shelved':
    case 'suppressed':
    case 'out_of_service':
      return fail(alarm, cmd, 'hidden', 'cannot be acknowledged until it is returned to the alarm list');
  }
}

function reset(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'reset' }>): TransitionResult {
  if (isHidden(alarm.state))
    return fail(alarm, cmd, 'hidden', 'cannot be reset until it is returned to the alarm list');
  if (alarm.state !== 'latched') return fail(alarm, cmd, 'not_latched', 'only a latched alarm can be reset');
  if (!alarm.acked) return fail(alarm, cmd, 'ack_required', 'acknowledge it before resetting');
  return done(alarm, { ...alarm, state: 'normal', latched: false }, 'reset');
}

function shelve(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'shelve' }>): TransitionResult {
  if (alarm.state === 'shelved')
    return fail(
      alarm,
      cmd,
      'already_shelved',
      `already shelved until ${new Date(alarm.shelf?.until ?? 0).toISOString()}`,
    );
  if (alarm.state === 'suppressed' || alarm.state === 'out_of_service')
    return fail(alarm, cmd, 'hidden', 'a hidden alarm cannot be shelved');
  if (alarm.state === 'normal')
    return fail(alarm, cmd, 'not_shown', 'only an alarm in the alarm list can be shelved');
  if (alarm.priority === 'critical' && cmd.actor.role === 'operator')
    return fail(
      alarm,
      cmd,
      'critical_shelve_forbidden',
      'operators cannot shelve critical alarms; ask a supervisor',
    );
  if (!Number.isInteger(cmd.minutes) || cmd.minutes < 1 || cmd.minutes > MAX_SHELVE_MINUTES)
    return fail(alarm, cmd, 'invalid_shelve', `minutes must be an integer from 1 to ${MAX_SHELVE_MINUTES}`);
  if (cmd.reason.trim() === '') return fail(alarm, cmd, 'reason_required', 'a reason is required to shelve');
  const shelf = {
    until: cmd.at + cmd.minutes * 60_000,
    by: cmd.actor.name,
    reason: cmd.reason.trim(),
    at: cmd.at,
  };
  return done(alarm, { ...alarm, shelf, state: 'shelved' }, 'shelved');
}

function unshelve(
  alarm: AlarmRecord,
  cmd: Extract<AlarmCommand, { kind: 'unshelve' | 'shelve_expire' }>,
): TransitionResult {
  if (!alarm.shelf) return fail(alarm, cmd, 'not_shelved', 'not shelved');
  if (cmd.kind === 'shelve_expire' && cmd.at < alarm.shelf.until)
    return fail(
      alarm,
      cmd,
      'shelve_not_expired',
      `shelved until ${new Date(alarm.shelf.until).toISOString()}`,
    );
  const a: Draft = { ...alarm };
  delete a.shelf;
  liftedState(a);
  return done(alarm, a, cmd.kind === 'unshelve' ? 'unshelved' : 'shelve_expired');
}

function suppress(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'suppress' }>): TransitionResult {
  if (alarm.suppressedBy.includes(cmd.ruleId))
    return fail(alarm, cmd, 'already_suppressed', `already suppressed by '${cmd.ruleId}'`);
  const a: Draft = { ...alarm, suppressedBy: [...alarm.suppressedBy, cmd.ruleId].sort() };
  liftedState(a);
  return done(alarm, a, 'suppressed');
}

function unsuppress(
  alarm: AlarmRecord,
  cmd: Extract<AlarmCommand, { kind: 'unsuppress' }>,
): TransitionResult {
  if (!alarm.suppressedBy.includes(cmd.ruleId))
    return fail(alarm, cmd, 'not_suppressed', `not suppressed by '${cmd.ruleId}'`);
  const a: Draft = { ...alarm, suppressedBy: alarm.suppressedBy.filter((r) => r !== cmd.ruleId) };
  liftedState(a);
  return done(alarm, a, 'unsuppressed');
}

function oosSet(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'oos_set' }>): TransitionResult {
  if (alarm.outOfService)
    return fail(alarm, cmd, 'already_out_of_service', `already out of service (by ${alarm.outOfService.by})`);
  if (cmd.reason.trim() === '')
    return fail(alarm, cmd, 'reason_required', 'a reason is required to take an alarm out of service');
  return done(
    alarm,
    {
      ...alarm,
      outOfService: { by: cmd.actor.name, reason: cmd.reason.trim(), at: cmd.at },
      state: 'out_of_service',
    },
    'out_of_service',
  );
}

function oosClear(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'oos_clear' }>): TransitionResult {
  if (!alarm.outOfService) return fail(alarm, cmd, 'not_out_of_service', 'not out of service');
  const a: Draft = { ...alarm };
  delete a.outOfService;
  liftedState(a);
  return done(alarm, a, 'returned_to_service');
}

function realarm(alarm: AlarmRecord, cmd: Extract<AlarmCommand, { kind: 'realarm' }>): TransitionResult {
  if (alarm.state !== 'acknowledged' || !alarm.active)
    return fail(alarm, cmd, 'not_realarmable', 'only an acknowledged, still active alarm is re-announced');
  const a: Draft = { ...alarm, state: 'unacknowledged', acked: false };
  delete a.ackedAt;
  delete a.ackedBy;
  return done(alarm, a, 'realarm');
}

/** Applies one command. Never throws for an illegal transition: returns `{ ok: false, error }` with a typed code. */
export function applyAlarmCommand(input: AlarmRecord, cmd: AlarmCommand): TransitionResult {
  const alarm = withLatch(input);
  switch (cmd.kind) {
    case 'activate':
      return activate(alarm, cmd);
    case 'clear':
      return clear(alarm, cmd);
    case 'ack':
      return ack(alarm, cmd);
    case 'reset':
      return reset(alarm, cmd);
    case 'shelve':
      return shelve(alarm, cmd);
    case 'unshelve':
    case 'shelve_expire':
      return unshelve(alarm, cmd);
    case 'suppress':
      return suppress(alarm, cmd);
    case 'unsuppress':
      return unsuppress(alarm, cmd);
    case 'oos_set':
      return oosSet(alarm, cmd);
    case 'oos_clear':
      return oosClear(alarm, cmd);
    case 'realarm':
      return realarm(alarm, cmd);
  }
}

/** A brand-new alarm before its first activation: `normal`, clear, acked (nothing pending). */
export function newAlarm(key: {
  id: string;
  siteId: string;
  sourceId: string;
  ruleId: string;
  deviceId?: string;
  condition: string;
  priority: Priority;
  latching: boolean;
  at: number;
}): AlarmRecord {
  const { deviceId, at, ...rest } = key;
  return Object.freeze({
    ...rest,
    ...(deviceId !== undefined ? { deviceId } : {}),
    value: null,
    limit: null,
    message: '',
    state: 'normal',
    active: false,
    acked: true,
    raisedAt: at,
    seq: 0,
    suppressedBy: Object.freeze([]),
  });
}

/** True when an acknowledged alarm has stayed active for ReAlarmTime since its ack and should be re-announced. */
export function dueForRealarm(alarm: AlarmRecord, now: number, reAlarmMs: number): boolean {
  return (
    reAlarmMs > 0 &&
    alarm.state === 'acknowledged' &&
    alarm.active &&
    alarm.ackedAt !== undefined &&
    now - alarm.ackedAt >= reAlarmMs
  );
}

/** True when a shelf has reached its end (the alarm may be shelved under another overlay). */
export function dueForUnshelve(alarm: AlarmRecord, now: number): boolean {
  return alarm.shelf !== undefined && now >= alarm.shelf.until;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The public snapshot (docs/contract.md §4). */
export function toSnapshot(a: AlarmRecord): AlarmSnapshot {
  const s: AlarmSnapshot = {
    id: a.id,
    siteId: a.siteId,
    sourceId: a.sourceId,
    ruleId: a.ruleId,
    condition: a.condition,
    priority: a.priority,
    level: PRIORITY_LEVEL[a.priority],
    state: a.state,
    active: a.active,
    acked: a.acked,
    value: a.value,
    limit: a.limit,
    message: a.message,
    raisedAt: iso(a.raisedAt),
    seq: a.seq,
    ...(a.deviceId !== undefined ? { deviceId: a.deviceId } : {}),
  };
  if (a.ackedAt !== undefined) s.ackedAt = iso(a.ackedAt);
  if (a.ackedBy !== undefined) s.ackedBy = a.ackedBy;
  if (a.clearedAt !== undefined) s.clearedAt = iso(a.clearedAt);
  if (a.shelf) {
    s.shelvedUntil = iso(a.shelf.until);
    s.shelvedBy = a.shelf.by;
  }
  if (a.suppressedBy.length > 0) s.suppressedBy = [...a.suppressedBy];
  if (a.outOfService) s.outOfServiceBy = a.outOfService.by;
  if (a.latched === true || a.state === 'latched') s.latchHeld = true;
  return s;
}
