/**
 * Predictive overfill: from the least-squares trend of a tank's level over a window, the time until HH
 * = (HH − fitted level) / rate of rise. Raised when it falls below the horizon (minutes); cleared when the trend
 * reverses (rate ≤ 0). A level already at or above HH with a rising trend counts as 0 minutes.
 */
import type { Reading } from '../../common/types';
import { ConditionSlot, fmt, NO_SEED, type SeedLookup } from './condition';
import { TrendWindow } from './least-squares';
import type { RuleMachine } from './rule-machine';
import type { OverfillRule } from './rule-spec';

export function minutesToLimit(level: number, slopePerMin: number, limit: number): number {
  if (slopePerMin <= 0) return Infinity;
  return Math.max(0, (limit - level) / slopePerMin);
}

export function createOverfillMachine(rule: OverfillRule, seed: SeedLookup = NO_SEED): RuleMachine<Reading> {
  const slot = new ConditionSlot(
    {
      ruleId: rule.ruleId,
      siteId: rule.siteId,
      sourceId: rule.sourceId,
      deviceId: rule.deviceId,
      condition: 'overfill_predicted',
    },
    rule.priority,
    seed,
  );
  const win = new TrendWindow(rule.windowMs, 256);
  return {
    input(r, ts, emit) {
      if (typeof r.value !== 'number' || r.quality === 'bad') return;
      if (ts < win.newestT() - rule.windowMs) return;
      if (!win.add(ts, r.value)) return;
      if (win.size < rule.minPoints) return;
      const f = win.fit();
      if (!f) return;
      const perMin = f.slope * 60_000;
      const minutes = minutesToLimit(f.yAtNewest, perMin, rule.hh);
      const at = win.newestT();
      if (!slot.active && minutes < rule.horizonMin) {
        slot.set(
          true,
          rule.priority,
          Math.round(minutes * 10) / 10,
          rule.horizonMin,
          at,
          `${rule.deviceId} predicted to reach HH ${fmt(rule.hh)} % in ${fmt(Math.round(minutes * 10) / 10)} min (rising ${fmt(perMin)} %/min, level ${fmt(f.yAtNewest)} %)`,
          emit,
        );
      } else if (slot.active && perMin <= 0) {
        slot.set(
          false,
          rule.priority,
          Math.round(perMin * 1000) / 1000,
          rule.horizonMin,
          at,
          `${rule.deviceId} level trend reversed (${fmt(perMin)} %/min)`,
          emit,
        );
      }
    },
    advance() {},
    nextDue: () => Infinity,
  };
}
