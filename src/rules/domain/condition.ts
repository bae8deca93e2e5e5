/**
 * The rule engine's output: one change of one alarm condition. Public to the alarm module, which keeps one open
 * alarm per (ruleId, sourceId, deviceId, condition).
 */
import type { ChannelValue, Priority } from '../../common/types';

/**
 * The identity of one condition, and so of one alarm (the single definition: the alarm module's `AlarmKey`,
 * `AlarmRecord` and `AlarmSnapshot` build on it).
 */
export type ConditionIdentity = {
  /** Stable rule id, e.g. `limit:cl-gd-1:conc`, `vote:cl-a1`, or the id of an explicit rule in rules.yaml. */
  readonly ruleId: string;
  readonly siteId: string;
  /** Major hazard source the condition belongs to. */
  readonly sourceId: string;
  /** Absent for area-level conditions (votes, composites). */
  readonly deviceId?: string;
  /** Stable key: 'HH', 'gas_l2', 'stale', 'vote', 'shutoff_failed', ... */
  readonly condition: string;
};

/** Exactly the identity fields of a condition, alarm or snapshot (no `deviceId` key when it has none). */
export function conditionIdentity(x: ConditionIdentity): ConditionIdentity {
  const id = { ruleId: x.ruleId, sourceId: x.sourceId, siteId: x.siteId, condition: x.condition };
  return x.deviceId !== undefined ? { ...id, deviceId: x.deviceId } : id;
}

export type ConditionChange = ConditionIdentity & {
  readonly active: boolean;
  readonly priority: Priority;
  /** The value that caused the change (a reading, a count, minutes to overfill, ...); null when none applies. */
  readonly value: ChannelValue | null;
  /** The limit it was compared with; null when none applies. */
  readonly limit: number | string | null;
  /** Event time of the change, epoch ms. */
  readonly ts: number;
  readonly message: string;
  /** The site's latest wind when the condition was raised (sites with a weather station; docs/plant-model.md). */
  readonly weather?: { readonly windSpeedMs?: number; readonly windDirDeg?: number; readonly ts: number };
};

/** Identity of one condition inside the engine (site-scoped, because rule ids are unique per site only). */
export function conditionKey(
  c: Pick<ConditionIdentity, 'siteId' | 'ruleId' | 'deviceId' | 'condition'>,
): string {
  return `${c.siteId}|${c.ruleId}|${c.deviceId ?? ''}|${c.condition}`;
}

export type Emit = (change: ConditionChange) => void;

/** Looks up the last known state of a condition (used to seed new rule instances after a reload or a group release). */
export type SeedLookup = (key: string) => ConditionChange | undefined;

export const NO_SEED: SeedLookup = () => undefined;

/**
 * Holds the state of one condition and emits only real changes (activation, clear, or a priority change while
 * active). Rule state machines own one slot per condition they can raise.
 */
export class ConditionSlot {
  readonly key: string;
  active = false;
  priority: Priority;

  constructor(
    readonly id: ConditionIdentity,
    readonly defaultPriority: Priority,
    seed: SeedLookup = NO_SEED,
  ) {
    this.key = conditionKey(id);
    this.priority = defaultPriority;
    const s = seed(this.key);
    if (s?.active) {
      this.active = true;
      this.priority = s.priority;
    }
  }

  /** Emits when `active` or (while active) the priority changes. Returns true when something was emitted. */
  set(
    active: boolean,
    priority: Priority,
    value: ChannelValue | null,
    limit: number | string | null,
    ts: number,
    message: string,
    emit: Emit,
  ): boolean {
    if (active === this.active && (!active || priority === this.priority)) return false;
    this.active = active;
    this.priority = priority;
    const change: ConditionChange = {
      ...conditionIdentity(this.id),
      active,
      priority,
      value,
      limit,
      ts,
      message,
    };
    emit(change);
    return true;
  }
}

/** Rounds for messages: at most 3 significant decimals, no float noise. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Math.round(n * 1000) / 1000);
}
