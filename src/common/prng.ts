/**
 * mulberry32: a seeded pseudo-random generator (32-bit state, fast, good enough for sensor noise and demo dice).
 * The same seed always gives the same sequence; the simulators and the demo phone use it instead of Math.random.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
