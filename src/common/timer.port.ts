/** A cancellable one-shot timer. */
export type TimerHandle = { cancel(): void };

/** Injected timer source so the writer's flush and retry timing run in virtual time in unit tests. */
export type Scheduler = { after(ms: number, fn: () => void): TimerHandle };

/** Real timers; unref'd so a pending retry never keeps a finished process alive. */
export const systemScheduler: Scheduler = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** Capped exponential backoff: initial, 2x, 4x, ... up to max. */
export class Backoff {
  private current: number;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    this.current = initialMs;
  }
  next(): number {
    const d = this.current;
    this.current = Math.min(this.maxMs, this.current * 2);
    return d;
  }
  reset(): void {
    this.current = this.initialMs;
  }
}
