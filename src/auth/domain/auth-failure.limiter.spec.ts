import { ManualClock } from '../../common/clock';
import { AuthFailureLimiter } from './auth-failure.limiter';

describe('AuthFailureLimiter', () => {
  let clock: ManualClock;
  let limiter: AuthFailureLimiter;

  beforeEach(() => {
    clock = new ManualClock(1_000_000);
    limiter = new AuthFailureLimiter(clock, { maxFailures: 20, windowMs: 60_000, maxClients: 100 });
  });

  const fail = (ip: string, n: number, stepMs = 0) => {
    let last = limiter.check(ip);
    for (let i = 0; i < n; i++) {
      last = limiter.recordFailure(ip);
      clock.advance(stepMs);
    }
    return last;
  };

  it('should not block when a client stays below the limit', () => {
    expect(fail('10.0.0.1', 19)).toEqual({ blocked: false });
    expect(limiter.check('10.0.0.1')).toEqual({ blocked: false });
  });

  it('should block with the time until the oldest failure leaves the window when the limit is reached', () => {
    fail('10.0.0.1', 20, 1_000); // failures at t0 … t0+19 s; clock now t0+20 s
    expect(limiter.check('10.0.0.1')).toEqual({ blocked: true, retryAfterMs: 40_000 });
  });

  it('should unblock when the oldest failure leaves the window', () => {
    fail('10.0.0.1', 20, 1_000);
    clock.advance(39_999);
    expect(limiter.check('10.0.0.1').blocked).toBe(true);
    clock.advance(1);
    expect(limiter.check('10.0.0.1')).toEqual({ blocked: false });
  });

  it('should count a sliding window when failures are spread over more than a minute', () => {
    fail('10.0.0.1', 30, 4_000); // one every 4 s: at most 15 inside any 60 s window
    expect(limiter.check('10.0.0.1')).toEqual({ blocked: false });
  });

  it('should keep clients apart when one of them is blocked', () => {
    fail('10.0.0.1', 20);
    expect(limiter.check('10.0.0.1').blocked).toBe(true);
    expect(limiter.check('10.0.0.2')).toEqual({ blocked: false });
  });

  it('should forget the least recently failing clients when more than maxClients are tracked', () => {
    const small = new AuthFailureLimiter(clock, { maxFailures: 2, windowMs: 60_000, maxClients: 3 });
    small.recordFailure('a');
    small.recordFailure('a');
    for (const ip of ['b', 'c', 'd']) small.recordFailure(ip);
    expect(small.size()).toBe(3);
    expect(small.check('a')).toEqual({ blocked: false }); // 'a' was forgotten first
  });

  it('should drop a client from memory when its failures expire', () => {
    fail('10.0.0.1', 3);
    clock.advance(60_001);
    limiter.check('10.0.0.1');
    expect(limiter.size()).toBe(0);
  });
});
