import { numberSpan } from '../device.model';
import type { Scenario } from '../scenario.types';
import { firstDevice, keys, sameDevice, scenarioTiming } from './scenario.util';

/** Detector fault: the first gas detector reports `fault: true` with quality `bad` and a dead zero reading. */
export const detectorFaultScenario: Scenario = {
  name: 'detector-fault',
  description: 'the first gas detector reports fault=true, quality bad, conc at the bottom of its span',
  prepare(devices, opts) {
    const { startMs } = scenarioTiming('detector-fault', opts);
    const detector = firstDevice('detector-fault', devices, 'gas_detector', 'a gas detector');
    return {
      targets: keys([detector]),
      override(device, tMs) {
        if (!sameDevice(device, detector) || tMs < startMs) return undefined;
        return { values: { conc: numberSpan(device, 'conc')[0], fault: true }, quality: 'bad' };
      },
    };
  },
};
