import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlant } from '../src/config/config.loader';
import { loadRules } from '../src/rules/rules.loader';
import {
  benchPlantYaml,
  benchRulesYaml,
  noRulesYaml,
  generateBenchPlant,
  makeRunId,
  PROBE_CONDITION,
} from './bench-plant';

describe('generateBenchPlant', () => {
  it('should produce a plant the real config loader accepts, with every detector on a fresh site', () => {
    const plant = generateBenchPlant('abc123', 1000, 4);
    const dir = mkdtempSync(join(tmpdir(), 'bench-plant-'));
    try {
      writeFileSync(join(dir, 'plant.yaml'), benchPlantYaml(plant));
      const model = loadPlant(dir);
      expect(model.deviceByKey.size).toBe(1001);
      expect([...model.siteById.keys()]).toEqual([
        'bench-abc123-s0',
        'bench-abc123-s1',
        'bench-abc123-s2',
        'bench-abc123-s3',
        'bench-abc123-probe',
      ]);
      expect(plant.siteIds).not.toContain(plant.probe.siteId);
      for (const d of model.deviceByKey.values())
        expect(d).toMatchObject({ kind: 'gas_detector', unit: '%LEL' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should spread devices evenly over the sites and list each once', () => {
    const plant = generateBenchPlant('r1', 10, 3);
    expect(plant.devices).toHaveLength(10);
    expect(new Set(plant.devices.map((d) => `${d.siteId}/${d.deviceId}`)).size).toBe(10);
    const perSite = plant.siteIds.map((s) => plant.devices.filter((d) => d.siteId === s).length);
    expect(perSite).toEqual([4, 3, 3]);
  });

  it('should give the probe a level-2 limit with zero on/off delay and no level-1 limit, accepted by the real rules loader', () => {
    const plant = generateBenchPlant('abc123', 10, 2);
    const dir = mkdtempSync(join(tmpdir(), 'bench-rules-'));
    try {
      writeFileSync(join(dir, 'plant.yaml'), benchPlantYaml(plant));
      writeFileSync(join(dir, 'rules.yaml'), benchRulesYaml(plant));
      const { rules, fromFile } = loadRules(dir, loadPlant(dir));
      expect(fromFile).toBe(true);
      const probeRules = JSON.stringify(
        rules.devices.get(plant.probe.siteId)?.get(plant.probe.deviceId),
        (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v),
      );
      expect(probeRules).toContain(`"condition":"${PROBE_CONDITION}"`);
      expect(probeRules).not.toContain('"condition":"gas_l1"');
      expect(probeRules).toMatch(/"condition":"gas_l2"[^}]*"onDelayMs":0/);
      expect(probeRules).toMatch(/"condition":"gas_l2"[^}]*"offDelayMs":0/);
      const other = plant.devices[0]!;
      expect(
        JSON.stringify(rules.devices.get(other.siteId)?.get(other.deviceId), (_k, v: unknown) =>
          v instanceof Map ? [...v.entries()] : v,
        ),
      ).toMatch(/"condition":"gas_l2"[^}]*"onDelayMs":2000/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should disable every rule with the --no-rules file, and the real loader should accept it', () => {
    const plant = generateBenchPlant('norules1', 12, 2);
    const dir = mkdtempSync(join(tmpdir(), 'bench-norules-'));
    try {
      writeFileSync(join(dir, 'plant.yaml'), benchPlantYaml(plant));
      const defaults = loadRules(dir, loadPlant(dir)).rules;
      expect(defaults.ruleCount).toBeGreaterThan(12);
      writeFileSync(join(dir, 'rules.yaml'), noRulesYaml(plant, defaults.producible));
      const none = loadRules(dir, loadPlant(dir)).rules;
      expect(none.ruleCount).toBe(0);
      expect(none.producible.size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should refuse fewer devices than sites or an unusable run id', () => {
    expect(() => generateBenchPlant('r1', 2, 3)).toThrow(RangeError);
    expect(() => generateBenchPlant('Bad/Id', 10, 1)).toThrow(RangeError);
  });
});

describe('makeRunId', () => {
  it('should differ between runs at the same millisecond and be a valid id part', () => {
    const a = makeRunId(1_795_000_000_000, () => 0.1);
    const b = makeRunId(1_795_000_000_000, () => 0.2);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[a-z0-9]{1,40}$/);
  });
});
