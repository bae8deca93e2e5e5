/**
 * Interlock supervision: while a trigger condition is active (voted gas, one detector at level 2, tank HH, …), each
 * listed shut-off valve must report `closed` within its time, else a critical `shutoff_failed` (one per valve). It clears
 * when the valve reports closed or the trigger ends. Input: condition changes and the valves' position readings.
 */
import type { Reading } from '../../common/types';
import {
  conditionKey,
  ConditionSlot,
  NO_SEED,
  type ConditionChange,
  type Emit,
  type SeedLookup,
} from './condition';
import type { RuleMachine } from './rule-machine';
import { refMatches, type InterlockRule, type InterlockValve } from './rule-spec';

type ValveState = { spec: InterlockValve; slot: ConditionSlot; position: string | null; due: number };

export const isCondition = (x: ConditionChange | Reading): x is ConditionChange => 'condition' in x;

export function createInterlockMachine(
  rule: InterlockRule,
  seed: SeedLookup = NO_SEED,
  activeNow: readonly ConditionChange[] = [],
  startTs = 0,
): RuleMachine<ConditionChange | Reading> {
  const valves = new Map<string, ValveState>(
    rule.valves.map((spec) => [
      spec.deviceId,
      {
        spec,
        slot: new ConditionSlot(
          {
            ruleId: rule.ruleId,
            siteId: rule.siteId,
            sourceId: spec.sourceId,
            deviceId: spec.deviceId,
            condition: 'shutoff_failed',
          },
          rule.priority,
          seed,
        ),
        position: null,
        due: Infinity,
      },
    ]),
  );
  const triggers = new Set<string>();
  const triggerNames = new Map<string, string>();
  const matches = (c: ConditionChange): boolean => rule.trigger.some((ref) => refMatches(ref, c));
  for (const c of activeNow) if (c.active && matches(c)) triggers.add(conditionKey(c));
  let triggerSince = triggers.size > 0 ? startTs : NaN;
  if (triggers.size > 0)
    for (const v of valves.values()) if (!v.slot.active) v.due = startTs + v.spec.closeWithinMs;

  const closeMsg = (v: ValveState, ts: number): string =>
    `${v.spec.deviceId} reported closed ${Number.isNaN(triggerSince) ? '' : `${Math.round((ts - triggerSince) / 100) / 10} s after the trip demand `}(limit ${v.spec.closeWithinMs / 1000} s)`;

  const evaluate = (ts: number, emit: Emit): void => {
    for (const v of valves.values()) {
      if (v.due <= ts && v.position !== 'closed') {
        const cause = [...triggerNames.values()].join(', ');
        v.slot.set(
          true,
          rule.priority,
          v.position,
          v.spec.closeWithinMs / 1000,
          v.due,
          `${v.spec.deviceId} failed to close within ${v.spec.closeWithinMs / 1000} s of ${cause || 'the trip demand'} (position ${v.position ?? 'unknown'})`,
          emit,
        );
        v.due = Infinity;
      }
    }
  };

  return {
    input(x, ts, emit) {
      if (isCondition(x)) {
        if (!matches(x)) return;
        const key = conditionKey(x);
        const wasActive = triggers.size > 0;
        if (x.active) {
          triggers.add(key);
          triggerNames.set(key, `${x.condition}${x.deviceId ? ` on ${x.deviceId}` : ''}`);
        } else {
          triggers.delete(key);
          triggerNames.delete(key);
        }
        const isActive = triggers.size > 0;
        if (isActive && !wasActive) {
          triggerSince = ts;
          for (const v of valves.values())
            if (v.position !== 'closed' && !v.slot.active) v.due = ts + v.spec.closeWithinMs;
        } else if (!isActive && wasActive) {
          triggerSince = NaN;
          for (const v of valves.values()) {
            v.due = Infinity;
            if (v.slot.active)
              v.slot.set(
                false,
                rule.priority,
                v.position,
                v.spec.closeWithinMs / 1000,
                ts,
                `${v.spec.deviceId}: trip demand ended`,
                emit,
              );
          }
        }
      } else {
        if (x.channel !== 'position' || typeof x.value !== 'string') return;
        const v = valves.get(x.deviceId);
        if (!v || x.siteId !== rule.siteId) return;
        v.position = x.value;
        if (x.value === 'closed') {
          v.due = Infinity;
          if (v.slot.active)
            v.slot.set(false, rule.priority, x.value, v.spec.closeWithinMs / 1000, ts, closeMsg(v, ts), emit);
        } else if (triggers.size > 0 && !v.slot.active && v.due === Infinity) {
          // Re-opened (or first heard of) during a trip demand: it gets its closing time from now.
          v.due = ts + v.spec.closeWithinMs;
        }
      }
      evaluate(ts, emit);
    },
    advance(ts, emit) {
      evaluate(ts, emit);
    },
    nextDue() {
      let due = Infinity;
      for (const v of valves.values()) if (v.due < due) due = v.due;
      return due;
    },
  };
}
