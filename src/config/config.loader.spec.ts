import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../common/errors';
import { loadEnv, loadPlant } from './config.loader';

const demoDir = join(__dirname, '..', '..', 'config');

function tmpConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-cfg-'));
  writeFileSync(join(dir, 'plant.yaml'), yaml);
  return dir;
}

function problemsOf(fn: () => unknown): {
  file: string;
  problems: ReadonlyArray<{ path: string; reason: string }>;
} {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadEnv', () => {
  it('should apply CONTRACT defaults when nothing is set', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      DATA_DIR: './data',
      CONFIG_DIR: './config',
      SIMULATE: false,
      LOG_LEVEL: 'info',
      INGEST_MAX_SKEW_S: 300,
    });
    expect(env.MQTT_URL).toBeUndefined();
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('should parse numbers and booleans from strings', () => {
    const env = loadEnv({ PORT: '8080', SIMULATE: 'true', MQTT_URL: 'mqtt://127.0.0.1:1883' });
    expect(env.PORT).toBe(8080);
    expect(env.SIMULATE).toBe(true);
    expect(env.MQTT_URL).toBe('mqtt://127.0.0.1:1883');
  });

  it('should name the variable when a value is bad', () => {
    const err = problemsOf(() => loadEnv({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' }));
    expect(err.file).toBe('environment');
    const paths = err.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['PORT', 'LOG_LEVEL', 'DATABASE_URL']));
  });

  it('should stop at TRUST_PROXY that is neither a hop count nor addresses/CIDRs, saying what is accepted', () => {
    const err = problemsOf(() => loadEnv({ TRUST_PROXY: 'true' }));
    expect(err.problems).toEqual([{ path: 'TRUST_PROXY', reason: expect.stringMatching(/hop count/) }]);
    expect(loadEnv({ TRUST_PROXY: '10.0.0.0/8,::1' }).TRUST_PROXY).toBe('10.0.0.0/8,::1');
  });

  it('should stop a cluster node without a shared broker and client-id base, naming both variables', () => {
    const err = problemsOf(() => loadEnv({ HAZWATCH_NODE_ID: 'n1' }));
    expect(err.file).toBe('environment');
    expect(err.problems.map((p) => p.path)).toEqual(['MQTT_URL', 'MQTT_CLIENT_ID_SECRET']);
    const ok = { HAZWATCH_NODE_ID: 'n1', MQTT_URL: 'mqtt://broker:1883' };
    expect(loadEnv({ ...ok, MQTT_CLIENT_ID_SECRET: 'a-shared-secret-of-16+' }).HAZWATCH_NODE_ID).toBe('n1');
    expect(loadEnv({ ...ok, MQTT_CLIENT_ID: 'hazwatch-plant' }).HAZWATCH_NODE_ID).toBe('n1');
    // a single node needs neither
    expect(loadEnv({}).HAZWATCH_NODE_ID).toBeUndefined();
  });
});

describe('loadEnv: relations between variables', () => {
  it('should stop when the 1-minute roll-up would be dropped before the raw telemetry, naming both variables', () => {
    const err = problemsOf(() =>
      loadEnv({ TELEMETRY_RETENTION_DAYS: '400', TELEMETRY_1M_RETENTION_DAYS: '365' }),
    );
    expect(err.file).toBe('environment');
    expect(err.problems).toEqual([
      {
        path: 'TELEMETRY_1M_RETENTION_DAYS',
        reason: expect.stringMatching(/is 365 days, shorter than TELEMETRY_RETENTION_DAYS \(400\)/),
      },
    ]);
  });

  it('should catch a raw retention raised past the roll-up default (730 days)', () => {
    const err = problemsOf(() => loadEnv({ TELEMETRY_RETENTION_DAYS: '1000' }));
    expect(err.problems[0]).toMatchObject({ path: 'TELEMETRY_1M_RETENTION_DAYS' });
    expect(err.problems[0]!.reason).toContain('≥ 1000');
  });

  it('should accept equal retentions and the defaults', () => {
    const env = loadEnv({ TELEMETRY_RETENTION_DAYS: '365', TELEMETRY_1M_RETENTION_DAYS: '365' });
    expect([env.TELEMETRY_RETENTION_DAYS, env.TELEMETRY_1M_RETENTION_DAYS]).toEqual([365, 365]);
    expect(loadEnv({}).TELEMETRY_1M_RETENTION_DAYS).toBeGreaterThanOrEqual(
      loadEnv({}).TELEMETRY_RETENTION_DAYS,
    );
  });

  it('should report a variable that is invalid alone without also checking the pair', () => {
    const err = problemsOf(() =>
      loadEnv({ TELEMETRY_RETENTION_DAYS: '10', TELEMETRY_1M_RETENTION_DAYS: '5' }),
    );
    expect(err.problems.map((p) => p.path).sort()).toEqual([
      'TELEMETRY_1M_RETENTION_DAYS',
      'TELEMETRY_RETENTION_DAYS',
    ]);
    expect(err.problems.every((p) => !p.reason.includes('shorter than'))).toBe(true);
  });
});

describe('loadPlant', () => {
  it('should load the demo plant: ≥3 enterprises in 2 districts, ≥5 hazard sources, ≥60 devices', () => {
    const plant = loadPlant(demoDir);
    expect(plant.sites.length).toBeGreaterThanOrEqual(3);
    const districts = new Set(plant.sites.map((s) => s.jurisdiction.split('/').slice(0, 2).join('/')));
    expect(districts.size).toBeGreaterThanOrEqual(2);
    expect(plant.sourceById.size).toBeGreaterThanOrEqual(5);
    expect(plant.deviceByKey.size).toBeGreaterThanOrEqual(60);
    const substances = [...plant.sourceById.values()].flatMap((s) => s.substances.map((x) => x.substance));
    expect(substances).toEqual(
      expect.arrayContaining(['chlorine', 'ammonia', 'benzene', 'vinyl chloride', 'hydrogen peroxide']),
    );
    const kinds = new Set([...plant.deviceByKey.values()].map((d) => d.kind));
    expect([...kinds].sort()).toEqual([
      'analog',
      'discrete',
      'gas_detector',
      'safety_system',
      'shutoff_valve',
      'tank',
      'weather',
    ]);
    // The corrected demo is consistent with its own numbers: no warning at start.
    expect(plant.warnings).toEqual([]);
  });

  it('should name file, path and reason for a schema error', () => {
    const dir = tmpConfig(
      `sites:\n  - id: s1\n    name: S\n    jurisdiction: Tianjin Binhai\n    location: { lat: 200, lon: 0 }\n    hazardSources: []\n    devices: []\n`,
    );
    const err = problemsOf(() => loadPlant(dir));
    expect(err.file).toBe(join(dir, 'plant.yaml'));
    expect(err.problems).toEqual(
      expect.arrayContaining([
        { path: 'sites[0].jurisdiction', reason: 'must be a path like tianjin/binhai/nangang' },
        expect.objectContaining({ path: 'sites[0].location.lat' }),
      ]),
    );
  });

  it('should reject dangling references and set points above GB/T 50493 ceilings', () => {
    const dir = tmpConfig(`sites:
  - id: s1
    name: S
    jurisdiction: tianjin/binhai
    location: { lat: 39, lon: 117 }
    hazardSources:
      - { id: h1, name: H, unitType: storage, peopleWithin500m: 0, filedGrade: 2, substances: [{ substance: benzene, cas: 71-43-2, criticalQ: 50, beta: 1, designQ: 100 }] }
    devices:
      - { id: g1, kind: gas_detector, name: G, sourceId: nope, area: a1, gas: benzene, gasClass: combustible, unit: '%LEL', level1: 30, level2: 60 }
      - { id: t1, kind: tank, name: T, sourceId: h1, area: a1, capacityM3: 10, densityTPerM3: 0.88, substance: toluene }
      - { id: v1, kind: shutoff_valve, name: V, sourceId: h1, area: a1 }
`);
    const paths = problemsOf(() => loadPlant(dir)).problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'sites[0].devices[0].sourceId',
        'sites[0].devices[0].level1',
        'sites[0].devices[0].level2',
        'sites[0].devices[1].substance',
        'sites[0].devices[2].travelTimeS',
      ]),
    );
  });

  it('should reject an unknown key', () => {
    const dir = tmpConfig(
      `sites:\n  - { id: s1, name: S, jurisdiction: tianjin/binhai, location: { lat: 39, lon: 117 }, colour: red, hazardSources: [], devices: [] }\n`,
    );
    expect(problemsOf(() => loadPlant(dir)).problems).toEqual([
      { path: 'sites[0].colour', reason: 'property colour should not exist' },
    ]);
  });

  it('should report a YAML syntax error with its line', () => {
    const dir = tmpConfig('sites:\n  - id: [unclosed\n');
    const err = problemsOf(() => loadPlant(dir));
    expect(err.problems[0]?.path).toMatch(/^line \d+, column \d+$/);
  });

  it('should stop when plant.yaml is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hazwatch-empty-'));
    expect(problemsOf(() => loadPlant(dir)).problems[0]?.reason).toMatch(/not found/);
  });
});
