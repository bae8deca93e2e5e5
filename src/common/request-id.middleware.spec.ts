import type { NextFunction, Request, Response } from 'express';
import { currentCorrelationId } from './correlation';
import { requestIdMiddleware } from './request-id.middleware';

function run(header: string | undefined): { echoed: string | undefined; seenInside: string | undefined } {
  const headers: Record<string, string> = {};
  const req = { headers: header === undefined ? {} : { 'x-request-id': header } } as unknown as Request;
  const res = { setHeader: (k: string, v: string) => (headers[k] = v) } as unknown as Response;
  let seenInside: string | undefined;
  const next: NextFunction = () => {
    seenInside = currentCorrelationId();
  };
  requestIdMiddleware()(req, res, next);
  return { echoed: headers['X-Request-Id'], seenInside };
}

describe('requestIdMiddleware', () => {
  it("should echo the client's X-Request-Id and run the request under it", () => {
    expect(run('checkout-7f3a')).toEqual({ echoed: 'checkout-7f3a', seenInside: 'checkout-7f3a' });
  });

  it('should give a request without X-Request-Id a new UUID, echoed and used', () => {
    const { echoed, seenInside } = run(undefined);
    expect(echoed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(seenInside).toBe(echoed);
  });

  it('should replace an X-Request-Id that could forge log lines or headers', () => {
    for (const bad of ['a\nb', 'x'.repeat(129), '"},{"level":"error"', '']) {
      const { echoed } = run(bad);
      expect(echoed).not.toBe(bad);
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('should leave no correlation id behind after the request', () => {
    run('r-1');
    expect(currentCorrelationId()).toBeUndefined();
  });
});
