/**
 * Event-time lateness gate for one device/channel. A reading at or after the newest event time seen passes at once (no
 * added latency). A reading older than the newest but within `toleranceMs` passes too: stateful rules ignore it for
 * their current state (the newest reading wins, a late one never rolls state back) and window rules (rate of change,
 * overfill trend) insert it in event-time order. A reading older than the tolerance is not evaluated: it is reported
 * to `onLate` (counted and logged by the service; ingest has stored it). The outcome depends only on the order of
 * arrival, never on wall-clock timing.
 */
import { Observable, type OperatorFunction } from 'rxjs';

/**
 * The gate as a plain predicate for one group (what `runMachines` calls per reading): true when `r` is evaluated,
 * false (reported to `onLate`) when it is later than the tolerance. Flags `activity` on every reading.
 */
export function lateGate<T extends { readonly ts: number }>(
  toleranceMs: number,
  onLate: (item: T, lagMs: number) => void,
  activity?: { seen: boolean },
  /** Event time of an item (default its `ts`; the engine passes its arrival-capped evaluation time). */
  timeOf?: (r: T) => number,
): (r: T) => boolean {
  let newest = -Infinity;
  return (r) => {
    if (activity) activity.seen = true;
    const ts = timeOf ? timeOf(r) : r.ts;
    if (ts >= newest) {
      newest = ts;
      return true;
    }
    if (newest - ts <= toleranceMs) return true;
    onLate(r, newest - ts);
    return false;
  };
}

/** The gate as an operator over single readings or message batches (a batch passes whole when all are admitted). */
export function dropLate<T extends { readonly ts: number }>(
  toleranceMs: number,
  onLate: (item: T, lagMs: number) => void,
  /** Flagged on every element, late or not (the group's idle watcher reads it). */
  activity?: { seen: boolean },
): OperatorFunction<T | readonly T[], T | readonly T[]> {
  return (source) =>
    new Observable<T | readonly T[]>((subscriber) => {
      const admit = lateGate(toleranceMs, onLate, activity);
      return source.subscribe({
        next: (x) => {
          if (!Array.isArray(x)) {
            if (admit(x as T)) subscriber.next(x);
            return;
          }
          const batch = x as readonly T[];
          let kept: T[] | undefined;
          for (let i = 0; i < batch.length; i++) {
            const ok = admit(batch[i]!);
            if (!ok && !kept) kept = batch.slice(0, i);
            else if (ok && kept) kept.push(batch[i]!);
          }
          if (!kept) subscriber.next(batch);
          else if (kept.length > 0) subscriber.next(kept);
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
