import { HttpException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { Public, Requires, Roles, type AuthenticatedRequest } from './auth.decorators';
import { AuthService } from './auth.service';
import { BearerAuthGuard, bearerToken } from './bearer-auth.guard';
import type { Principal } from './principal';
import type { TokenService, VerifyResult } from './token.service';

const GOOD = `hzw_0123456789ab_${'g'.repeat(43)}`;
const BAD = `hzw_ba0ba0ba0ba0_${'b'.repeat(43)}`;
const operator: Principal = { tokenId: '0123456789ab', name: 'control room', role: 'operator', scope: '' };

class Routes {
  @Public() open(): void {}
  read(): void {}
  @Roles('supervisor') unshelve(): void {}
  @Requires('alarm.ack') ack(): void {}
}
@Public()
class PublicController {
  page(): void {}
}

type Res = { headers: Record<string, string>; setHeader(name: string, value: string): void };

function httpContext(handler: keyof Routes | 'page', authorization?: string, ip = '10.0.0.1') {
  const req = {
    headers: authorization === undefined ? {} : { authorization },
    ip,
    method: 'GET',
    path: `/${handler}`,
  } as unknown as AuthenticatedRequest;
  const res: Res = {
    headers: {},
    setHeader(name, value) {
      this.headers[name] = value;
    },
  };
  const cls = handler === 'page' ? PublicController : Routes;
  const ctx = {
    getType: () => 'http',
    getHandler: () => (cls.prototype as unknown as Record<string, () => void>)[handler],
    getClass: () => cls,
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
  } as unknown as ExecutionContext;
  return { ctx, req, res };
}

async function rejection(p: Promise<unknown>): Promise<HttpException> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HttpException) return err;
    throw err;
  }
  throw new Error('expected the guard to refuse');
}

describe('BearerAuthGuard', () => {
  let clock: ManualClock;
  let metrics: HazwatchMetrics;
  let verify: jest.Mock<Promise<VerifyResult>, [string, { cachedOnly?: boolean }?]>;
  let guard: BearerAuthGuard;
  let auth: AuthService;

  beforeAll(() => JsonLogger.setLevel('error'));

  beforeEach(() => {
    clock = new ManualClock(0);
    metrics = new HazwatchMetrics(false);
    const cache = new Set<string>();
    verify = jest.fn(async (raw: string, opts?: { cachedOnly?: boolean }): Promise<VerifyResult> => {
      if (raw === GOOD && (!opts?.cachedOnly || cache.has(raw))) {
        cache.add(raw);
        return { ok: true, principal: operator, degraded: false };
      }
      if (opts?.cachedOnly) return { ok: false, reason: 'not_cached' };
      return raw.startsWith('hzw_') ? { ok: false, reason: 'unknown' } : { ok: false, reason: 'malformed' };
    });
    const tokens = { verify } as unknown as TokenService;
    auth = new AuthService(tokens, metrics, clock, { maxFailures: 20, windowMs: 60_000 });
    guard = new BearerAuthGuard(new Reflector(), auth);
  });

  const failures = async (reason: string) =>
    (await metrics.authFailures.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

  it('should let a @Public() route through without a token when the handler is marked', async () => {
    await expect(guard.canActivate(httpContext('open').ctx)).resolves.toBe(true);
    expect(verify).not.toHaveBeenCalled();
  });

  it('should let every route of a @Public() controller through when the class is marked', async () => {
    await expect(guard.canActivate(httpContext('page').ctx)).resolves.toBe(true);
  });

  it('should answer 401 with a Bearer challenge when the Authorization header is missing', async () => {
    const { ctx, res } = httpContext('read');
    const err = await rejection(guard.canActivate(ctx));
    expect(err.getStatus()).toBe(401);
    expect(err.message).toMatch(/missing bearer token/);
    expect(res.headers['WWW-Authenticate']).toBe('Bearer realm="hazwatch"');
    expect(await failures('missing')).toBe(1);
  });

  it('should attach the principal when the token is valid', async () => {
    const { ctx, req } = httpContext('read', `Bearer ${GOOD}`);
    await expect(guard.canActivate(ctx)).resolves.toBe(true);
    expect(req.principal).toEqual(operator);
    expect(verify).toHaveBeenCalledWith(GOOD);
  });

  it('should accept the scheme case-insensitively when the header says "bearer"', async () => {
    await expect(guard.canActivate(httpContext('read', `bearer ${GOOD}`).ctx)).resolves.toBe(true);
  });

  it('should answer 401 invalid_token when the token is unknown', async () => {
    const { ctx, res } = httpContext('read', `Bearer ${BAD}`);
    const err = await rejection(guard.canActivate(ctx));
    expect(err.getStatus()).toBe(401);
    expect(err.message).toBe('invalid token');
    expect(res.headers['WWW-Authenticate']).toContain('error="invalid_token"');
    expect(await failures('unknown')).toBe(1);
  });

  it('should log the failure without the token when authentication fails', async () => {
    JsonLogger.setLevel('warn');
    const lines: string[] = [];
    const write = jest
      .spyOn(process.stderr, 'write')
      .mockImplementation((chunk: string | Uint8Array) => lines.push(String(chunk)) > 0);
    try {
      await rejection(guard.canActivate(httpContext('read', `Bearer ${BAD}`).ctx));
    } finally {
      write.mockRestore();
      JsonLogger.setLevel('error');
    }
    const logged = lines.join('');
    expect(logged).toContain('authentication failed');
    expect(logged).toContain('"idHint":"ba0ba0"');
    expect(logged).not.toContain('b'.repeat(43));
    expect(logged).not.toContain(BAD);
  });

  it('should answer 401 token revoked when the token was revoked', async () => {
    verify.mockResolvedValueOnce({ ok: false, reason: 'revoked' });
    const err = await rejection(guard.canActivate(httpContext('read', `Bearer ${GOOD}`).ctx));
    expect(err.getStatus()).toBe(401);
    expect(err.message).toBe('token revoked');
    expect(await failures('revoked')).toBe(1);
  });

  it('should answer 401 malformed when another auth scheme is sent', async () => {
    const err = await rejection(guard.canActivate(httpContext('read', 'Basic dXNlcjpwYXNz').ctx));
    expect(err.getStatus()).toBe(401);
    expect(await failures('malformed')).toBe(1);
  });

  it('should answer 503 when the token store is unreachable', async () => {
    verify.mockRejectedValueOnce(new Error('ECONNREFUSED'));
    const err = await rejection(guard.canActivate(httpContext('read', `Bearer ${GOOD}`).ctx));
    expect(err.getStatus()).toBe(503);
    expect(await failures('store_unavailable')).toBe(1);
  });

  describe('rate limiting', () => {
    const failTimes = async (n: number, ip = '10.0.0.1') => {
      for (let i = 0; i < n; i++)
        await rejection(guard.canActivate(httpContext('read', `Bearer ${BAD}`, ip).ctx));
    };

    it('should answer 429 with Retry-After when a client has failed 20 times within a minute', async () => {
      await failTimes(20);
      clock.advance(15_000);
      const { ctx, res } = httpContext('read', `Bearer ${BAD}`);
      const err = await rejection(guard.canActivate(ctx));
      expect(err.getStatus()).toBe(429);
      expect(err.getResponse()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
      expect(res.headers['Retry-After']).toBe('45');
      expect(await failures('rate_limited')).toBe(1);
    });

    it('should not query the token store for unknown tokens when the client is blocked', async () => {
      await failTimes(20);
      verify.mockClear();
      await rejection(guard.canActivate(httpContext('read', `Bearer ${BAD}`).ctx));
      expect(verify).toHaveBeenCalledTimes(1);
      expect(verify).toHaveBeenCalledWith(BAD, { cachedOnly: true });
    });

    it('should still accept a token it already verified when the client address is blocked', async () => {
      await guard.canActivate(httpContext('read', `Bearer ${GOOD}`).ctx);
      await failTimes(20);
      await expect(guard.canActivate(httpContext('read', `Bearer ${GOOD}`).ctx)).resolves.toBe(true);
    });

    it('should refuse a never-verified valid token with 429 when the client address is blocked', async () => {
      await failTimes(20);
      const err = await rejection(guard.canActivate(httpContext('read', `Bearer ${GOOD}`).ctx));
      expect(err.getStatus()).toBe(429);
    });

    it('should block only the failing address when another client authenticates', async () => {
      await failTimes(20, '10.0.0.1');
      await expect(guard.canActivate(httpContext('read', `Bearer ${GOOD}`, '10.0.0.2').ctx)).resolves.toBe(
        true,
      );
      const err = await rejection(guard.canActivate(httpContext('read', `Bearer ${BAD}`, '10.0.0.2').ctx));
      expect(err.getStatus()).toBe(401);
    });

    it('should let the client try again when the minute has passed', async () => {
      await failTimes(20);
      clock.advance(60_000);
      const err = await rejection(guard.canActivate(httpContext('read', `Bearer ${BAD}`).ctx));
      expect(err.getStatus()).toBe(401);
    });

    it('should not count missing tokens against the client when the header is absent', async () => {
      for (let i = 0; i < 25; i++) await rejection(guard.canActivate(httpContext('read').ctx));
      const err = await rejection(guard.canActivate(httpContext('read', `Bearer ${BAD}`).ctx));
      expect(err.getStatus()).toBe(401);
    });

    it('should rate-limit WebSocket authentication by address too when authenticateToken is used', async () => {
      for (let i = 0; i < 20; i++) await expect(auth.authenticateToken(BAD, '10.0.0.9')).resolves.toBeNull();
      await expect(auth.authenticate(BAD, '10.0.0.9')).resolves.toMatchObject({
        ok: false,
        status: 429,
        retryAfterS: 60,
      });
      await expect(auth.authenticateToken(GOOD, '10.0.0.10')).resolves.toEqual(operator);
    });
  });

  describe('authorization', () => {
    it('should answer 403 when the role is not listed in @Roles()', async () => {
      const err = await rejection(guard.canActivate(httpContext('unshelve', `Bearer ${GOOD}`).ctx));
      expect(err.getStatus()).toBe(403);
      expect(err.message).toMatch(/role 'operator' may not do this/);
      expect(await failures('forbidden')).toBe(1);
    });

    it('should let an admin through when @Roles() does not list admin', async () => {
      verify.mockResolvedValueOnce({ ok: true, degraded: false, principal: { ...operator, role: 'admin' } });
      await expect(guard.canActivate(httpContext('unshelve', `Bearer ${GOOD}`).ctx)).resolves.toBe(true);
    });

    it('should answer 403 when the role lacks the capability of @Requires()', async () => {
      verify.mockResolvedValueOnce({
        ok: true,
        degraded: false,
        principal: { ...operator, role: 'regulator', scope: 'tianjin/binhai' },
      });
      const err = await rejection(guard.canActivate(httpContext('ack', `Bearer ${GOOD}`).ctx));
      expect(err.getStatus()).toBe(403);
      expect(err.message).toMatch(/missing alarm\.ack/);
    });

    it('should let an operator through when it holds the capability', async () => {
      await expect(guard.canActivate(httpContext('ack', `Bearer ${GOOD}`).ctx)).resolves.toBe(true);
    });
  });

  it('should leave WebSocket handlers to the gateway when the context is not HTTP', async () => {
    const ctx = { getType: () => 'ws' } as unknown as ExecutionContext;
    await expect(guard.canActivate(ctx)).resolves.toBe(true);
    expect(verify).not.toHaveBeenCalled();
  });
});

describe('bearerToken', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['Bearer abc', 'abc'],
    ['  bearer   abc  ', 'abc'],
    ['Basic xyz', 'Basic xyz'],
    [['Bearer first', 'Bearer second'], 'first'],
  ])('should read %j as %j', (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});
