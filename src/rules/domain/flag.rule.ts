/** A boolean channel that reports a condition (a gas detector's `fault`, a level switch, a discrete input). Active while it equals `activeWhen` (default true). */
import type { Reading } from '../../common/types';
import { ConditionSlot, NO_SEED, type SeedLookup } from './condition';
import type { RuleMachine } from './rule-machine';
import type { FlagRule } from './rule-spec';

export function createFlagMachine(rule: FlagRule, seed: SeedLookup = NO_SEED): RuleMachine<Reading> {
  const slot = new ConditionSlot(
    {
      ruleId: rule.ruleId,
      siteId: rule.siteId,
      sourceId: rule.sourceId,
      deviceId: rule.deviceId,
      condition: rule.condition,
    },
    rule.priority,
    seed,
  );
  let lastTs = -Infinity;
  return {
    input(r, ts, emit) {
      if (typeof r.value !== 'boolean' || ts < lastTs) return;
      lastTs = ts;
      const on = r.value === (rule.activeWhen ?? true);
      if (on !== slot.active)
        slot.set(
          on,
          rule.priority,
          r.value,
          null,
          ts,
          on ? `${rule.deviceId} reports ${rule.channel}` : `${rule.deviceId} ${rule.channel} cleared`,
          emit,
        );
    },
    advance() {},
    nextDue: () => Infinity,
  };
}
