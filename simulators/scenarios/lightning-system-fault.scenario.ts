import type { Scenario } from '../scenario.types';
import { firstDevice, keys, sameDevice, scenarioTiming } from './scenario.util';

/** Lightning-warning system fault: the first lightning safety system reports `fault`. */
export const lightningSystemFaultScenario: Scenario = {
  name: 'lightning-system-fault',
  description: 'the first lightning-warning safety system reports status fault',
  prepare(devices, opts) {
    const { startMs } = scenarioTiming('lightning-system-fault', opts);
    const system = firstDevice(
      'lightning-system-fault',
      devices,
      'safety_system',
      "a safety system with system 'lightning'",
      (d) => d.system === 'lightning',
    );
    return {
      targets: keys([system]),
      override(device, tMs) {
        if (!sameDevice(device, system) || tMs < startMs) return undefined;
        return { values: { status: 'fault' } };
      },
    };
  },
};
