import type { Clock } from '../../common/clock';

export type FailureLimiterOptions = {
  /** Failures allowed per client within the window before it is blocked. */
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Clients tracked at once; the least recently failing are forgotten first (memory stays bounded under a flood). */
  readonly maxClients: number;
};

export const DEFAULT_FAILURE_LIMITS: FailureLimiterOptions = {
  maxFailures: 20,
  windowMs: 60_000,
  maxClients: 10_000,
};

export type LimitState =
  { readonly blocked: false } | { readonly blocked: true; readonly retryAfterMs: number };

/**
 * Sliding-window count of failed authentications per client key (IP). A client with `maxFailures` failures in the
 * last `windowMs` is blocked until the oldest of them leaves the window. Time comes from the injected Clock.
 */
export class AuthFailureLimiter {
  /** key → failure times, oldest first, at most maxFailures entries. Map order = least recently failed first. */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly opts: FailureLimiterOptions = DEFAULT_FAILURE_LIMITS,
  ) {
    if (opts.maxFailures < 1 || opts.windowMs < 1 || opts.maxClients < 1)
      throw new Error('AuthFailureLimiter: limits must be positive');
  }

  /** Whether the client is blocked now, and for how long. */
  check(key: string): LimitState {
    const times = this.live(key);
    if (times === undefined || times.length < this.opts.maxFailures) return { blocked: false };
    const oldest = times[0] ?? this.clock.now();
    return { blocked: true, retryAfterMs: Math.max(1, oldest + this.opts.windowMs - this.clock.now()) };
  }

  /** Records one failure; returns the state after it (blocked once the limit is reached). */
  recordFailure(key: string): LimitState {
    const now = this.clock.now();
    const times = this.live(key) ?? [];
    times.push(now);
    if (times.length > this.opts.maxFailures) times.splice(0, times.length - this.opts.maxFailures);
    this.failures.delete(key); // re-insert: most recent last
    this.failures.set(key, times);
    this.evict();
    return this.check(key);
  }

  /** Clients currently tracked (for tests and diagnostics). */
  size(): number {
    return this.failures.size;
  }

  /** Failure times of a key still inside the window; prunes older ones. */
  private live(key: string): number[] | undefined {
    const times = this.failures.get(key);
    if (times === undefined) return undefined;
    const cutoff = this.clock.now() - this.opts.windowMs;
    let i = 0;
    while (i < times.length && (times[i] ?? 0) <= cutoff) i++;
    if (i > 0) times.splice(0, i);
    if (times.length === 0) {
      this.failures.delete(key);
      return undefined;
    }
    return times;
  }

  private evict(): void {
    // The first keys in Map order are the least recently failing clients: forget them first (O(1) each).
    for (const key of this.failures.keys()) {
      if (this.failures.size <= this.opts.maxClients) break;
      this.failures.delete(key);
    }
  }
}
