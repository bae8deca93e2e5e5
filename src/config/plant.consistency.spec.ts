import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../common/errors';
import { loadEnv, loadPlant, logPlantWarnings } from './config.loader';

const fixtures = join(__dirname, '..', '..', 'test', 'fixtures');

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** A one-site plant with the given hazard sources and devices (YAML flow mappings, one per line). */
function plantDir(sources: string[], devices: string[], extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-plant-'));
  writeFileSync(
    join(dir, 'plant.yaml'),
    `sites:\n  - id: fx\n    name: F\n    jurisdiction: tianjin/binhai/nangang\n    location: { lat: 38.7, lon: 117.5 }\n    hazardSources:\n${sources
      .map((s) => `      - ${s}\n`)
      .join('')}    devices:\n${devices.map((d) => `      - ${d}\n`).join('')}${extra}`,
  );
  return dir;
}

const CL2 =
  '{ id: s1, name: S, unitType: storage, peopleWithin500m: 60, filedGrade: 2, substances: [ { substance: chlorine, cas: 7782-50-5, criticalQ: 5, beta: 4, designQ: 70 } ] }';
const clTank = (id: string, over: Record<string, string> = {}): string => {
  const fields: Record<string, string> = {
    id,
    kind: 'tank',
    name: 'T',
    sourceId: 's1',
    area: 'a1',
    capacityM3: '30',
    densityTPerM3: '1.47',
    substance: 'chlorine',
    maxFillPct: '80',
    geometry: 'horizontal_cylinder',
    tankType: 'pressurised',
    designPressureKpa: '1600',
    reliefSetKpa: '1500',
    designMinTempC: '-40',
    designMaxTempC: '50',
    ...over,
  };
  return `{ ${Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`;
};
const gd = (id: string, gas: string, cls: string, unit: string, l1: number, l2: number, span = 100): string =>
  `{ id: ${id}, kind: gas_detector, name: G, sourceId: s1, area: a1, gas: ${gas}, gasClass: ${cls}, unit: "${unit}", level1: ${l1}, level2: ${l2}, ranges: { conc: [0, ${span}] } }`;

describe('plant model consistency at load time', () => {
  it('should warn, with the numbers, when the filed grade contradicts R at design inventory and when S < 1', () => {
    const plant = loadPlant(join(fixtures, 'plant-inconsistent'));
    const byPath = new Map(plant.warnings.map((w) => [w.path, w.reason]));
    expect(byPath.get('sites[0].hazardSources[0].filedGrade')).toMatch(
      /filed grade 1 but R at design inventory is 94\.8 .*α 1\.5.*chlorine q 79 t, Q 5 t, β 4.*grade 2/,
    );
    expect(byPath.get('sites[0].hazardSources[1].substances')).toMatch(
      /S at design inventory is 0\.8 < 1: 'fx-meoh' is not a major hazard source/,
    );
    expect(byPath.get('sites[0].devices[1].tankType')).toMatch(/not declared/);
    expect(plant.file).toBe(join(fixtures, 'plant-inconsistent', 'plant.yaml'));
    // start-up logs each one with file, path and reason
    const logged: Array<[string, Record<string, unknown>]> = [];
    expect(logPlantWarnings(plant, (m, f) => logged.push([m, f]))).toBe(3);
    expect(logged[0]).toEqual([
      'plant model inconsistency',
      {
        file: plant.file,
        path: 'sites[0].hazardSources[0].filedGrade',
        reason: expect.stringContaining('94.8'),
      },
    ]);
    expect(logPlantWarnings(loadPlant(join(__dirname, '..', '..', 'config')), () => undefined)).toBe(0);
  });

  it('should stop with the file, the path and the numbers when the design inventory cannot fit the tanks', () => {
    const err = configError(() => loadPlant(join(fixtures, 'plant-unfit')));
    expect(err.file).toBe(join(fixtures, 'plant-unfit', 'plant.yaml'));
    expect(err.problems).toEqual(
      expect.arrayContaining([
        {
          path: 'sites[0].hazardSources[0].substances[0].designQ',
          reason:
            'design inventory 79 t of chlorine in tanks cannot fit them: cl-tk-1 30 m³ × 1.47 t/m³ × 80 % + cl-tk-2 30 m³ × 1.47 t/m³ × 80 % = 70.56 t at the filling limit',
        },
        {
          path: 'sites[0].devices[2].level1',
          reason: 'toxic level 1 50 mg/m3 is above 20 mg/m3 (PC-TWA 20 mg/m3; GB/T 50493-2019)',
        },
        {
          path: 'sites[0].devices[2].level2',
          reason: 'toxic level 2 60 mg/m3 is above 40 mg/m3 (2 × PC-TWA 20 mg/m3; GB/T 50493-2019)',
        },
        expect.objectContaining({
          path: 'sites[0].devices[3]',
          reason: expect.stringContaining(
            "'benzene' is flammable and toxic: area 'b1' needs toxic detectors",
          ),
        }),
      ]),
    );
    expect(err.message).toContain('70.56 t');
  });

  it('should refuse toxic set points above the OEL in ppm too, and use IDLH ceilings when the range cannot reach the OEL', () => {
    // Chlorine MAC 1 mg/m³ = 0.345 ppm; a 0–0.2 ppm range cannot reach it → ≤ 5 % / 10 % of IDLH 10 ppm (0.5 / 1 ppm).
    const ok = loadPlant(
      plantDir([CL2], [gd('g1', 'chlorine', 'toxic', 'ppm', 0.3, 0.6, 10), clTank('t1'), clTank('t2')]),
    );
    expect(ok.warnings).toEqual([]);
    const err = configError(() =>
      loadPlant(
        plantDir([CL2], [gd('g1', 'chlorine', 'toxic', 'ppm', 0.5, 0.6, 10), clTank('t1'), clTank('t2')]),
      ),
    );
    expect(err.problems).toEqual([
      {
        path: 'sites[0].devices[0].level1',
        reason: 'toxic level 1 0.5 ppm is above 0.345 ppm (MAC 0.345 ppm; GB/T 50493-2019)',
      },
    ]);
    const idlh = configError(() =>
      loadPlant(
        plantDir([CL2], [gd('g1', 'chlorine', 'toxic', 'ppm', 0.1, 1.5, 0.2), clTank('t1'), clTank('t2')]),
      ),
    );
    expect(idlh.problems.map((p) => p.reason)).toEqual(
      expect.arrayContaining([
        'toxic level 2 1.5 ppm is above 1 ppm (2 × IDLH 10 ppm (range cannot reach the OEL); GB/T 50493-2019)',
        '1.5 ppm is above the top of the range 0.2',
      ]),
    );
  });

  it('should refuse a combustible detector for a gas that does not burn, and a toxic one reading %LEL', () => {
    const err = configError(() =>
      loadPlant(
        plantDir([CL2], [gd('g1', 'chlorine', 'combustible', '%LEL', 20, 40), clTank('t1'), clTank('t2')]),
      ),
    );
    expect(err.problems).toEqual(
      expect.arrayContaining([
        {
          path: 'sites[0].devices[0].gasClass',
          reason: "'chlorine' is not flammable: a combustible detector cannot watch it",
        },
      ]),
    );
  });

  it('should validate strapping tables, the HH level switch and relief / design pressures', () => {
    const err = configError(() =>
      loadPlant(
        plantDir(
          [CL2],
          [
            clTank('t1', { geometry: 'strapping', strapping: '[ [0, 0], [50, 20], [40, 25], [100, 30] ]' }),
            clTank('t2', { levelSwitchHHPct: '80', reliefSetKpa: '1700' }),
          ],
        ),
      ),
    );
    expect(err.problems).toEqual([
      { path: 'sites[0].devices[0].strapping', reason: 'point 2: level 40 must be above the previous 50' },
      {
        path: 'sites[0].devices[1].levelSwitchHHPct',
        reason:
          'HH level switch at 80 % is above the level 74.5 % that holds the filling limit 80 % of volume',
      },
      {
        path: 'sites[0].devices[1].reliefSetKpa',
        reason: 'relief set 1700 kPa is above the design pressure 1600 kPa',
      },
    ]);
    const cap = configError(() =>
      loadPlant(
        plantDir(
          [CL2],
          [
            clTank('t1', { geometry: 'strapping', strapping: '[ [0, 0], [50, 15], [100, 25] ]' }),
            clTank('t2'),
          ],
        ),
      ),
    );
    expect(cap.problems).toEqual([
      {
        path: 'sites[0].devices[0].strapping',
        reason: 'volume at level 100 is 25 m³ but capacityM3 is 30 m³ (they must agree within 1 %)',
      },
    ]);
  });

  it('should validate the cause-and-effect matrix against the devices', () => {
    const err = configError(() =>
      loadPlant(
        plantDir(
          [CL2],
          [clTank('t1'), clTank('t2'), gd('g1', 'chlorine', 'toxic', 'mg/m3', 1, 2, 20)],
          "    causeAndEffect:\n      - { id: 'hh-trip:t1', cause: { levelSwitchHH: t1 }, close: [ t2 ] }\n      - { id: 'esd:a1', cause: { vote: a1, discrete: t1 }, close: [ nope ] }\n",
        ),
      ),
    );
    expect(err.problems).toEqual([
      {
        path: 'sites[0].causeAndEffect[0].cause.levelSwitchHH',
        reason: "tank 't1' has no independent HH level switch (levelSwitchHHPct)",
      },
      { path: 'sites[0].causeAndEffect[0].close[0]', reason: "'t2' is not a shut-off valve of site 'fx'" },
      {
        path: 'sites[0].causeAndEffect[1].cause',
        reason: 'needs exactly one of vote, levelSwitchHH, discrete or rule (+ condition)',
      },
      {
        path: 'sites[0].causeAndEffect[1].cause.vote',
        reason: "area 'a1' has fewer than 2 gas detectors to vote",
      },
      {
        path: 'sites[0].causeAndEffect[1].cause.discrete',
        reason: "'t1' is not a discrete input of site 'fx'",
      },
      { path: 'sites[0].causeAndEffect[1].close[0]', reason: "'nope' is not a shut-off valve of site 'fx'" },
    ]);
  });

  it('should refuse a telemetry retention below 30 days, naming the variable and the rule', () => {
    const err = configError(() => loadEnv({ TELEMETRY_RETENTION_DAYS: '7' }));
    expect(err.file).toBe('environment');
    expect(err.problems).toEqual([
      {
        path: 'TELEMETRY_RETENTION_DAYS',
        reason: expect.stringContaining('must be at least 30 days'),
      },
    ]);
    expect(loadEnv({ TELEMETRY_RETENTION_DAYS: '30' }).TELEMETRY_RETENTION_DAYS).toBe(30);
  });
});
