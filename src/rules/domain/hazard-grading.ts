/**
 * Live grading of major hazard sources (GB 18218-2018): inventory q per substance from its tanks' levels
 * (level × capacity × density) plus fixed inventory; S = Σ q/Q (≥ 1: a major hazard source); R = α · Σ β·q/Q;
 * grade 1 (R ≥ 100), 2 (≥ 50), 3 (≥ 10), 4; colour red/orange/yellow/blue. The filed grade stays the official one:
 * the live grade is an indicator, shown beside it, never a silent re-grade.
 * A tank whose level has not been measured yet counts with its share of the design inventory (designQ).
 * Level → volume follows the tank's geometry (tank-geometry.ts); the level is clamped to [0, 100] %. While a tank's
 * level is stale, offline or bad-quality, the status is `uncertain` and that tank counts at its filling limit (an
 * upper bound), never at its last (frozen) level. See docs/plant-model.md.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { ColourLevel, Reading } from '../../common/types';
import type { ConditionChange } from './condition';
import type { HazardSourceSpec } from './rule-spec';
import { volumeFraction } from './tank-geometry';

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
  /** True while a tank level of this source is stale, offline or bad-quality: R is then an upper bound. */
  readonly uncertain: boolean;
  /** The tanks whose level is not trustworthy now. */
  readonly uncertainTanks: readonly string[];
};

/** Conditions that make a tank's level untrustworthy for grading. */
export const LEVEL_HEALTH_CONDITIONS: ReadonlySet<string> = new Set(['stale', 'offline', 'quality_bad']);

const NO_TANKS: ReadonlySet<string> = new Set();

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
  uncertainTanks: ReadonlySet<string> = NO_TANKS,
): HazardStatus {
  const alpha = alphaFor(spec.peopleWithin500m);
  const inventory: HazardInventory[] = spec.substances.map((sub) => {
    let q = sub.tankCount === 0 ? (sub.fixedQ > 0 ? sub.fixedQ : sub.designQ) : sub.fixedQ;
    let measured = 0;
    for (const t of spec.tanks) {
      if (t.substance !== sub.substance) continue;
      const pct = levels.get(t.deviceId);
      if (uncertainTanks.has(t.deviceId)) q += t.maxFillT;
      else if (pct === undefined) q += t.designShareT;
      else {
        measured++;
        q += volumeFraction(t.geometry, pct / 100) * t.capacityM3 * t.densityTPerM3;
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
    uncertain: uncertainTanks.size > 0,
    uncertainTanks: [...uncertainTanks].sort(),
  };
}

/** Input of the grading operator: a tank level reading, or a health condition (stale/offline/bad) of a tank. */
export type HazardInput = Reading | ConditionChange;

/**
 * Operator: tank level readings and the tanks' health conditions in, the recomputed status of the affected source out.
 * A bad-quality reading, or an active stale / offline / quality_bad condition of the tank, makes the source uncertain
 * until a good reading arrives and the conditions clear; late readings are ignored.
 */
export function hazardGrading(
  specs: readonly HazardSourceSpec[],
  /** Event time of a reading (default its `ts`; the engine passes its arrival-capped evaluation time). */
  timeOf: (r: Reading) => number = (r) => r.ts,
): OperatorFunction<HazardInput, HazardStatus> {
  return (source) =>
    new Observable<HazardStatus>((subscriber) => {
      type State = {
        spec: HazardSourceSpec;
        levels: Map<string, number>;
        lastTs: Map<string, number>;
        /** deviceId → active health conditions (plus 'bad_reading' after a bad-quality level). */
        unhealthy: Map<string, Set<string>>;
      };
      const byTank = new Map<string, { state: State; channel: string }>();
      for (const spec of specs) {
        const state: State = { spec, levels: new Map(), lastTs: new Map(), unhealthy: new Map() };
        for (const t of spec.tanks) byTank.set(`${spec.siteId}/${t.deviceId}`, { state, channel: t.channel });
      }
      /** Adds / removes one reason; true when the tank changed between trustworthy and not. */
      const mark = (st: State, deviceId: string, why: string, on: boolean): boolean => {
        let set = st.unhealthy.get(deviceId);
        if (on) {
          if (!set) st.unhealthy.set(deviceId, (set = new Set()));
          set.add(why);
          return set.size === 1;
        }
        if (!set?.delete(why)) return false;
        if (set.size > 0) return false;
        st.unhealthy.delete(deviceId);
        return true;
      };
      const emit = (st: State, ts: number): void =>
        subscriber.next(computeHazard(st.spec, st.levels, ts, new Set(st.unhealthy.keys())));
      return source.subscribe({
        next: (x) => {
          const entry = x.deviceId === undefined ? undefined : byTank.get(`${x.siteId}/${x.deviceId}`);
          if (!entry) return;
          const st = entry.state;
          const deviceId = x.deviceId!;
          if ('condition' in x) {
            if (!LEVEL_HEALTH_CONDITIONS.has(x.condition)) return;
            if (mark(st, deviceId, x.condition, x.active)) emit(st, x.ts);
            return;
          }
          const r = x;
          if (entry.channel !== r.channel) return;
          const ts = timeOf(r);
          if (ts < (st.lastTs.get(deviceId) ?? -Infinity)) return;
          if (r.quality === 'bad' || typeof r.value !== 'number' || !Number.isFinite(r.value)) {
            if (mark(st, deviceId, 'bad_reading', true)) emit(st, ts);
            return;
          }
          st.lastTs.set(deviceId, ts);
          st.levels.set(deviceId, Math.min(100, Math.max(0, r.value)));
          mark(st, deviceId, 'bad_reading', false);
          emit(st, ts);
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
