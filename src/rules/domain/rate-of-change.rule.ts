/**
 * Rate of change: the least-squares slope over a window (robust to sensor noise) compared with a maximum rise and/or
 * fall per minute (a tank filling too fast, a pressure jump). Needs ≥ 3 points spanning half the window. Clears when
 * the rate falls back below `clearFraction` of the limit.
 */
import type { Reading } from '../../common/types';
import { ConditionSlot, fmt, NO_SEED, type SeedLookup } from './condition';
import { TrendWindow } from './least-squares';
import type { RuleMachine } from './rule-machine';
import type { RocRule } from './rule-spec';

export function createRocMachine(rule: RocRule, seed: SeedLookup = NO_SEED): RuleMachine<Reading> {
  const id = { ruleId: rule.ruleId, siteId: rule.siteId, sourceId: rule.sourceId, deviceId: rule.deviceId };
  const rise = new ConditionSlot({ ...id, condition: 'roc_rise' }, rule.priority, seed);
  const fall = new ConditionSlot({ ...id, condition: 'roc_fall' }, rule.priority, seed);
  const win = new TrendWindow(rule.windowMs, 64);
  const unit = rule.unit === '' ? '' : ` ${rule.unit}`;
  return {
    input(r, ts, emit) {
      if (typeof r.value !== 'number' || r.quality === 'bad') return;
      if (ts < win.newestT() - rule.windowMs) return;
      if (!win.add(ts, r.value)) return;
      if (win.size < 3 || win.newestT() - win.oldestT() < rule.windowMs / 2) return;
      const f = win.fit();
      if (!f) return;
      const perMin = f.slope * 60_000;
      const at = win.newestT();
      if (rule.maxRisePerMin !== null) {
        const lim = rule.maxRisePerMin;
        const on = rise.active ? perMin > lim * rule.clearFraction : perMin > lim;
        if (on !== rise.active)
          rise.set(
            on,
            rule.priority,
            Math.round(perMin * 1000) / 1000,
            lim,
            at,
            on
              ? `${rule.deviceId} ${rule.channel} rising ${fmt(perMin)}${unit}/min (limit ${fmt(lim)}${unit}/min)`
              : `${rule.deviceId} ${rule.channel} rate back to ${fmt(perMin)}${unit}/min`,
            emit,
          );
      }
      if (rule.maxFallPerMin !== null) {
        const lim = rule.maxFallPerMin;
        const on = fall.active ? -perMin > lim * rule.clearFraction : -perMin > lim;
        if (on !== fall.active)
          fall.set(
            on,
            rule.priority,
            Math.round(perMin * 1000) / 1000,
            -lim,
            at,
            on
              ? `${rule.deviceId} ${rule.channel} falling ${fmt(-perMin)}${unit}/min (limit ${fmt(lim)}${unit}/min)`
              : `${rule.deviceId} ${rule.channel} rate back to ${fmt(perMin)}${unit}/min`,
            emit,
          );
      }
    },
    advance() {},
    nextDue: () => Infinity,
  };
}
