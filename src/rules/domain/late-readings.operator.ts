/**
 * Event-time lateness gate for one device/channel. A reading at or after the newest event time seen passes at once (no
 * added latency). A reading older than the newest but within `toleranceMs` passes too: stateful rules ignore it for
 * their current state (the newest reading wins, a late one never rolls state back) and window rules (rate of change,
 * overfill trend) insert it in event-time order. A reading older than the tolerance is not evaluated: it is reported
 * to `onLate` (counted and logged by the service; ingest has stored it). The outcome depends only on the order of
 * arrival, never on wall-clock timing.
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';

export function dropLate<T extends { readonly ts: number }>(
  toleranceMs: number,
  onLate: (item: T, lagMs: number) => void,
  /** Flagged on every element, late or not (the group's idle watcher reads it). */
  activity?: { seen: boolean },
): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let newest = -Infinity;
      return source.subscribe({
        next: (r) => {
          if (activity) activity.seen = true;
          if (r.ts >= newest) {
            newest = r.ts;
            subscriber.next(r);
          } else if (newest - r.ts <= toleranceMs) {
            subscriber.next(r);
          } else {
            onLate(r, newest - r.ts);
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
