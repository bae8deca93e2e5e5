/** Quality `bad` on a device's readings raises a fault (limit checks skip bad readings); good or uncertain clears it. */
import type { Reading } from '../../common/types';
import { ConditionSlot, NO_SEED, type SeedLookup } from './condition';
import type { RuleMachine } from './rule-machine';
import type { QualityRule } from './rule-spec';

export function createQualityMachine(rule: QualityRule, seed: SeedLookup = NO_SEED): RuleMachine<Reading> {
  const slot = new ConditionSlot(
    {
      ruleId: rule.ruleId,
      siteId: rule.siteId,
      sourceId: rule.sourceId,
      deviceId: rule.deviceId,
      condition: 'quality_bad',
    },
    rule.priority,
    seed,
  );
  let lastTs = -Infinity;
  return {
    input(r, ts, emit) {
      if (ts < lastTs) return;
      lastTs = ts;
      const bad = r.quality === 'bad';
      if (bad !== slot.active)
        slot.set(
          bad,
          rule.priority,
          r.quality,
          'good',
          ts,
          bad
            ? `${rule.deviceId} sends bad-quality data (${r.channel})`
            : `${rule.deviceId} data quality ${r.quality} again`,
          emit,
        );
    },
    advance() {},
    nextDue: () => Infinity,
  };
}
