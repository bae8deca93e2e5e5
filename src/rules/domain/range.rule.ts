/**
 * Out-of-range: a value beyond the instrument span but inside the physical limits (ingest rejected the rest), the
 * 4–20 mA over/under-range of a transmitter. For gas detectors over-range counts as level 2 (catalytic sensors read
 * falsely low at very high concentrations) and under-range below −5 % of span is a drift/maintenance alarm.
 */
import type { Reading } from '../../common/types';
import { ConditionSlot, fmt, NO_SEED, type SeedLookup } from './condition';
import type { RuleMachine } from './rule-machine';
import type { RangeRule } from './rule-spec';

export function createRangeMachine(rule: RangeRule, seed: SeedLookup = NO_SEED): RuleMachine<Reading> {
  const id = { ruleId: rule.ruleId, siteId: rule.siteId, sourceId: rule.sourceId, deviceId: rule.deviceId };
  const over = new ConditionSlot({ ...id, condition: 'over_range' }, rule.overPriority, seed);
  const under = new ConditionSlot({ ...id, condition: 'under_range' }, rule.underPriority, seed);
  const unit = rule.unit === '' ? '' : ` ${rule.unit}`;
  const spanText = `span ${fmt(rule.span[0])}–${fmt(rule.span[1])}${unit}`;
  let lastTs = -Infinity;
  return {
    input(r, ts, emit) {
      if (typeof r.value !== 'number' || r.quality === 'bad' || ts < lastTs) return;
      lastTs = ts;
      const v = r.value;
      const isOver = v > rule.overAbove;
      if (isOver !== over.active)
        over.set(
          isOver,
          rule.overPriority,
          v,
          rule.overAbove,
          ts,
          isOver
            ? `${rule.deviceId} ${rule.channel} over range: ${fmt(v)}${unit} above ${spanText}`
            : `${rule.deviceId} ${rule.channel} back in range (${fmt(v)}${unit})`,
          emit,
        );
      const isUnder = v < rule.underBelow;
      if (isUnder !== under.active)
        under.set(
          isUnder,
          rule.underPriority,
          v,
          rule.underBelow,
          ts,
          isUnder
            ? `${rule.deviceId} ${rule.channel} under range: ${fmt(v)}${unit} below ${fmt(rule.underBelow)}${unit} (${spanText})`
            : `${rule.deviceId} ${rule.channel} back in range (${fmt(v)}${unit})`,
          emit,
        );
    },
    advance() {},
    nextDue: () => Infinity,
  };
}
