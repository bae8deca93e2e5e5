/** The live-grading spec of every hazard source (GB 18218 R value from tank contents): input to hazard-grading.ts. */
import type { PlantView } from '../plant-view';
import type { HazardSourceSpec } from '../rule-spec';
import { DEFAULT_MAX_FILL_PCT, geometryOf } from '../tank-geometry';

export function compileHazardSources(plant: PlantView): HazardSourceSpec[] {
  const hazardSources: HazardSourceSpec[] = [];
  for (const s of plant.sites) {
    for (const h of s.hazardSources) {
      const tanks = s.devices.filter(
        (d) => d.kind === 'tank' && d.sourceId === h.id && d.substance !== undefined,
      );
      hazardSources.push({
        sourceId: h.id,
        siteId: s.id,
        name: h.name,
        filedGrade: h.filedGrade,
        peopleWithin500m: h.peopleWithin500m,
        substances: h.substances.map((sub) => ({
          substance: sub.substance,
          criticalQ: sub.criticalQ,
          beta: sub.beta,
          fixedQ: sub.fixedQ ?? 0,
          designQ: sub.designQ,
          tankCount: tanks.filter((t) => t.substance === sub.substance).length,
        })),
        tanks: tanks.map((t) => {
          const sub = h.substances.find((x) => x.substance === t.substance)!;
          const same = tanks.filter((x) => x.substance === t.substance);
          const totalCap = same.reduce((a, x) => a + (x.capacityM3 ?? 0), 0);
          const share =
            totalCap > 0
              ? (Math.max(0, sub.designQ - (sub.fixedQ ?? 0)) * (t.capacityM3 ?? 0)) / totalCap
              : 0;
          return {
            deviceId: t.id,
            substance: t.substance!,
            capacityM3: t.capacityM3 ?? 0,
            densityTPerM3: t.densityTPerM3 ?? 0,
            channel: 'level_pct',
            designShareT: share,
            geometry: geometryOf(t),
            maxFillT:
              ((t.capacityM3 ?? 0) * (t.densityTPerM3 ?? 0) * (t.maxFillPct ?? DEFAULT_MAX_FILL_PCT)) / 100,
          };
        }),
      });
    }
  }
  return hazardSources;
}
