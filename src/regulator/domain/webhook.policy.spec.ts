import { createHmac } from 'node:crypto';
import {
  retryDelayMs,
  scopeWithin,
  shouldPause,
  signPayload,
  subscriptionWants,
  verifySignature,
} from './webhook.policy';

const HOUR = 3600_000;

describe('webhook policy', () => {
  it('should match subscriptions by jurisdiction prefix and minimum priority, paused ones included', () => {
    const sub = { scope: 'tianjin/binhai', minPriority: 'high' as const, status: 'active' as const };
    expect(subscriptionWants(sub, 'tianjin/binhai/nangang/bohai-chem', 'critical')).toBe(true);
    expect(subscriptionWants(sub, 'tianjin/binhai/nangang/bohai-chem', 'high')).toBe(true);
    expect(subscriptionWants(sub, 'tianjin/binhai/nangang/bohai-chem', 'medium')).toBe(false);
    expect(subscriptionWants(sub, 'tianjin/wuqing/jingbin/wuqing-fine', 'critical')).toBe(false);
    expect(
      subscriptionWants({ ...sub, scope: 'tianjin/bin' }, 'tianjin/binhai/nangang/bohai-chem', 'critical'),
    ).toBe(false);
    expect(subscriptionWants({ ...sub, status: 'paused' }, 'tianjin/binhai/x/y', 'critical')).toBe(true);
    expect(subscriptionWants({ ...sub, status: 'deleted' }, 'tianjin/binhai/x/y', 'critical')).toBe(false);
  });

  it('should allow a subscription scope only within the token scope', () => {
    expect(scopeWithin('tianjin/binhai/nangang', 'tianjin/binhai')).toBe(true);
    expect(scopeWithin('tianjin/binhai', 'tianjin/binhai')).toBe(true);
    expect(scopeWithin('tianjin', 'tianjin/binhai')).toBe(false);
    expect(scopeWithin('tianjin/wuqing', 'tianjin/binhai')).toBe(false);
    expect(scopeWithin('tianjin/wuqing', '')).toBe(true);
  });

  it('should sign timestamp.body with HMAC-SHA256 and verify it within the replay window only', () => {
    const body = '{"a":1}';
    const sig = signPayload('s3cret', 1_800_000_000, body);
    expect(sig).toBe('sha256=' + createHmac('sha256', 's3cret').update('1800000000.{"a":1}').digest('hex'));
    expect(verifySignature('s3cret', '1800000000', body, sig, 1_800_000_100, 300)).toEqual({ ok: true });
    expect(verifySignature('s3cret', '1800000000', body + ' ', sig, 1_800_000_100, 300)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifySignature('other', '1800000000', body, sig, 1_800_000_100, 300)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifySignature('s3cret', '1800000000', body, sig, 1_800_000_301, 300)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifySignature('s3cret', undefined, body, sig, 1_800_000_000, 300)).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('should back off exponentially up to the cap and never give up by itself', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, 5_000, 60_000))).toEqual([
      5_000, 10_000, 20_000, 40_000, 60_000, 60_000,
    ]);
    expect(retryDelayMs(10_000, 5_000, 600_000)).toBe(600_000);
  });

  it('should pause only after failing for the configured time', () => {
    expect(shouldPause(null, 100 * HOUR, 24 * HOUR)).toBe(false);
    expect(shouldPause(0, 24 * HOUR - 1, 24 * HOUR)).toBe(false);
    expect(shouldPause(0, 24 * HOUR, 24 * HOUR)).toBe(true);
  });
});
