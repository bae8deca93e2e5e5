import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * A small, valid plant model for one fresh site (gas detectors + a tank), written to a temporary CONFIG_DIR.
 * Tests use fresh site ids instead of truncating tables.
 */
export function makePlantConfigDir(
  siteId: string,
  opts: { gasDetectors?: number; jurisdiction?: string } = {},
): string {
  const n = opts.gasDetectors ?? 3;
  const plant = {
    sites: [
      {
        id: siteId,
        name: `Test site ${siteId}`,
        jurisdiction: opts.jurisdiction ?? 'tianjin/binhai/test',
        location: { lat: 39, lon: 117.5 },
        hazardSources: [
          {
            id: `${siteId}-src`,
            name: 'Chlorine store',
            unitType: 'storage',
            peopleWithin500m: 10,
            // R = 1.0 × 4 × 35 / 5 = 28 → grade 3; 35 t fits TK-1 at its filling limit (30 m³ × 1.47 t/m³ × 90 %).
            filedGrade: 3,
            substances: [{ substance: 'chlorine', cas: '7782-50-5', criticalQ: 5, beta: 4, designQ: 35 }],
          },
        ],
        devices: [
          ...Array.from({ length: n }, (_, i) => ({
            id: `gd-${i + 1}`,
            kind: 'gas_detector',
            name: `GD-${i + 1}`,
            sourceId: `${siteId}-src`,
            area: 'a1',
            periodS: 2,
            gas: 'chlorine',
            gasClass: 'toxic',
            unit: 'mg/m3',
            level1: 1,
            level2: 2,
            ranges: { conc: [0, 20] },
          })),
          {
            id: 'tk-1',
            kind: 'tank',
            name: 'TK-1',
            sourceId: `${siteId}-src`,
            area: 'a1',
            capacityM3: 30,
            densityTPerM3: 1.47,
            substance: 'chlorine',
          },
        ],
      },
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-plant-'));
  writeFileSync(join(dir, 'plant.yaml'), stringify(plant));
  return dir;
}

export const gasMessage = (ts: number, seq: number, conc = 0.2): string =>
  JSON.stringify({ ts, seq, values: { conc, fault: false } });
