/** A boolean channel that reports a fault when true (a gas detector's `fault`). Active while true. */
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
      if (r.value !== slot.active)
        slot.set(
          r.value,
          rule.priority,
          r.value,
          null,
          ts,
          r.value ? `${rule.deviceId} reports ${rule.channel}` : `${rule.deviceId} ${rule.channel} cleared`,
          emit,
        );
    },
    advance() {},
    nextDue: () => Infinity,
  };
}
