/**
 * Live alarm-flood indicator per site (one control room per enterprise): flood starts when more than 10 alarms were
 * raised in the last 10 minutes and ends when fewer than 5 remain in the window (EEMUA 191 / ISA-18.2 practice).
 * Time comes in with each call.
 */
export const FLOOD_WINDOW_MS = 10 * 60_000;
export const FLOOD_START_ABOVE = 10;
export const FLOOD_END_BELOW = 5;

export type FloodStatus = {
  readonly siteId: string;
  readonly alarmsIn10Min: number;
  readonly flood: boolean;
};

export class FloodTracker {
  private readonly raises = new Map<string, number[]>();
  private readonly flooding = new Set<string>();

  constructor(
    private readonly windowMs = FLOOD_WINDOW_MS,
    private readonly startAbove = FLOOD_START_ABOVE,
    private readonly endBelow = FLOOD_END_BELOW,
  ) {}

  /** Records one raise; returns true when this site's flood state changed. */
  record(siteId: string, at: number): boolean {
    let list = this.raises.get(siteId);
    if (!list) this.raises.set(siteId, (list = []));
    // raises arrive in time order from one writer; keep the list sorted anyway
    let i = list.length;
    while (i > 0 && (list[i - 1] ?? 0) > at) i--;
    list.splice(i, 0, at);
    return this.update(siteId, Math.max(at, list[list.length - 1] ?? at));
  }

  private count(siteId: string, now: number): number {
    const list = this.raises.get(siteId);
    if (!list) return 0;
    const cutoff = now - this.windowMs;
    let drop = 0;
    while (drop < list.length && (list[drop] ?? 0) <= cutoff) drop++;
    if (drop > 0) list.splice(0, drop);
    if (list.length === 0) this.raises.delete(siteId);
    return list.length;
  }

  private update(siteId: string, now: number): boolean {
    const n = this.count(siteId, now);
    const was = this.flooding.has(siteId);
    if (!was && n > this.startAbove) this.flooding.add(siteId);
    else if (was && n < this.endBelow) this.flooding.delete(siteId);
    return was !== this.flooding.has(siteId);
  }

  /** Re-evaluates every site at `now`; returns the sites whose flood state changed. */
  tick(now: number): string[] {
    const changed: string[] = [];
    for (const siteId of new Set([...this.raises.keys(), ...this.flooding]))
      if (this.update(siteId, now)) changed.push(siteId);
    return changed;
  }

  status(siteId: string, now: number): FloodStatus {
    this.update(siteId, now);
    return { siteId, alarmsIn10Min: this.count(siteId, now), flood: this.flooding.has(siteId) };
  }

  /** Every site with a raise in the window or in flood. */
  all(now: number): FloodStatus[] {
    this.tick(now);
    return [...new Set([...this.raises.keys(), ...this.flooding])].sort().map((s) => this.status(s, now));
  }
}
