import { createRng, hashSeed, mulberry32 } from './prng.util';

const take = (f: () => number, n: number): number[] => Array.from({ length: n }, f);

describe('mulberry32', () => {
  it('should give the same sequence when the seed is the same', () => {
    expect(take(mulberry32(123), 50)).toEqual(take(mulberry32(123), 50));
  });

  it('should give a different sequence when the seed differs', () => {
    expect(take(mulberry32(123), 50)).not.toEqual(take(mulberry32(124), 50));
  });

  it('should stay in [0, 1) and cover the interval when drawn many times', () => {
    const xs = take(mulberry32(1), 100_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeCloseTo(0.5, 2);
  });
});

describe('createRng', () => {
  it('should draw normals with the requested mean and sd when sampled many times', () => {
    const rng = createRng(9);
    const xs = take(() => rng.normal(10, 2), 50_000);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(mean).toBeCloseTo(10, 1);
    expect(sd).toBeCloseTo(2, 1);
  });

  it('should keep uniform draws inside the bounds when given a range', () => {
    const rng = createRng(5);
    const xs = take(() => rng.uniform(-3, 7), 10_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...xs)).toBeLessThan(7);
  });
});

describe('hashSeed', () => {
  it('should be stable for the same seed and key', () => {
    expect(hashSeed(42, 'bohai-chem/cl-gd-1')).toBe(hashSeed(42, 'bohai-chem/cl-gd-1'));
  });

  it('should spread keys that differ in one character across the whole range', () => {
    const fractions = ['cl-gd-1', 'cl-gd-2', 'cl-gd-3', 'cl-gd-4'].map((k) => hashSeed(42, k) / 2 ** 32);
    for (let i = 0; i < fractions.length; i++)
      for (let j = i + 1; j < fractions.length; j++)
        expect(Math.abs(fractions[i]! - fractions[j]!)).toBeGreaterThan(0.01);
  });

  it('should change when the seed changes', () => {
    expect(hashSeed(1, 'a')).not.toBe(hashSeed(2, 'a'));
  });
});
