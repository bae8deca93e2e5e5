import type { Scenario } from '../scenario.types';
import { firstDevice, keys, sameDevice, scenarioTiming } from './scenario.util';

/** Valve stuck: the first shut-off valve is demanded closed and never gets there: it reports `moving` for ever. */
export const valveStuckScenario: Scenario = {
  name: 'valve-stuck',
  description: 'the first shut-off valve is demanded closed and stays moving (stuck in travel)',
  prepare(devices, opts) {
    const { startMs } = scenarioTiming('valve-stuck', opts);
    const valve = firstDevice('valve-stuck', devices, 'shutoff_valve', 'a shut-off valve');
    return {
      targets: keys([valve]),
      override(device, tMs) {
        if (!sameDevice(device, valve) || tMs < startMs) return undefined;
        return { values: { demand: 'closed', position: 'moving' } };
      },
    };
  },
};
