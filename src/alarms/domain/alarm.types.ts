/** Alarm model (ISA-18.2 / IEC 62682, docs/domain.md §5). Pure types: no framework, no I/O. */
import type { ColourLevel, Priority } from '../../common/types';
import type { ConditionIdentity, ConditionValue } from './condition-change';

export const ALARM_STATES = [
  'normal',
  'unacknowledged',
  'acknowledged',
  'rtn_unacknowledged',
  'latched',
  'shelved',
  'suppressed',
  'out_of_service',
] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/** States an operator sees in the alarm list (and may shelve). */
export const SHOWN_STATES: ReadonlySet<AlarmState> = new Set([
  'unacknowledged',
  'acknowledged',
  'rtn_unacknowledged',
  'latched',
]);
/** States that hide the alarm from the operator while it is still evaluated and journalled. */
export const HIDDEN_STATES: ReadonlySet<AlarmState> = new Set(['shelved', 'suppressed', 'out_of_service']);

export const isAlarmState = (s: string): s is AlarmState => (ALARM_STATES as readonly string[]).includes(s);

/** Who did something. `system` is hazwatch itself (timers, design suppression). */
export type ActorRole = 'operator' | 'supervisor' | 'regulator' | 'admin' | 'video' | 'system';
export type Actor = { readonly name: string; readonly role: ActorRole; readonly tokenId?: string };
export const SYSTEM_ACTOR: Actor = Object.freeze({ name: 'hazwatch', role: 'system' });

export type Shelf = {
  readonly until: number;
  readonly by: string;
  readonly reason: string;
  readonly at: number;
};
export type OutOfService = { readonly by: string; readonly reason: string; readonly at: number };

/**
 * The full current state of one alarm: the unit the state machine works on and the row the alarm table keeps.
 * One alarm per (ruleId, sourceId, deviceId, condition); it lives on across raise/clear cycles.
 */
export type AlarmRecord = ConditionIdentity & {
  readonly id: string;
  readonly priority: Priority;
  readonly value: ConditionValue;
  readonly limit: ConditionValue;
  readonly message: string;
  /** Displayed ISA-18.2 state. */
  readonly state: AlarmState;
  /** The condition underneath, tracked in every state (shelved, suppressed and OOS included). */
  readonly active: boolean;
  readonly acked: boolean;
  /** Latched per rule (config): a clear goes to `latched` and waits for ack + reset. */
  readonly latching: boolean;
  /**
   * The latch is held: a latching alarm's condition has been active since its last reset. Set by every activation
   * (shown or under an overlay), ended only by `reset` (ack first). Overlays (shelve, suppression, out of service)
   * hide it but never end it: when the last overlay lifts, a held latch whose condition cleared shows as `latched`
   * (docs/alarm-lifecycle.md). Absent on records written before it existed; `state: 'latched'` implies it.
   */
  readonly latched?: boolean;
  /** Last activation, epoch ms. */
  readonly raisedAt: number;
  readonly ackedAt?: number;
  readonly ackedBy?: string;
  readonly clearedAt?: number;
  /** Seq of the last journal event that changed this alarm. */
  readonly seq: number;
  readonly shelf?: Shelf;
  /** Ids of the design-suppression rules currently holding this alarm (sorted, unique). */
  readonly suppressedBy: readonly string[];
  readonly outOfService?: OutOfService;
};

export type AlarmEventType =
  | 'raised'
  | 'updated'
  | 'cleared'
  | 'acknowledged'
  | 'reset'
  | 'shelved'
  | 'unshelved'
  | 'shelve_expired'
  | 'suppressed'
  | 'unsuppressed'
  | 'out_of_service'
  | 'returned_to_service'
  | 'realarm'
  /**
   * A journal-only entry that changes no state: a record about the alarm made by another module through
   * `AlarmService.note` (disposal record filed or reviewed, hidden-danger item, ...). `comment` carries the text.
   */
  | 'note';

export const ALARM_EVENT_TYPES: readonly AlarmEventType[] = [
  'raised',
  'updated',
  'cleared',
  'acknowledged',
  'reset',
  'shelved',
  'unshelved',
  'shelve_expired',
  'suppressed',
  'unsuppressed',
  'out_of_service',
  'returned_to_service',
  'realarm',
  'note',
];

/** Public alarm snapshot (docs/contract.md §4). Times are ISO-8601 UTC strings. */
export type AlarmSnapshot = ConditionIdentity & {
  id: string;
  priority: Priority;
  level: ColourLevel;
  state: AlarmState;
  active: boolean;
  acked: boolean;
  value: ConditionValue;
  limit: ConditionValue;
  message: string;
  raisedAt: string;
  ackedAt?: string;
  ackedBy?: string;
  clearedAt?: string;
  seq: number;
  /** Extra (not in docs/contract.md §4's minimum list, additive): shelve expiry, and the OOS/suppression reason. */
  shelvedUntil?: string;
  shelvedBy?: string;
  suppressedBy?: string[];
  outOfServiceBy?: string;
  /** Extra: true while a latch is held (also under an overlay); only ack + supervisor reset ends it. */
  latchHeld?: boolean;
};

/** One alarm event as pushed over /ws and replayed on resume: the snapshot after the event, its seq and type. */
export type AlarmEventDto = AlarmSnapshot & {
  event: AlarmEventType;
  /** When hazwatch recorded the event (ISO-8601). */
  at: string;
  actor?: string;
  comment?: string;
  /**
   * As announced live: false while the event is durable only in the server's write-ahead log, not yet in the journal
   * table; a later `journalled` frame clears it (docs/adr/0011-journal-before-announce.md). Absent on journal reads.
   */
  journalled?: boolean;
};
