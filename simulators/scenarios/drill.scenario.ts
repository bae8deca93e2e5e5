import { drillAt, type DrillSchedule } from '../../src/common/domain/drill-schedule';
import type { SimDevice } from '../device.model';
import { getScenario } from '../scenario.registry';
import type { ScenarioRun } from '../scenario.types';

/**
 * The demo drill (演练, docs/adr/0024-demo-drill.md): the phases of the drill schedule (a chlorine leak, then an
 * overfill) played at their wall-clock times, again every period; between drills the plant is normal. Each phase
 * runs its scenario from the phase's start, so every drill looks the same. Throws ScenarioError (from a phase's
 * scenario) when the plant lacks the devices a phase needs.
 *
 * `startWallMs` is the wall-clock time of the simulator's model time 0.
 */
export function prepareDrill(
  devices: readonly SimDevice[],
  schedule: DrillSchedule,
  startWallMs: number,
): ScenarioRun {
  const runs = new Map(
    schedule.phases.map(
      (p) => [p.scenario, getScenario(p.scenario).prepare(devices, { startMs: 0 })] as const,
    ),
  );
  return {
    targets: [...new Set([...runs.values()].flatMap((r) => r.targets))],
    override(device, tMs, base) {
      const wall = startWallMs + tMs;
      const now = drillAt(schedule, wall);
      if (!now) return undefined;
      return runs.get(now.phase.scenario)?.override(device, wall - now.phaseStartMs, base);
    },
  };
}
