/**
 * Limit alarms H / HH / L / LL (and gas level 1 / level 2) on a numeric channel, each limit with its own priority,
 * deadband, on-delay and off-delay. Bad-quality readings get no limit check (the quality rule raises a fault); late
 * readings never roll the state back (newest wins).
 */
import type { Reading } from '../../common/types';
import { ConditionSlot, fmt, NO_SEED, type Emit, type SeedLookup } from './condition';
import { beyondLimit } from './deadband';
import { DelayFilter } from './on-off-delay';
import type { RuleMachine } from './rule-machine';
import type { LimitRule, LimitSpec } from './rule-spec';

type LimitState = { spec: LimitSpec; slot: ConditionSlot; filter: DelayFilter; raw: boolean };

export function createLimitMachine(rule: LimitRule, seed: SeedLookup = NO_SEED): RuleMachine<Reading> {
  const states: LimitState[] = rule.limits.map((spec) => {
    const slot = new ConditionSlot(
      {
        ruleId: rule.ruleId,
        siteId: rule.siteId,
        sourceId: rule.sourceId,
        deviceId: rule.deviceId,
        condition: spec.condition,
      },
      spec.priority,
      seed,
    );
    return {
      spec,
      slot,
      filter: new DelayFilter(spec.onDelayMs, spec.offDelayMs, slot.active),
      raw: slot.active,
    };
  });
  const unit = rule.unit === '' ? '' : ` ${rule.unit}`;
  let lastTs = -Infinity;
  let lastValue = NaN;

  const publish = (s: LimitState, ts: number, emit: Emit): void => {
    const { spec } = s;
    const active = s.filter.active;
    const cmp = spec.direction === 'high' ? '≥' : '≤';
    const message = active
      ? `${rule.deviceId} ${rule.channel} ${fmt(lastValue)}${unit} ${cmp} ${spec.condition} limit ${fmt(spec.value)}${unit}`
      : `${rule.deviceId} ${rule.channel} back to normal (${fmt(lastValue)}${unit}, ${spec.condition} limit ${fmt(spec.value)}${unit}, deadband ${fmt(spec.deadband)})`;
    s.slot.set(active, spec.priority, lastValue, spec.value, ts, message, emit);
  };

  return {
    input(r, ts, emit) {
      if (typeof r.value !== 'number' || r.quality === 'bad' || ts < lastTs) return;
      lastTs = ts;
      lastValue = r.value;
      for (let i = 0; i < states.length; i++) {
        const s = states[i]!;
        s.raw = beyondLimit(s.raw, r.value, s.spec.value, s.spec.deadband, s.spec.direction);
        const t = s.filter.update(s.raw, ts);
        if (t === t) publish(s, t, emit); // t === t: not NaN
      }
    },
    advance(ts, emit) {
      for (const s of states) {
        const t = s.filter.advance(ts);
        if (!Number.isNaN(t)) publish(s, t, emit);
      }
    },
    nextDue() {
      let due = Infinity;
      for (let i = 0; i < states.length; i++) {
        const d = states[i]!.filter.nextDue();
        if (d < due) due = d;
      }
      return due;
    },
  };
}
