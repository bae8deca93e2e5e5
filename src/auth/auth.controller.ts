import { Controller, Get } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { CurrentPrincipal } from './auth.decorators';
import { CAPABILITIES, can, type Capability } from './domain/capability.policy';
import type { Principal, Role } from './principal';
import { ScopeService } from './scope.service';

export type WhoAmIDto = {
  tokenId: string;
  name: string;
  role: Role;
  scope: string;
  capabilities: Capability[];
  siteIds: string[];
};

@ApiTags('auth')
@ApiBearerAuth()
@Controller('api/auth')
export class AuthController {
  constructor(private readonly scope: ScopeService) {}

  /** Lets a client (the console) check a token and learn what it may see and do. */
  @Get('me')
  @ApiOperation({ summary: 'The caller: token id, name, role, scope, capabilities and visible site ids' })
  @ApiOkResponse({ description: 'the authenticated principal' })
  @ApiUnauthorizedResponse({ description: 'missing, invalid or revoked token' })
  me(@CurrentPrincipal() principal: Principal): WhoAmIDto {
    return {
      tokenId: principal.tokenId,
      name: principal.name,
      role: principal.role,
      scope: principal.scope,
      capabilities: CAPABILITIES.filter((c) => can(principal, c)),
      siteIds: [...this.scope.visibleSiteIds(principal)].sort(),
    };
  }
}
