/**
 * On-delay and off-delay (ISA-18.2): a condition must hold for `onMs` before it is raised and stay clear for `offMs`
 * before it returns to normal. Works in event time; the caller asks for `advance` at `nextDue()` when no input comes.
 */
import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { runMachine, type RuleMachine } from './rule-machine';

type Phase = 'off' | 'pendingOn' | 'on' | 'pendingOff';

export class DelayFilter {
  private phase: Phase;
  private since = 0;

  constructor(
    private readonly onMs: number,
    private readonly offMs: number,
    initiallyOn = false,
  ) {
    this.phase = initiallyOn ? 'on' : 'off';
  }

  get active(): boolean {
    return this.phase === 'on' || this.phase === 'pendingOff';
  }

  /** True while a delay is running. */
  get pending(): boolean {
    return this.phase === 'pendingOn' || this.phase === 'pendingOff';
  }

  /**
   * Feeds the raw (undelayed) state at event time `ts`. Returns the event time of a transition of the delayed output,
   * or NaN when the output did not change.
   */
  update(raw: boolean, ts: number): number {
    switch (this.phase) {
      case 'off':
        if (!raw) return NaN;
        if (this.onMs <= 0) {
          this.phase = 'on';
          return ts;
        }
        this.phase = 'pendingOn';
        this.since = ts;
        return NaN;
      case 'pendingOn':
        if (!raw) {
          this.phase = 'off';
          return NaN;
        }
        if (ts - this.since >= this.onMs) {
          this.phase = 'on';
          return this.since + this.onMs;
        }
        return NaN;
      case 'on':
        if (raw) return NaN;
        if (this.offMs <= 0) {
          this.phase = 'off';
          return ts;
        }
        this.phase = 'pendingOff';
        this.since = ts;
        return NaN;
      case 'pendingOff':
        if (raw) {
          this.phase = 'on';
          return NaN;
        }
        if (ts - this.since >= this.offMs) {
          this.phase = 'off';
          return this.since + this.offMs;
        }
        return NaN;
    }
  }

  /** Time passed with no new raw state. Returns the transition time or NaN. */
  advance(ts: number): number {
    if (this.phase === 'pendingOn' && ts - this.since >= this.onMs) {
      this.phase = 'on';
      return this.since + this.onMs;
    }
    if (this.phase === 'pendingOff' && ts - this.since >= this.offMs) {
      this.phase = 'off';
      return this.since + this.offMs;
    }
    return NaN;
  }

  nextDue(): number {
    if (this.phase === 'pendingOn') return this.since + this.onMs;
    if (this.phase === 'pendingOff') return this.since + this.offMs;
    return Infinity;
  }

  /** Forces a state (seeding from a previous engine instance). */
  reset(on: boolean): void {
    this.phase = on ? 'on' : 'off';
  }
}

export type Signal = { readonly active: boolean; readonly ts: number };

/** Operator form: raw signals in, delayed state changes out (each carries the event time of the transition). */
export function onOffDelay(
  onMs: number,
  offMs: number,
  scheduler: SchedulerLike,
): OperatorFunction<Signal, Signal> {
  return runMachine<Signal, Signal>(
    (): RuleMachine<Signal, Signal> => {
      const f = new DelayFilter(onMs, offMs);
      let lastTs = -Infinity;
      return {
        input(s, ts, emit) {
          if (ts < lastTs) return; // newest wins: a late signal never rolls the state back
          lastTs = ts;
          const t = f.update(s.active, ts);
          if (!Number.isNaN(t)) emit({ active: f.active, ts: t });
        },
        advance(ts, emit) {
          const t = f.advance(ts);
          if (!Number.isNaN(t)) emit({ active: f.active, ts: t });
        },
        nextDue: () => f.nextDue(),
      };
    },
    { scheduler },
  );
}
