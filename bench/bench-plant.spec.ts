import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlant } from '../src/config/config.loader';
import { benchPlantYaml, generateBenchPlant, makeRunId } from './bench-plant';

describe('generateBenchPlant', () => {
  it('should produce a plant the real config loader accepts, with every detector on a fresh site', () => {
    const plant = generateBenchPlant('abc123', 1000, 4);
    const dir = mkdtempSync(join(tmpdir(), 'bench-plant-'));
    try {
      writeFileSync(join(dir, 'plant.yaml'), benchPlantYaml(plant));
      const model = loadPlant(dir);
      expect(model.deviceByKey.size).toBe(1000);
      expect([...model.siteById.keys()]).toEqual(['bench-abc123-s0', 'bench-abc123-s1', 'bench-abc123-s2', 'bench-abc123-s3']);
      for (const d of model.deviceByKey.values()) expect(d).toMatchObject({ kind: 'gas_detector', unit: '%LEL' });
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
