import type { ManualClock } from '../../common/clock';
import type { LeaseTimer } from '../lease-manager';

/** Virtual time for the lease specs: timers fire only when the test advances the clock. */
export class ManualTimer implements LeaseTimer {
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 0;

  constructor(private readonly clock: ManualClock) {}

  after(ms: number, fn: () => void): { cancel(): void } {
    const t = { at: this.clock.now() + Math.max(0, ms), fn, id: this.nextId++ };
    this.timers.push(t);
    return { cancel: () => (this.timers = this.timers.filter((x) => x !== t)) };
  }

  /** Moves time forward in steps, firing due timers in order and letting promise callbacks settle between them. */
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

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
