import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../common/errors';
import { loadPlant } from './config.loader';

const demoDir = join(__dirname, '..', '..', 'config');

describe('plant.yaml identification codes', () => {
  it('should load the demo plant’s credit and filing codes', () => {
    const plant = loadPlant(demoDir);
    expect(plant.siteById.get('bohai-chem')?.creditCode).toBe('91120116MA05K3L7X9');
    expect(plant.sourceById.get('bhc-cl2')?.filingCode).toBe('津滨危备2024-017');
  });

  it('should stop start-up naming file, path and reason for a bad credit code or filing code', () => {
    const yaml = readFileSync(join(demoDir, 'plant.yaml'), 'utf8')
      .replace('creditCode: 91120116MA05K3L7X9', 'creditCode: 91120116MA05K3L7X8')
      .replace('filingCode: 津滨危备2024-018', "filingCode: '津滨 危备'");
    const dir = mkdtempSync(join(tmpdir(), 'hazwatch-codes-'));
    writeFileSync(join(dir, 'plant.yaml'), yaml);
    let err: unknown;
    try {
      loadPlant(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const c = err as ConfigError;
    expect(c.file).toBe(join(dir, 'plant.yaml'));
    expect(c.problems).toEqual(
      expect.arrayContaining([
        { path: 'sites[0].creditCode', reason: 'check character is 8, expected 9 (GB 32100-2015)' },
        {
          path: 'sites[0].hazardSources[1].filingCode',
          reason: 'must not contain spaces, control characters or < > & " \'',
        },
      ]),
    );
  });

  /** The demo plant with filed radii on the chlorine tank farm (bhc-cl2), in a directory of its own. */
  const withRadii = (radii: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'hazwatch-radii-'));
    const yaml = readFileSync(join(demoDir, 'plant.yaml'), 'utf8').replace(
      'filingCode: 津滨危备2024-017',
      `filingCode: 津滨危备2024-017\n        consequenceRadiiKm: ${radii}`,
    );
    writeFileSync(join(dir, 'plant.yaml'), yaml);
    return dir;
  };

  it('should stop start-up naming the path of a consequence radius out of range', () => {
    expect(() => loadPlant(withRadii('{ toxic: -1 }'))).toThrow(
      /sites\[0\]\.hazardSources\[0\]\.consequenceRadiiKm\.toxic/,
    );
  });

  it('should load filed consequence radii of a hazard source', () => {
    expect(loadPlant(withRadii('{ toxic: 4.2 }')).sourceById.get('bhc-cl2')?.consequenceRadiiKm).toEqual({
      toxic: 4.2,
    });
  });
});
