/**
 * A rule is a small timed state machine; `runMachine` turns it into an RxJS operator. Inputs carry event time (the
 * reading's `ts`); timers (on-delays, stale, interlock deadlines) run on the injected scheduler. Timers are armed
 * right after an input or a timer, when the event clock stands at the newest input's time (or the timer's due time),
 * so a deadline `due` is scheduled `due − eventNow` from now. No clock is read per input (cheap at 50 k readings/s).
 * Under a TestScheduler with readings whose ts equals their frame time, both clocks coincide: tests are deterministic.
 */
import { Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { ConditionChange } from './condition';

export type RuleMachine<I, O = ConditionChange> = {
  /** Feeds one input observed at event time `ts`. Inputs may be late (ts below the newest seen): the machine decides. */
  input(i: I, ts: number, emit: (o: O) => void): void;
  /** Event time reached `ts` with no input (a timer the machine asked for fired). */
  advance(ts: number, emit: (o: O) => void): void;
  /** Event time at which the machine needs `advance`, or Infinity. */
  nextDue(): number;
};

export type RunOptions<I> = {
  scheduler: SchedulerLike;
  /** Event time of an input (default: the input's `ts`). */
  timeOf?: (i: I) => number;
  /** A machine threw: the error is reported, the machine is recreated and the stream goes on. */
  onError?: (err: unknown) => void;
};

const tsOf = (i: unknown): number => (i as { ts: number }).ts;

/** One machine of a group, with its factory (used again after a failure) and its identity for error reports. */
export type MachineEntry<I, O = ConditionChange> = {
  readonly id: string;
  readonly create: () => RuleMachine<I, O>;
};

export type RunManyOptions<I> = {
  scheduler: SchedulerLike;
  timeOf?: (i: I) => number;
  /** Machine `id` threw: reported, recreated, the stream goes on. */
  onError?: (id: string, err: unknown) => void;
};

/**
 * Runs several machines over one stream in a plain loop (one subscription, one timer for the earliest deadline):
 * the per-reading cost of a device/channel group does not grow with RxJS plumbing per rule. An exception in one
 * machine is reported through `onError`, that machine alone is recreated (seeded by its factory, e.g. from the
 * condition store) and the others and the stream go on.
 */
export function runMachines<I, O = ConditionChange>(
  entries: readonly MachineEntry<I, O>[],
  opts: RunManyOptions<I>,
): OperatorFunction<I, O> {
  const { scheduler } = opts;
  const timeOf = opts.timeOf ?? tsOf;
  return (source) =>
    new Observable<O>((subscriber) => {
      const n = entries.length;
      const machines: RuleMachine<I, O>[] = entries.map((e) => e.create());
      const emit = (o: O): void => subscriber.next(o);
      let lastTs = -Infinity;
      let armedDue = Infinity;
      let action: Subscription | null = null;

      const fail = (k: number, err: unknown): void => {
        opts.onError?.(entries[k]!.id, err);
        machines[k] = entries[k]!.create();
      };
      const dueOf = (k: number): number => {
        try {
          return machines[k]!.nextDue();
        } catch (err) {
          fail(k, err);
          return machines[k]!.nextDue();
        }
      };
      const arm = (): void => {
        let due = Infinity;
        for (let k = 0; k < n; k++) {
          const d = dueOf(k);
          if (d < due) due = d;
        }
        if (due === armedDue) return;
        if (action) {
          action.unsubscribe();
          action = null;
        }
        armedDue = due;
        if (due === Infinity) return;
        const eventNow = lastTs === -Infinity ? scheduler.now() : lastTs;
        action = scheduler.schedule(fire, Math.max(0, due - eventNow));
      };
      const fire = (): void => {
        action = null;
        const due = armedDue;
        armedDue = Infinity;
        if (due > lastTs) lastTs = due;
        for (let k = 0; k < n; k++) {
          if (dueOf(k) > due) continue;
          try {
            machines[k]!.advance(due, emit);
          } catch (err) {
            fail(k, err);
          }
        }
        arm();
      };

      const sub = source.subscribe({
        next: (i) => {
          const ts = timeOf(i);
          if (ts > lastTs) lastTs = ts;
          for (let k = 0; k < n; k++) {
            try {
              machines[k]!.input(i, ts, emit);
            } catch (err) {
              fail(k, err);
            }
          }
          arm();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      arm();
      return () => {
        sub.unsubscribe();
        action?.unsubscribe();
      };
    });
}

/** Runs one machine over a stream (see `runMachines`). */
export function runMachine<I, O = ConditionChange>(
  create: () => RuleMachine<I, O>,
  opts: RunOptions<I>,
): OperatorFunction<I, O> {
  const onError = opts.onError;
  return runMachines<I, O>([{ id: 'machine', create }], {
    scheduler: opts.scheduler,
    ...(opts.timeOf ? { timeOf: opts.timeOf } : {}),
    ...(onError ? { onError: (_id: string, err: unknown) => onError(err) } : {}),
  });
}
