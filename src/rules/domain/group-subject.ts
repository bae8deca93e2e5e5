/**
 * The subject behind one device group (rxjs `groupBy`'s documented `connector` option). A device group has exactly
 * one subscriber — its rule pipeline, subscribed by `mergeMap` — so `next` is one direct call. rxjs' general `Subject`
 * pays, per reading, for an observer-list snapshot, an iterator and an error-context closure that a group never needs;
 * measured at 25k msg/s that plumbing was a visible share of the engine's cost.
 */
import type { Observer, SubjectLike, Unsubscribable } from 'rxjs';

export class GroupSubject<T> implements SubjectLike<T> {
  private observer: Partial<Observer<T>> | null = null;
  private ended: { readonly error: unknown; readonly failed: boolean } | null = null;

  next(value: T): void {
    this.observer?.next?.(value);
  }

  error(err: unknown): void {
    if (this.ended) return;
    this.ended = { error: err, failed: true };
    const o = this.observer;
    this.observer = null;
    o?.error?.(err);
  }

  complete(): void {
    if (this.ended) return;
    this.ended = { error: undefined, failed: false };
    const o = this.observer;
    this.observer = null;
    o?.complete?.();
  }

  subscribe(observer: Partial<Observer<T>>): Unsubscribable {
    if (this.ended) {
      if (this.ended.failed) observer.error?.(this.ended.error);
      else observer.complete?.();
      return { unsubscribe: () => undefined };
    }
    if (this.observer) throw new Error('GroupSubject takes one subscriber (the group pipeline)');
    this.observer = observer;
    return {
      unsubscribe: () => {
        if (this.observer === observer) this.observer = null;
      },
    };
  }
}
