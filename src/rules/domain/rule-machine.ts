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
  /** Only inputs whose `keyOf` equals this reach the machine (e.g. a channel); absent: every input. */
  readonly key?: string;
};

export type RunManyOptions<I> = {
  scheduler: SchedulerLike;
  timeOf?: (i: I) => number;
  /** Routing key of an input, matched against `MachineEntry.key` (required when an entry has a key). */
  keyOf?: (i: I) => string;
  /** Machine `id` threw: reported, recreated, the stream goes on. */
  onError?: (id: string, err: unknown) => void;
  /** Per-subscription input gate (e.g. `lateGate`): an input it refuses reaches no machine. */
  gate?: () => (i: I) => boolean;
};

/**
 * Runs several machines over one stream in a plain loop (one subscription, one timer for the earliest deadline):
 * the per-reading cost of a device group does not grow with RxJS plumbing per rule. An input reaches only the machines
 * of its key (its channel) and the key-less ones (device rules); each machine's deadline is cached and refreshed only
 * for the machines that just ran, so an input costs its own machines, not the whole group. An exception in one
 * machine is reported through `onError`, that machine alone is recreated (seeded by its factory, e.g. from the
 * condition store) and the others and the stream go on.
 */
export function runMachines<I, O = ConditionChange>(
  entries: readonly MachineEntry<I, O>[],
  opts: RunManyOptions<I>,
): OperatorFunction<I | readonly I[], O> {
  const { scheduler } = opts;
  const timeOf = opts.timeOf ?? tsOf;
  const keyOf = opts.keyOf;
  const n = entries.length;
  // Routing table, built once per group: key → indices of its machines plus the key-less ones, in entry order.
  const everyInput: number[] = [];
  const keys = new Set<string>();
  for (let k = 0; k < n; k++) {
    const key = entries[k]!.key;
    if (key === undefined) everyInput.push(k);
    else keys.add(key);
  }
  if (keys.size > 0 && !keyOf) throw new Error('runMachines: entries have keys but no keyOf was given');
  const byKey = new Map<string, number[]>();
  for (const key of keys)
    byKey.set(
      key,
      entries.flatMap((e, k) => (e.key === undefined || e.key === key ? [k] : [])),
    );
  return (source) =>
    new Observable<O>((subscriber) => {
      const machines: RuleMachine<I, O>[] = entries.map((e) => e.create());
      const admit = opts.gate?.();
      const dues: number[] = new Array<number>(n).fill(Infinity);
      const emit = (o: O): void => subscriber.next(o);
      let lastTs = -Infinity;
      let armedDue = Infinity;
      let action: Subscription | null = null;

      const fail = (k: number, err: unknown): void => {
        opts.onError?.(entries[k]!.id, err);
        machines[k] = entries[k]!.create();
      };
      const refreshDue = (k: number): void => {
        try {
          dues[k] = machines[k]!.nextDue();
        } catch (err) {
          fail(k, err);
          dues[k] = machines[k]!.nextDue();
        }
      };
      const arm = (): void => {
        let due = Infinity;
        for (let k = 0; k < n; k++) if (dues[k]! < due) due = dues[k]!;
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
          if (dues[k]! > due) continue;
          try {
            machines[k]!.advance(due, emit);
          } catch (err) {
            fail(k, err);
          }
          refreshDue(k);
        }
        arm();
      };

      const feed = (i: I): void => {
        if (admit && !admit(i)) return;
        const ts = timeOf(i);
        if (ts > lastTs) lastTs = ts;
        const targets = keyOf ? (byKey.get(keyOf(i)) ?? everyInput) : everyInput;
        for (let t = 0; t < targets.length; t++) {
          const k = targets[t]!;
          try {
            machines[k]!.input(i, ts, emit);
          } catch (err) {
            fail(k, err);
          }
          refreshDue(k);
        }
      };
      const sub = source.subscribe({
        // An element is one input or a batch of inputs (a message's readings): the timer is re-armed once per element.
        next: (x) => {
          if (Array.isArray(x)) {
            const batch = x as readonly I[];
            for (let b = 0; b < batch.length; b++) feed(batch[b]!);
          } else {
            feed(x as I);
          }
          arm();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      for (let k = 0; k < n; k++) refreshDue(k);
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
): OperatorFunction<I | readonly I[], O> {
  const onError = opts.onError;
  return runMachines<I, O>([{ id: 'machine', create }], {
    scheduler: opts.scheduler,
    ...(opts.timeOf ? { timeOf: opts.timeOf } : {}),
    ...(onError ? { onError: (_id: string, err: unknown) => onError(err) } : {}),
  });
}
