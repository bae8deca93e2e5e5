/**
 * Deadband (hysteresis): a high limit is reached at value ≥ limit and returns to normal only at value ≤ limit − band
 * (mirrored for a low limit), so noise around a set point cannot make an alarm chatter.
 */
import { Observable, type OperatorFunction } from 'rxjs';

export type Direction = 'high' | 'low';

export function beyondLimit(
  wasActive: boolean,
  value: number,
  limit: number,
  band: number,
  direction: Direction,
): boolean {
  if (direction === 'high') return wasActive ? value > limit - band : value >= limit;
  return wasActive ? value < limit + band : value <= limit;
}

/** Operator form: numbers in, the (distinct) limit state out. */
export function deadband(
  limit: number,
  band: number,
  direction: Direction,
): OperatorFunction<number, boolean> {
  return (source) =>
    new Observable<boolean>((subscriber) => {
      let state: boolean | null = null;
      return source.subscribe({
        next: (v) => {
          const next = beyondLimit(state ?? false, v, limit, band, direction);
          if (next !== state) {
            state = next;
            subscriber.next(next);
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
