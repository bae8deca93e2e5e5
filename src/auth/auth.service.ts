import { Inject, Injectable, Optional } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import {
  AuthFailureLimiter,
  DEFAULT_FAILURE_LIMITS,
  type FailureLimiterOptions,
} from './domain/auth-failure.limiter';
import { tokenIdHint } from './domain/token.format';
import type { Principal } from './principal';
import { TokenService } from './token.service';

/** Optional DI token to override the failed-authentication limits (tests). */
export const AUTH_FAILURE_LIMITS = Symbol('AUTH_FAILURE_LIMITS');

/** Values of the `reason` label of hazwatch_auth_failures_total (bounded). */
export type AuthFailureReason =
  'missing' | 'malformed' | 'unknown' | 'revoked' | 'rate_limited' | 'store_unavailable' | 'forbidden';

export type AuthOutcome =
  | { readonly ok: true; readonly principal: Principal }
  | {
      readonly ok: false;
      readonly status: 401;
      readonly reason: 'missing' | 'malformed' | 'unknown' | 'revoked';
      readonly message: string;
    }
  | {
      readonly ok: false;
      readonly status: 429;
      readonly reason: 'rate_limited';
      readonly retryAfterS: number;
      readonly message: string;
    }
  | {
      readonly ok: false;
      readonly status: 503;
      readonly reason: 'store_unavailable';
      readonly message: string;
    };

const MESSAGES = {
  missing: 'missing bearer token (send "Authorization: Bearer <token>")',
  malformed: 'invalid token',
  unknown: 'invalid token',
  revoked: 'token revoked',
} as const;

/**
 * Authentication shared by the HTTP guard and the /ws gateway: verifies a presented token, rate-limits failures per
 * client IP, counts them (hazwatch_auth_failures_total{reason}) and logs them without the token (an id prefix at most).
 */
@Injectable()
export class AuthService {
  private readonly log = new JsonLogger('auth');
  private readonly limiter: AuthFailureLimiter;

  constructor(
    private readonly tokens: TokenService,
    private readonly metrics: HazwatchMetrics,
    @Inject(CLOCK) clock: Clock,
    @Optional() @Inject(AUTH_FAILURE_LIMITS) limits?: Partial<FailureLimiterOptions>,
  ) {
    this.limiter = new AuthFailureLimiter(clock, { ...DEFAULT_FAILURE_LIMITS, ...limits });
  }

  /** Full outcome, for callers that answer differently per failure (HTTP status, WS close code). */
  async authenticate(token: string | undefined, clientIp: string): Promise<AuthOutcome> {
    if (token === undefined || token === '') {
      // Not an attempt with a credential: answered 401, not counted against the client's failure budget.
      this.metrics.authFailures.inc({ reason: 'missing' });
      return { ok: false, status: 401, reason: 'missing', message: MESSAGES.missing };
    }
    const limit = this.limiter.check(clientIp);
    if (limit.blocked) {
      // A token this server already verified keeps working (an operator behind the same NAT as a misbehaving client
      // can still acknowledge alarms); anything else is refused without touching the token store.
      const cached = await this.tokens.verify(token, { cachedOnly: true }).catch(() => undefined);
      if (cached?.ok) return { ok: true, principal: cached.principal };
      this.metrics.authFailures.inc({ reason: 'rate_limited' });
      const retryAfterS = Math.ceil(limit.retryAfterMs / 1000);
      return {
        ok: false,
        status: 429,
        reason: 'rate_limited',
        retryAfterS,
        message: `too many failed authentication attempts from this address; retry after ${retryAfterS} s`,
      };
    }
    let result;
    try {
      result = await this.tokens.verify(token);
    } catch (err) {
      this.metrics.authFailures.inc({ reason: 'store_unavailable' });
      this.log.error('cannot verify token: token store unavailable', {
        ip: clientIp,
        idHint: tokenIdHint(token),
        err,
      });
      return {
        ok: false,
        status: 503,
        reason: 'store_unavailable',
        message: 'authentication temporarily unavailable (token store unreachable)',
      };
    }
    if (result.ok) return { ok: true, principal: result.principal };
    const reason = result.reason === 'not_cached' ? 'unknown' : result.reason;
    this.metrics.authFailures.inc({ reason });
    const after = this.limiter.recordFailure(clientIp);
    this.log.warn('authentication failed', { reason, ip: clientIp, idHint: tokenIdHint(token) });
    if (after.blocked)
      this.log.warn('client blocked after repeated authentication failures', {
        ip: clientIp,
        retryAfterS: Math.ceil(after.retryAfterMs / 1000),
      });
    return { ok: false, status: 401, reason, message: MESSAGES[reason] };
  }

  /** For the /ws gateway: the principal, or null when the token is missing, invalid, revoked or the client is blocked. */
  async authenticateToken(token: string | undefined, clientIp: string): Promise<Principal | null> {
    const outcome = await this.authenticate(token, clientIp);
    return outcome.ok ? outcome.principal : null;
  }

  /** Counts an authorization refusal (403), for the guard and the gateway. */
  recordForbidden(principal: Principal, what: string): void {
    this.metrics.authFailures.inc({ reason: 'forbidden' });
    this.log.warn('forbidden', { id: principal.tokenId, role: principal.role, what });
  }
}
