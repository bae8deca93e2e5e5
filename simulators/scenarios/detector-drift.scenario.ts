import { numberSpan, roundForSpan } from '../device.model';
import type { Scenario } from '../scenario.types';
import { firstDevice, keys, sameDevice, scenarioTiming } from './scenario.util';

/** Zero drift, fraction of full scale per minute (scenario time: × `speed` in model time). */
const DRIFT_FS_PER_MIN = 0.1;
/** Where the drift settles, fraction of full scale (below the −5 % maintenance threshold, inside physical limits). */
const FLOOR_FS = -0.08;

/** Detector drift: the first gas detector's zero drifts negative (a worn cell) to −8 % of full scale. */
export const detectorDriftScenario: Scenario = {
  name: 'detector-drift',
  description: "the first gas detector's zero drifts down at 10 % FS/min and settles at −8 % of full scale",
  prepare(devices, opts) {
    const timing = scenarioTiming('detector-drift', opts);
    const detector = firstDevice('detector-drift', devices, 'gas_detector', 'a gas detector');
    return {
      targets: keys([detector]),
      override(device, tMs, base) {
        const elapsed = timing.elapsed(tMs);
        if (!sameDevice(device, detector) || elapsed < 0) return undefined;
        const span = numberSpan(device, 'conc');
        const full = span[1] - span[0];
        const baseConc = typeof base.conc === 'number' ? base.conc : span[0];
        const drifted = baseConc - DRIFT_FS_PER_MIN * full * (elapsed / 60_000);
        return { values: { conc: roundForSpan(Math.max(drifted, span[0] + FLOOR_FS * full), span) } };
      },
    };
  },
};
