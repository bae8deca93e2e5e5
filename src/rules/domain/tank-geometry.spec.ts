import {
  levelFraction,
  maxFillLevelPct,
  strappingProblems,
  volumeFraction,
  type TankGeometry,
} from './tank-geometry';

const H: TankGeometry = { kind: 'horizontal_cylinder' };
const SPH: TankGeometry = { kind: 'sphere' };

describe('tank geometry: level → volume', () => {
  it('should be linear only for a vertical cylinder', () => {
    expect(volumeFraction({ kind: 'vertical_cylinder' }, 0.3)).toBeCloseTo(0.3, 12);
    // Horizontal cylinder: circular segment; half full at half level, 5.20 % at 10 %, 19.6 % at 25 %.
    expect(volumeFraction(H, 0.5)).toBeCloseTo(0.5, 12);
    expect(volumeFraction(H, 0.1)).toBeCloseTo(0.052, 3);
    expect(volumeFraction(H, 0.25)).toBeCloseTo(0.1955, 3);
    // Sphere: h²(3 − 2h): 2.8 % at 10 %, 84.4 % at 75 %.
    expect(volumeFraction(SPH, 0.1)).toBeCloseTo(0.028, 12);
    expect(volumeFraction(SPH, 0.75)).toBeCloseTo(0.84375, 12);
  });

  it('should clamp the level to [0, 100] %', () => {
    for (const g of [H, SPH, { kind: 'vertical_cylinder' } as const]) {
      expect(volumeFraction(g, -0.02)).toBe(0);
      expect(volumeFraction(g, 1.004)).toBe(1);
      expect(volumeFraction(g, Number.NaN)).toBe(0);
    }
  });

  it('should interpolate a strapping table and invert every shape', () => {
    const strap: TankGeometry = {
      kind: 'strapping',
      points: [
        [0, 0],
        [10, 2],
        [90, 98],
        [100, 100],
      ],
    };
    expect(volumeFraction(strap, 0.05)).toBeCloseTo(0.01, 12);
    expect(volumeFraction(strap, 0.5)).toBeCloseTo(0.5, 12);
    for (const g of [H, SPH, strap]) expect(volumeFraction(g, levelFraction(g, 0.8))).toBeCloseTo(0.8, 9);
    expect(maxFillLevelPct({ geometry: 'horizontal_cylinder', maxFillPct: 80 })).toBe(74.5);
    expect(maxFillLevelPct({})).toBe(90);
  });

  it('should refuse a non-monotonic or incomplete strapping table', () => {
    expect(
      strappingProblems([
        [0, 0],
        [100, 30],
      ]),
    ).toEqual([]);
    expect(strappingProblems([[0, 0]])).toEqual(['needs at least 2 [level %, volume m³] points']);
    expect(
      strappingProblems([
        [5, 0],
        [50, 10],
        [50, 12],
        [90, 11],
      ]),
    ).toEqual([
      'point 2: level 50 must be above the previous 50',
      'point 3: volume 11 must be above the previous 12',
      'the first point must be at level 0',
      'the last point must be at level 100',
    ]);
  });
});
