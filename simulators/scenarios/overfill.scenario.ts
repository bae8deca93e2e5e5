import { clamp, numberSpan, roundForSpan } from '../device.model';
import type { Scenario } from '../scenario.types';
import { firstDevice, keys, sameDevice, scenarioTiming } from './scenario.util';

/** Fill rate during the runaway transfer, % of span per second (30 %/min; × `speed` in model time). */
const RATE_PCT_PER_S = 0.5;
const OVERFILL_PCT = 99;

/** Overfill: the first tank's level rises fast and steadily (a transfer nobody stopped) until it is nearly full. */
export const overfillScenario: Scenario = {
  name: 'overfill',
  description: "the first tank's level rises at 30 %/min from its normal level to 99 % and stays there",
  prepare(devices, opts) {
    const timing = scenarioTiming('overfill', opts);
    const tank = firstDevice('overfill', devices, 'tank', 'a tank');
    return {
      targets: keys([tank]),
      override(device, tMs, base) {
        const elapsed = timing.elapsed(tMs);
        if (!sameDevice(device, tank) || elapsed < 0) return undefined;
        const span = numberSpan(device, 'level_pct');
        const baseLevel = typeof base.level_pct === 'number' ? base.level_pct : span[0];
        const level = clamp(
          baseLevel + RATE_PCT_PER_S * (elapsed / 1000),
          span[0],
          Math.min(span[1], OVERFILL_PCT),
        );
        const values: Record<string, number | boolean> = { level_pct: roundForSpan(level, span) };
        // The independent HH level switch sees the same liquid.
        if (device.levelSwitchHHPct !== undefined) values.level_switch_hh = level >= device.levelSwitchHHPct;
        return { values };
      },
    };
  },
};
