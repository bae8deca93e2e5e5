import {
  SetMetadata,
  UnauthorizedException,
  applyDecorators,
  createParamDecorator,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiForbiddenResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { rolesWith, type Capability } from './domain/capability.policy';
import type { Principal, Role } from './principal';

export const IS_PUBLIC_KEY = 'hazwatch:auth:public';
export const ROLES_KEY = 'hazwatch:auth:roles';
export const CAPABILITIES_KEY = 'hazwatch:auth:capabilities';

/** An HTTP request after BearerAuthGuard: `principal` is set on every non-public route. */
export type AuthenticatedRequest = Request & { principal?: Principal };

/** No token needed: /health/*, /metrics, GET / (console page). Everything else is authenticated by default. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);

/**
 * Only these roles may call the route (admin always may: "admin (all)"). Prefer `@Requires(capability)`, which keeps the
 * role list in the capability table.
 */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(ROLES_KEY, roles),
    ApiForbiddenResponse({ description: `requires role ${[...new Set([...roles, 'admin'])].join(' or ')}` }),
  );

/** The principal must hold every listed capability (see ROLE_CAPABILITIES). */
export const Requires = (...capabilities: Capability[]): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(CAPABILITIES_KEY, capabilities),
    ApiForbiddenResponse({
      description: capabilities.map((c) => `${c}: ${rolesWith(c).join(', ')}`).join('; '),
    }),
  );

/** The authenticated caller. On a @Public() route there is none, and using this is a 401. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.principal)
    throw new UnauthorizedException('missing bearer token (send "Authorization: Bearer <token>")');
  return req.principal;
});
