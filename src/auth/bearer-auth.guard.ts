import {
  ForbiddenException,
  HttpException,
  HttpStatus,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { AuthService } from './auth.service';
import { CAPABILITIES_KEY, IS_PUBLIC_KEY, ROLES_KEY, type AuthenticatedRequest } from './auth.decorators';
import { can, type Capability } from './domain/capability.policy';
import type { Role } from './principal';

/** The credential of an Authorization header: undefined when absent; a non-Bearer value is passed on (and fails). */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value.trim());
  return m?.[1] ?? value.trim();
}

/** Client address for rate limiting: the socket peer (no proxy is trusted by default; express `trust proxy` changes req.ip). */
export function clientIp(req: Pick<AuthenticatedRequest, 'ip' | 'socket'>): string {
  return req.ip ?? req.socket?.remoteAddress ?? 'unknown';
}

/**
 * Global guard (APP_GUARD): every HTTP route needs a valid bearer token unless marked @Public(); @Roles()/@Requires()
 * narrow it further. 401 missing/invalid/revoked, 429 while the client is rate-limited, 403 wrong role, 503 token store
 * unreachable. WebSocket handlers pass: the /ws gateway authenticates its connections through AuthService.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, targets) === true) return true;

    const http = ctx.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    const res = http.getResponse<Response>();
    const outcome = await this.auth.authenticate(bearerToken(req.headers.authorization), clientIp(req));
    if (!outcome.ok) {
      switch (outcome.status) {
        case 401:
          res.setHeader(
            'WWW-Authenticate',
            outcome.reason === 'missing'
              ? 'Bearer realm="hazwatch"'
              : 'Bearer realm="hazwatch", error="invalid_token"',
          );
          throw new UnauthorizedException(outcome.message);
        case 429:
          res.setHeader('Retry-After', String(outcome.retryAfterS));
          throw new HttpException(
            { statusCode: 429, error: 'Too Many Requests', message: outcome.message },
            HttpStatus.TOO_MANY_REQUESTS,
          );
        case 503:
          throw new HttpException(
            { statusCode: 503, error: 'Service Unavailable', message: outcome.message },
            HttpStatus.SERVICE_UNAVAILABLE,
          );
      }
    }
    const principal = outcome.principal;
    req.principal = principal;

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (roles && principal.role !== 'admin' && !roles.includes(principal.role)) {
      this.auth.recordForbidden(principal, `${req.method} ${req.path}`);
      throw new ForbiddenException(
        `role '${principal.role}' may not do this (requires ${roles.join(' or ')})`,
      );
    }
    const needed = this.reflector.getAllAndMerge<Capability[]>(CAPABILITIES_KEY, targets);
    const missing = needed.filter((c) => !can(principal, c));
    if (missing.length > 0) {
      this.auth.recordForbidden(principal, `${req.method} ${req.path}`);
      throw new ForbiddenException(
        `role '${principal.role}' may not do this (missing ${missing.join(', ')})`,
      );
    }
    return true;
  }
}
