/**
 * A bounded, event-time-ordered window of (t, y) points with a least-squares line fit. Late points are inserted in
 * order; points older than the window (relative to the newest) are evicted; capacity is fixed.
 */
export class TrendWindow {
  private readonly t: Float64Array;
  private readonly y: Float64Array;
  private start = 0;
  private n = 0;

  /** Points closer than this to the newest are not added (bounds the work at any reading rate). */
  private readonly minSpacingMs: number;

  constructor(
    private readonly windowMs: number,
    private readonly capacity = 512,
  ) {
    this.t = new Float64Array(capacity);
    this.y = new Float64Array(capacity);
    this.minSpacingMs = windowMs / (capacity / 2);
  }

  get size(): number {
    return this.n;
  }

  private at(i: number): number {
    return (this.start + i) % this.capacity;
  }

  newestT(): number {
    return this.n === 0 ? -Infinity : this.t[this.at(this.n - 1)]!;
  }

  oldestT(): number {
    return this.n === 0 ? Infinity : this.t[this.start]!;
  }

  newestY(): number {
    return this.n === 0 ? NaN : this.y[this.at(this.n - 1)]!;
  }

  /** Adds a point; returns false when it was skipped (closer than the minimum spacing to the newest point). */
  add(t: number, y: number): boolean {
    if (this.n > 0 && t >= this.newestT() && t - this.newestT() < this.minSpacingMs) return false;
    if (this.n === this.capacity) this.dropOldest();
    // insertion point from the end (almost always the end)
    let i = this.n;
    while (i > 0 && this.t[this.at(i - 1)]! > t) {
      const from = this.at(i - 1);
      const to = this.at(i);
      this.t[to] = this.t[from]!;
      this.y[to] = this.y[from]!;
      i--;
    }
    const k = this.at(i);
    this.t[k] = t;
    this.y[k] = y;
    this.n++;
    const horizon = this.newestT() - this.windowMs;
    while (this.n > 0 && this.t[this.start]! < horizon) this.dropOldest();
    return true;
  }

  private dropOldest(): void {
    this.start = (this.start + 1) % this.capacity;
    this.n--;
  }

  clear(): void {
    this.start = 0;
    this.n = 0;
  }

  /** Slope (y per ms) and the fitted y at the newest t; null with fewer than 2 distinct times. */
  fit(): { slope: number; yAtNewest: number } | null {
    if (this.n < 2) return null;
    const t0 = this.t[this.start]!;
    let st = 0;
    let sy = 0;
    for (let i = 0; i < this.n; i++) {
      const k = this.at(i);
      st += this.t[k]! - t0;
      sy += this.y[k]!;
    }
    const mt = st / this.n;
    const my = sy / this.n;
    let sxx = 0;
    let sxy = 0;
    for (let i = 0; i < this.n; i++) {
      const k = this.at(i);
      const dt = this.t[k]! - t0 - mt;
      sxx += dt * dt;
      sxy += dt * (this.y[k]! - my);
    }
    if (sxx === 0) return null;
    const slope = sxy / sxx;
    const tn = this.newestT() - t0;
    return { slope, yAtNewest: my + slope * (tn - mt) };
  }
}
