import { DRILL_PHASES, type DrillSchedule } from '../../src/common/domain/drill-schedule';
import { deviceKey } from '../device.model';
import { demoDevices } from '../demo-plant.fixture';
import { getScenario } from '../scenario.registry';
import { prepareDrill } from './drill.scenario';

const START = 1_795_000_000_000;
const schedule: DrillSchedule = { anchorMs: START, firstMs: 60_000, everyMs: 600_000, phases: DRILL_PHASES };

describe('demo drill scenario', () => {
  const devices = demoDevices();
  const drill = prepareDrill(devices, schedule, START);
  const leak = getScenario('chlorine-leak').prepare(devices, { startMs: 0 });
  const overfill = getScenario('overfill').prepare(devices, { startMs: 0 });
  const byKey = new Map(devices.map((d) => [deviceKey(d), d]));
  const detector = byKey.get(leak.targets[0] as string)!;
  const tank = byKey.get(overfill.targets[0] as string)!;
  const base = { conc: 0.01, level_pct: 50 };

  it('acts on the devices of both phases', () => {
    expect(drill.targets).toEqual(expect.arrayContaining([...leak.targets, ...overfill.targets]));
  });

  it('leaves the plant normal before the first drill, between drills and after the drill', () => {
    for (const t of [0, 59_999, 60_000 + 270_000, 600_000 + 59_999])
      for (const d of [detector, tank]) expect(drill.override(d, t, base)).toBeUndefined();
  });

  it('plays the leak from the drill start and the overfill after it, the same in every cycle', () => {
    // 30 s into the leak: the same reading as the leak scenario 30 s after its start
    expect(drill.override(detector, 90_000, base)).toEqual(leak.override(detector, 30_000, base));
    expect(drill.override(detector, 90_000, base)).toBeDefined();
    // 60 s into the overfill phase
    expect(drill.override(tank, 60_000 + 120_000 + 60_000, base)).toEqual(
      overfill.override(tank, 60_000, base),
    );
    // the next cycle repeats the first
    expect(drill.override(detector, 600_000 + 90_000, base)).toEqual(drill.override(detector, 90_000, base));
  });
});
