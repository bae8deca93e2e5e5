/**
 * A rule is a small timed state machine; `runMachine` turns it into an RxJS operator. Inputs carry event time (the
 * reading's `ts`); timers (on-delays, stale, interlock deadlines) run on the injected scheduler. When a timer is armed,
 * the event clock is extrapolated from the newest input: eventNow = lastTs + (scheduler.now() - seenAt). Under a
 * TestScheduler with readings whose ts equals their frame time, both clocks coincide and every test is deterministic.
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

/**
 * Runs one machine over a stream. Exceptions inside the machine never end the stream: they are reported through
 * `onError`, and a fresh machine (seeded by its factory, e.g. from the condition store) takes over.
 */
export function runMachine<I, O = ConditionChange>(create: () => RuleMachine<I, O>, opts: RunOptions<I>): OperatorFunction<I, O> {
  const { scheduler } = opts;
  const timeOf = opts.timeOf ?? tsOf;
  return (source) =>
    new Observable<O>((subscriber) => {
      let machine = create();
      const emit = (o: O): void => subscriber.next(o);
      let lastTs = -Infinity;
      let seenAt = 0;
      let armedDue = Infinity;
      let action: Subscription | null = null;

      const fail = (err: unknown): void => {
        opts.onError?.(err);
        machine = create();
      };
      const arm = (): void => {
        let due: number;
        try {
          due = machine.nextDue();
        } catch (err) {
          fail(err);
          due = machine.nextDue();
        }
        if (due === armedDue) return;
        if (action) {
          action.unsubscribe();
          action = null;
        }
        armedDue = due;
        if (due === Infinity) return;
        const eventNow = lastTs === -Infinity ? scheduler.now() : lastTs + (scheduler.now() - seenAt);
        action = scheduler.schedule(fire, Math.max(0, due - eventNow));
      };
      const fire = (): void => {
        action = null;
        const due = armedDue;
        armedDue = Infinity;
        if (due > lastTs) {
          lastTs = due;
          seenAt = scheduler.now();
        }
        try {
          machine.advance(due, emit);
        } catch (err) {
          fail(err);
        }
        arm();
      };

      const sub = source.subscribe({
        next: (i) => {
          const ts = timeOf(i);
          if (ts > lastTs) {
            lastTs = ts;
            seenAt = scheduler.now();
          }
          try {
            machine.input(i, ts, emit);
          } catch (err) {
            fail(err);
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
