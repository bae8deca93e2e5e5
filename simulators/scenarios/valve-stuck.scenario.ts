import { SCENARIO_START_MS, type Scenario } from '../scenario.types';
import { firstDevice, keys, sameDevice } from './scenario.util';

/** Valve stuck: the first shut-off valve is demanded closed and never gets there: it reports `moving` for ever. */
export const valveStuckScenario: Scenario = {
  name: 'valve-stuck',
  description: 'the first shut-off valve is demanded closed and stays moving (stuck in travel)',
  prepare(devices, opts) {
    const startMs = opts?.startMs ?? SCENARIO_START_MS;
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
