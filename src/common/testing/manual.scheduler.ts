import type { ManualClock } from '../clock';
import type { Scheduler, TimerHandle } from '../timer.port';

/**
 * The one virtual-time double of the `Scheduler` port (`src/common/timer.port.ts`) for unit tests: timers fire only
 * when the test advances the clock, in time order (ties in the order they were set), with promise callbacks settled
 * between timers so async continuations behave as on the real event loop.
 */
export class ManualScheduler implements Scheduler {
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 0;

  constructor(private readonly clock: ManualClock) {}

  after(ms: number, fn: () => void): TimerHandle {
    const t = { at: this.clock.now() + Math.max(0, ms), fn, id: this.nextId++ };
    this.timers.push(t);
    return { cancel: () => (this.timers = this.timers.filter((x) => x !== t)) };
  }

  /** Timers set and neither fired nor cancelled. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing due timers in time order; lets promise callbacks settle between timers. */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    await settle();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      if (due.at > this.clock.now()) this.clock.set(due.at);
      due.fn();
      await settle();
    }
    this.clock.set(end);
    await settle();
  }
}

/** Lets pending promise continuations and immediate I/O callbacks run (several macrotask turns; not a timing sleep). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
