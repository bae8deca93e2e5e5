import { decodeAsIngest, demoDevices } from './demo-plant.fixture';
import type { ScenarioRun } from './scenario.types';
import { SimulatedDevice } from './simulated-device';

const WALL = 1_795_000_000_000;

describe('SimulatedDevice', () => {
  it('should publish payloads the ingest decoder accepts without a single reject for every demo device', () => {
    const rejects: string[] = [];
    let readings = 0;
    for (const d of demoDevices()) {
      const sim = new SimulatedDevice(d, d.periodS * 1000, 42);
      for (let k = 0; k < 200; k++) {
        const r = sim.tick(k * d.periodS * 1000, WALL + k * 1000);
        if (r.action !== 'publish') throw new Error(`unexpected ${r.action}`);
        const decoded = decodeAsIngest(d, r.payload);
        rejects.push(...decoded.rejects.map((x) => `${d.id}: ${x.reason} ${x.detail}`));
        readings += decoded.readings.length;
        expect(decoded.readings.map((x) => x.channel).sort()).toEqual([...d.channels.keys()].sort());
      }
    }
    expect(rejects).toEqual([]);
    expect(readings).toBeGreaterThan(0);
  });

  it('should number messages 0, 1, 2, … and stamp them with the wall time when ticked', () => {
    const d = demoDevices()[0]!;
    const sim = new SimulatedDevice(d, 1000, 1);
    const out = [0, 1, 2].map((k) => sim.tick(k * 1000, WALL + k));
    expect(
      out.map((r) => (r.action === 'publish' ? [r.payload.seq, r.payload.ts, r.payload.quality] : null)),
    ).toEqual([
      [0, WALL, 'good'],
      [1, WALL + 1, 'good'],
      [2, WALL + 2, 'good'],
    ]);
  });

  it('should merge scenario values over the base values and use the scenario quality when one is active', () => {
    const d = demoDevices().find((x) => x.kind === 'gas_detector')!;
    const scenario: ScenarioRun = {
      targets: [],
      override: (_d, t) => (t >= 2000 ? { values: { fault: true }, quality: 'bad' } : undefined),
    };
    const sim = new SimulatedDevice(d, 1000, 1, scenario);
    const [a, , c] = [0, 1000, 2000].map((t) => sim.tick(t, WALL + t));
    expect(a).toMatchObject({ action: 'publish', payload: { values: { fault: false }, quality: 'good' } });
    expect(c).toMatchObject({ action: 'publish', payload: { values: { fault: true }, quality: 'bad' } });
    expect(c?.action === 'publish' && typeof c.payload.values.conc).toBe('number');
  });

  it('should go silent or offline when the scenario says so, still counting samples in seq', () => {
    const d = demoDevices()[0]!;
    const scenario: ScenarioRun = {
      targets: [],
      override: (_d, t) => (t === 1000 ? { silent: true } : t === 2000 ? { offline: true } : undefined),
    };
    const sim = new SimulatedDevice(d, 1000, 1, scenario);
    const out = [0, 1000, 2000, 3000].map((t) => sim.tick(t, WALL + t));
    expect(out.map((r) => r.action)).toEqual(['publish', 'silent', 'offline', 'publish']);
    expect(out[3]?.action === 'publish' && out[3].payload.seq).toBe(3);
  });
});
