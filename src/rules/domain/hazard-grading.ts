/**
 * Live grading of major hazard sources (GB 18218-2018): inventory q per substance from its tanks' levels
 * (level × capacity × density) plus fixed inventory; S = Σ q/Q (≥ 1: a major hazard source); R = α · Σ β·q/Q;
 * grade 1 (R ≥ 100), 2 (≥ 50), 3 (≥ 10), 4; colour red/orange/yellow/blue. The filed grade stays the official one:
 * the live grade is an indicator, shown beside it, never a silent re-grade.
 * A tank whose level has not been measured yet counts with its share of the design inventory (designQ).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { ColourLevel, Reading } from '../../common/types';
import type { HazardSourceSpec } from './rule-spec';

export type HazardInventory = {
  readonly substance: string;
  readonly q: number;
  readonly Q: number;
  readonly beta: number;
  readonly tanks: number;
  readonly measuredTanks: number;
};

export type HazardStatus = {
  readonly sourceId: string;
  readonly siteId: string;
  readonly name: string;
  readonly filedGrade: number;
  /** Σ q/Q. */
  readonly S: number;
  /** α · Σ β·q/Q. */
  readonly R: number;
  readonly grade: 1 | 2 | 3 | 4;
  readonly level: ColourLevel;
  readonly alpha: number;
  readonly inventory: readonly HazardInventory[];
  /** Event time of the last input that changed the inventory (epoch ms). */
  readonly updatedAt: number;
};

/** α from the number of people within 500 m of the boundary (GB 18218-2018 Table 4). */
export function alphaFor(people: number): number {
  if (people <= 0) return 0.5;
  if (people < 30) return 1.0;
  if (people < 50) return 1.2;
  if (people < 100) return 1.5;
  return 2.0;
}

export function gradeFor(R: number): 1 | 2 | 3 | 4 {
  if (R >= 100) return 1;
  if (R >= 50) return 2;
  if (R >= 10) return 3;
  return 4;
}

export const GRADE_LEVEL: Record<1 | 2 | 3 | 4, ColourLevel> = {
  1: 'red',
  2: 'orange',
  3: 'yellow',
  4: 'blue',
};

export type InventoryItem = { readonly q: number; readonly Q: number; readonly beta: number };

/** S and R for a set of substances (pure; the DOMAIN worked example: 40 t Cl₂ + 30 t NH₃, α 1.5 → S 11, R 57). */
export function gradeInventory(
  items: readonly InventoryItem[],
  alpha: number,
): { S: number; R: number; grade: 1 | 2 | 3 | 4 } {
  let S = 0;
  let weighted = 0;
  for (const it of items) {
    S += it.q / it.Q;
    weighted += (it.beta * it.q) / it.Q;
  }
  const R = alpha * weighted;
  return { S, R, grade: gradeFor(R) };
}

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Computes one source's status from the tank levels known so far (percent by deviceId). */
export function computeHazard(
  spec: HazardSourceSpec,
  levels: ReadonlyMap<string, number>,
  updatedAt: number,
): HazardStatus {
  const alpha = alphaFor(spec.peopleWithin500m);
  const inventory: HazardInventory[] = spec.substances.map((sub) => {
    let q = sub.tankCount === 0 ? (sub.fixedQ > 0 ? sub.fixedQ : sub.designQ) : sub.fixedQ;
    let measured = 0;
    for (const t of spec.tanks) {
      if (t.substance !== sub.substance) continue;
      const pct = levels.get(t.deviceId);
      if (pct === undefined) q += t.designShareT;
      else {
        measured++;
        q += (Math.max(0, pct) / 100) * t.capacityM3 * t.densityTPerM3;
      }
    }
    return {
      substance: sub.substance,
      q: round(q, 3),
      Q: sub.criticalQ,
      beta: sub.beta,
      tanks: sub.tankCount,
      measuredTanks: measured,
    };
  });
  const { S, R, grade } = gradeInventory(inventory, alpha);
  return {
    sourceId: spec.sourceId,
    siteId: spec.siteId,
    name: spec.name,
    filedGrade: spec.filedGrade,
    S: round(S, 3),
    R: round(R, 2),
    grade,
    level: GRADE_LEVEL[grade],
    alpha,
    inventory,
    updatedAt,
  };
}

/**
 * Operator: tank level readings in, the recomputed status of the affected source out (one per accepted reading).
 * Bad-quality and late readings keep the last good level.
 */
export function hazardGrading(
  specs: readonly HazardSourceSpec[],
  /** Event time of a reading (default its `ts`; the engine passes its arrival-capped evaluation time). */
  timeOf: (r: Reading) => number = (r) => r.ts,
): OperatorFunction<Reading, HazardStatus> {
  return (source) =>
    new Observable<HazardStatus>((subscriber) => {
      const byTank = new Map<
        string,
        { spec: HazardSourceSpec; channel: string; levels: Map<string, number>; lastTs: Map<string, number> }
      >();
      for (const spec of specs) {
        const state = {
          spec,
          channel: '',
          levels: new Map<string, number>(),
          lastTs: new Map<string, number>(),
        };
        for (const t of spec.tanks)
          byTank.set(`${spec.siteId}/${t.deviceId}`, { ...state, channel: t.channel });
      }
      // One shared state per source (the spread above copies references to the same maps).
      return source.subscribe({
        next: (r) => {
          if (typeof r.value !== 'number' || r.quality === 'bad') return;
          const entry = byTank.get(`${r.siteId}/${r.deviceId}`);
          if (!entry || entry.channel !== r.channel) return;
          const ts = timeOf(r);
          if (ts < (entry.lastTs.get(r.deviceId) ?? -Infinity)) return;
          entry.lastTs.set(r.deviceId, ts);
          entry.levels.set(r.deviceId, r.value);
          subscriber.next(computeHazard(entry.spec, entry.levels, ts));
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
