import { chlorineLeakScenario } from './scenarios/chlorine-leak.scenario';
import { commsLossScenario } from './scenarios/comms-loss.scenario';
import { detectorDriftScenario } from './scenarios/detector-drift.scenario';
import { detectorFaultScenario } from './scenarios/detector-fault.scenario';
import { lightningSystemFaultScenario } from './scenarios/lightning-system-fault.scenario';
import { overfillScenario } from './scenarios/overfill.scenario';
import { valveStuckScenario } from './scenarios/valve-stuck.scenario';
import { SCENARIO_NAMES, ScenarioError, type Scenario, type ScenarioName } from './scenario.types';

/** Every scenario by name (one scenario per rule kind, named in SCENARIO_NAMES). */
export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  'chlorine-leak': chlorineLeakScenario,
  overfill: overfillScenario,
  'valve-stuck': valveStuckScenario,
  'detector-drift': detectorDriftScenario,
  'detector-fault': detectorFaultScenario,
  'comms-loss': commsLossScenario,
  'lightning-system-fault': lightningSystemFaultScenario,
};

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** The scenario of that name, or a ScenarioError listing the valid names. */
export function getScenario(name: string): Scenario {
  if (!isScenarioName(name))
    throw new ScenarioError(`unknown scenario '${name}'; valid scenarios: ${SCENARIO_NAMES.join(', ')}`);
  return SCENARIOS[name];
}
