import { deviceKey, type SimDevice } from './device.model';
import { decodeAsIngest, demoDevices } from './demo-plant.fixture';
import { getScenario, SCENARIOS } from './scenario.registry';
import { SCENARIO_NAMES, SCENARIO_START_MS, ScenarioError, type ScenarioName } from './scenario.types';
import { SimulatedDevice, type TickResult } from './simulated-device';

const WALL = 1_795_000_000_000;

/** Runs the scenario on the demo plant: per device, what it did at each period, for `durationMs`. */
function runScenario(
  name: ScenarioName,
  durationMs: number,
  devices: SimDevice[] = demoDevices(),
  startMs?: number,
  speed?: number,
): Map<string, { t: number; r: TickResult }[]> {
  const run = getScenario(name).prepare(devices, {
    ...(startMs === undefined ? {} : { startMs }),
    ...(speed === undefined ? {} : { speed }),
  });
  const out = new Map<string, { t: number; r: TickResult }[]>();
  for (const d of devices) {
    const sim = new SimulatedDevice(d, 1000, 42, run);
    const list: { t: number; r: TickResult }[] = [];
    for (let t = 0; t <= durationMs; t += 1000) list.push({ t, r: sim.tick(t, WALL + t) });
    out.set(deviceKey(d), list);
  }
  return out;
}

const valuesOf = (
  ticks: { t: number; r: TickResult }[] | undefined,
  channel: string,
): Array<[number, unknown]> =>
  (ticks ?? []).map(({ t, r }) => [t, r.action === 'publish' ? r.payload.values[channel] : r.action]);

/** First model time at which the predicate holds. */
const firstTime = (
  ticks: { t: number; r: TickResult }[] | undefined,
  pred: (r: TickResult) => boolean,
): number | undefined => ticks?.find((x) => pred(x.r))?.t;

const conc = (r: TickResult): number => (r.action === 'publish' ? (r.payload.values.conc as number) : NaN);

describe('scenario registry', () => {
  it('should register every scenario in SCENARIO_NAMES under its own name', () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual([...SCENARIO_NAMES].sort());
    for (const name of SCENARIO_NAMES) expect(SCENARIOS[name].name).toBe(name);
  });

  it('should list every valid scenario when the name is unknown', () => {
    expect(() => getScenario('flood')).toThrow(ScenarioError);
    expect(() => getScenario('flood')).toThrow(
      `unknown scenario 'flood'; valid scenarios: ${SCENARIO_NAMES.join(', ')}`,
    );
  });

  it.each(SCENARIO_NAMES)('should find its target devices in the demo plant: %s', (name) => {
    expect(getScenario(name).prepare(demoDevices()).targets.length).toBeGreaterThan(0);
  });

  it.each(SCENARIO_NAMES)('should say what it needs when the simulated devices lack it: %s', (name) => {
    expect(() => getScenario(name).prepare([])).toThrow(new RegExp(`scenario '${name}' needs`));
  });

  it.each(SCENARIO_NAMES)('should only ever publish payloads the ingest decoder accepts: %s', (name) => {
    const rejects: string[] = [];
    const devices = demoDevices();
    for (const [key, ticks] of runScenario(name, 180_000, devices)) {
      const d = devices.find((x) => deviceKey(x) === key)!;
      for (const { r } of ticks)
        if (r.action === 'publish')
          rejects.push(...decodeAsIngest(d, r.payload).rejects.map((x) => `${key}: ${x.reason} ${x.detail}`));
    }
    expect(rejects).toEqual([]);
  });

  it.each(SCENARIO_NAMES)('should refuse a speed that is not a positive number: %s', (name) => {
    for (const speed of [0, -1, Number.NaN, Infinity])
      expect(() => getScenario(name).prepare(demoDevices(), { speed })).toThrow(
        /speed must be a positive number/,
      );
  });

  it.each(SCENARIO_NAMES)('should behave exactly as without the option when the speed is 1: %s', (name) => {
    const plain = runScenario(name, 120_000);
    const speed1 = runScenario(name, 120_000, demoDevices(), undefined, 1);
    expect(speed1).toEqual(plain);
  });

  it.each(SCENARIO_NAMES)('should leave every device unchanged before the scenario starts: %s', (name) => {
    const withScenario = runScenario(name, SCENARIO_START_MS - 1000);
    for (const d of demoDevices()) {
      const plain = new SimulatedDevice(d, 1000, 42);
      const expected = withScenario.get(deviceKey(d))!.map(({ t }) => plain.tick(t, WALL + t));
      expect(withScenario.get(deviceKey(d))!.map((x) => x.r)).toEqual(expected);
    }
  });
});

describe('chlorine-leak', () => {
  const run = runScenario('chlorine-leak', 120_000);
  const detectors = ['cl-gd-1', 'cl-gd-2', 'cl-gd-3'].map((id) => run.get(`bohai-chem/${id}`));

  it('should raise the chlorine detectors past level 2 one after another, 5 s apart', () => {
    const level2 = 2; // mg/m3 in the demo plant
    const crossed = detectors.map((ticks) => firstTime(ticks, (r) => conc(r) >= level2));
    expect(crossed).toEqual([25_000, 30_000, 35_000]);
  });

  it('should demand the area valves closed after the vote trips and close them only after twice their travel time', () => {
    const valve = run.get('bohai-chem/cl-xv-1');
    const demandClosed = firstTime(
      valve,
      (r) => r.action === 'publish' && r.payload.values.demand === 'closed',
    );
    const closed = firstTime(valve, (r) => r.action === 'publish' && r.payload.values.position === 'closed');
    expect(demandClosed).toBe(31_000);
    expect(
      valuesOf(valve, 'position')
        .filter(([t]) => t >= 31_000 && t < 61_000)
        .every(([, v]) => v === 'moving'),
    ).toBe(true);
    expect(closed).toBe(61_000);
  });

  it('should leave detectors of other gases alone', () => {
    const nh3 = run.get('bohai-chem/nh-gd-1')!;
    expect(Math.max(...nh3.map((x) => conc(x.r)))).toBeLessThan(10);
  });

  it('should compress the leak but keep the valves closing in twice their travel time when the speed is 5', () => {
    const fast = runScenario('chlorine-leak', 60_000, demoDevices(), undefined, 5);
    const crossed = ['cl-gd-1', 'cl-gd-2', 'cl-gd-3'].map((id) =>
      firstTime(fast.get(`bohai-chem/${id}`), (r) => conc(r) >= 2),
    );
    expect(crossed).toEqual([13_000, 14_000, 15_000]);
    const valve = fast.get('bohai-chem/cl-xv-1');
    // close demand 21 s of leak time after the start = 4.2 s of model time; closed 2 × 15 s later
    expect(firstTime(valve, (r) => r.action === 'publish' && r.payload.values.demand === 'closed')).toBe(
      15_000,
    );
    expect(firstTime(valve, (r) => r.action === 'publish' && r.payload.values.position === 'closed')).toBe(
      45_000,
    );
  });

  it('should start when told to when given a start time', () => {
    const early = runScenario('chlorine-leak', 30_000, demoDevices(), 0);
    expect(firstTime(early.get('bohai-chem/cl-gd-1'), (r) => conc(r) >= 2)).toBe(15_000);
  });
});

describe('overfill', () => {
  it('should raise the first tank level at 30 %/min up to 99 %', () => {
    const tank = runScenario('overfill', 240_000).get('bohai-chem/cl-tk-1')!;
    const levels = valuesOf(tank, 'level_pct');
    const at = (t: number): number => levels.find(([x]) => x === t)![1] as number;
    expect(at(40_000) - at(20_000)).toBeCloseTo(10, 0);
    expect(at(240_000)).toBe(99);
  });

  it('should fill three times as fast when the speed is 3', () => {
    const tank = runScenario('overfill', 60_000, demoDevices(), undefined, 3).get('bohai-chem/cl-tk-1')!;
    const levels = valuesOf(tank, 'level_pct');
    const at = (t: number): number => levels.find(([x]) => x === t)![1] as number;
    expect(at(20_000) - at(15_000)).toBeCloseTo(7.5, 0); // 90 %/min
    expect(at(60_000)).toBe(99);
  });
});

describe('valve-stuck', () => {
  it('should report the first valve demanded closed and moving for ever after the start', () => {
    const valve = runScenario('valve-stuck', 300_000).get('bohai-chem/cl-xv-1')!;
    const after = valve
      .filter((x) => x.t >= SCENARIO_START_MS)
      .map((x) => (x.r.action === 'publish' ? x.r.payload.values : null));
    expect(new Set(after.map((v) => JSON.stringify(v)))).toEqual(
      new Set([JSON.stringify({ position: 'moving', demand: 'closed' })]),
    );
  });
});

describe('detector-drift', () => {
  it('should drift the first detector below −5 % of full scale and settle at −8 %', () => {
    const d = runScenario('detector-drift', 120_000).get('bohai-chem/cl-gd-1')!;
    // span 0–20 mg/m3: −5 % FS = −1, −8 % FS = −1.6
    expect(firstTime(d, (r) => conc(r) < -1)).toBeLessThanOrEqual(SCENARIO_START_MS + 32_000);
    expect(conc(d.at(-1)!.r)).toBe(-1.6);
  });
});

describe('detector-fault', () => {
  it('should report fault, bad quality and a zero reading from the first detector', () => {
    const d = runScenario('detector-fault', 20_000).get('bohai-chem/cl-gd-1')!;
    expect(d.at(-1)!.r).toMatchObject({
      action: 'publish',
      payload: { values: { conc: 0, fault: true }, quality: 'bad' },
    });
    expect(d[0]!.r).toMatchObject({ payload: { values: { fault: false }, quality: 'good' } });
  });
});

describe('comms-loss', () => {
  it('should lose communication for 60 s divided by the speed when given one', () => {
    const run = runScenario('comms-loss', 60_000, demoDevices(), undefined, 4);
    expect(run.get('bohai-chem/cl-gd-1')!.filter((x) => x.r.action === 'offline')).toHaveLength(15);
    expect(run.get('bohai-chem/cl-tk-1')!.filter((x) => x.r.action === 'silent')).toHaveLength(15);
  });

  it('should take the first detector off the network and silence the first tank for 60 s, then bring both back', () => {
    const run = runScenario('comms-loss', 90_000);
    const actions = (key: string): string[] => run.get(key)!.map((x) => `${x.t / 1000}:${x.r.action}`);
    const detector = actions('bohai-chem/cl-gd-1');
    const tank = actions('bohai-chem/cl-tk-1');
    expect(detector.filter((a) => a.endsWith('offline'))).toHaveLength(60);
    expect(detector).toContain('9:publish');
    expect(detector).toContain('10:offline');
    expect(detector).toContain('69:offline');
    expect(detector).toContain('70:publish');
    expect(tank.filter((a) => a.endsWith('silent'))).toHaveLength(60);
    expect(tank).toContain('70:publish');
  });
});

describe('lightning-system-fault', () => {
  it('should report the first lightning system in fault and no other safety system', () => {
    const run = runScenario('lightning-system-fault', 20_000);
    const faulty = [...run.entries()]
      .filter(([, ticks]) =>
        ticks.some((x) => x.r.action === 'publish' && x.r.payload.values.status === 'fault'),
      )
      .map(([k]) => k);
    expect(faulty).toEqual(['bohai-chem/cl-sys-lightning']);
  });
});
