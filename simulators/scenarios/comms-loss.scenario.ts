import type { Scenario } from '../scenario.types';
import { firstDevice, keys, sameDevice, scenarioTiming } from './scenario.util';

/** How long communication is lost (scenario time: divided by `speed` in model time). */
export const COMMS_LOSS_MS = 60_000;

/**
 * Comms loss: the first gas detector drops off the network (its connection dies, the broker publishes its
 * last will `offline`), and the first tank keeps its connection but stops sending telemetry (stale). Both
 * come back after a minute.
 */
export const commsLossScenario: Scenario = {
  name: 'comms-loss',
  description:
    'for 60 s the first gas detector loses its connection (LWT offline) and the first tank goes silent (stale); both return',
  prepare(devices, opts) {
    const timing = scenarioTiming('comms-loss', opts);
    const detector = firstDevice('comms-loss', devices, 'gas_detector', 'a gas detector');
    const tank = firstDevice('comms-loss', devices, 'tank', 'a tank');
    return {
      targets: keys([detector, tank]),
      override(device, tMs) {
        const elapsed = timing.elapsed(tMs);
        if (elapsed < 0 || elapsed >= COMMS_LOSS_MS) return undefined;
        if (sameDevice(device, detector)) return { offline: true };
        if (sameDevice(device, tank)) return { silent: true };
        return undefined;
      },
    };
  },
};
