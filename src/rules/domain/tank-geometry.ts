/**
 * Level → volume for the tank shapes of the plant model (pure). Level and volume are fractions of full (0–1);
 * the level is clamped to [0, 1] first, so a transmitter reading −0.3 % or 100.4 % counts as empty or full.
 * See docs/plant-model.md for the formulas and their limits (heads of horizontal vessels are ignored).
 */

export type TankGeometry =
  | { readonly kind: 'vertical_cylinder' }
  | { readonly kind: 'horizontal_cylinder' }
  | { readonly kind: 'sphere' }
  /** Strapping table: [level %, volume m³] points, level from 0 to 100, both strictly increasing. */
  | { readonly kind: 'strapping'; readonly points: readonly (readonly [number, number])[] };

export const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : Number.isFinite(x) ? x : 0);

/** Volume fraction for a level fraction. */
export function volumeFraction(g: TankGeometry, levelFraction: number): number {
  const h = clamp01(levelFraction);
  switch (g.kind) {
    case 'vertical_cylinder':
      return h;
    case 'horizontal_cylinder': {
      // Circular segment of a cylinder lying on its side: θ = 2·acos(1 − 2h), V/V₀ = (θ − sin θ)/2π.
      const theta = 2 * Math.acos(1 - 2 * h);
      return (theta - Math.sin(theta)) / (2 * Math.PI);
    }
    case 'sphere':
      // Spherical cap: V/V₀ = h²(3 − 2h).
      return h * h * (3 - 2 * h);
    case 'strapping': {
      const pts = g.points;
      const full = pts[pts.length - 1]![1];
      const pct = h * 100;
      for (let i = 1; i < pts.length; i++) {
        const [l1, v1] = pts[i]!;
        if (pct <= l1) {
          const [l0, v0] = pts[i - 1]!;
          return (v0 + ((pct - l0) / (l1 - l0)) * (v1 - v0)) / full;
        }
      }
      return 1;
    }
  }
}

/** Level fraction holding a volume fraction (inverse of volumeFraction, by bisection; monotonic shapes). */
export function levelFraction(g: TankGeometry, volFraction: number): number {
  const target = clamp01(volFraction);
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (volumeFraction(g, mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Problems of a strapping table (empty when valid): level 0…100 strictly increasing, volume strictly increasing. */
export function strappingProblems(points: unknown): string[] {
  if (!Array.isArray(points) || points.length < 2) return ['needs at least 2 [level %, volume m³] points'];
  const out: string[] = [];
  let prev: [number, number] | null = null;
  points.forEach((p: unknown, i) => {
    if (
      !Array.isArray(p) ||
      p.length !== 2 ||
      typeof p[0] !== 'number' ||
      typeof p[1] !== 'number' ||
      !Number.isFinite(p[0]) ||
      !Number.isFinite(p[1])
    ) {
      out.push(`point ${i} must be [level %, volume m³]`);
      return;
    }
    const cur: [number, number] = [p[0], p[1]];
    if (prev && !(cur[0] > prev[0]))
      out.push(`point ${i}: level ${cur[0]} must be above the previous ${prev[0]}`);
    if (prev && !(cur[1] > prev[1]))
      out.push(`point ${i}: volume ${cur[1]} must be above the previous ${prev[1]}`);
    if (cur[1] < 0) out.push(`point ${i}: volume must be ≥ 0`);
    prev = cur;
  });
  const first = points[0] as unknown[];
  const last = points[points.length - 1] as unknown[];
  if (Array.isArray(first) && first[0] !== 0) out.push('the first point must be at level 0');
  if (Array.isArray(last) && last[0] !== 100) out.push('the last point must be at level 100');
  return out;
}

/** The tank fields geometry needs (the plant model's tank device satisfies it). */
export type TankShape = {
  readonly geometry?: 'vertical_cylinder' | 'horizontal_cylinder' | 'sphere' | 'strapping';
  readonly strapping?: readonly (readonly [number, number])[];
  readonly maxFillPct?: number;
};

/** Filling limit when a tank does not declare one, % of volume. */
export const DEFAULT_MAX_FILL_PCT = 90;

export function geometryOf(t: TankShape): TankGeometry {
  if (t.geometry === 'strapping' && t.strapping && t.strapping.length >= 2)
    return { kind: 'strapping', points: t.strapping };
  if (t.geometry === 'horizontal_cylinder' || t.geometry === 'sphere') return { kind: t.geometry };
  return { kind: 'vertical_cylinder' };
}

/** The level (%) at which the tank holds its filling limit, rounded down to 0.1 %. */
export function maxFillLevelPct(t: TankShape): number {
  const vol = (t.maxFillPct ?? DEFAULT_MAX_FILL_PCT) / 100;
  return Math.floor(levelFraction(geometryOf(t), vol) * 1000 + 1e-6) / 10;
}
