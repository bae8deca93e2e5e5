import { Controller, Get, HttpCode, NotFoundException, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { CurrentPrincipal, Requires } from './auth.decorators';
import { TokenService, type TokenInfo } from './token.service';
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
  constructor(
    private readonly scope: ScopeService,
    private readonly tokens: TokenService,
  ) {}

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

  @Get('tokens')
  @Requires('token.manage')
  @ApiOperation({
    summary: 'API tokens (admin): id, name, role, scope, created, last used, revoked — never the secret',
  })
  async listTokens(): Promise<TokenInfo[]> {
    return this.tokens.list();
  }

  /**
   * Revokes a token on every server at once: HTTP refuses it and its /ws sessions are closed (4401) within seconds,
   * also on the other servers sharing the database (docs/threat-model.md, "Tokens"). Same as `npm run token -- revoke`.
   */
  @Post('tokens/:id/revoke')
  @HttpCode(200)
  @Requires('token.manage')
  @ApiOperation({
    summary: 'Revoke an API token (admin); its HTTP requests and WebSocket sessions end at once',
  })
  async revokeToken(
    @Param('id') id: string,
  ): Promise<{ status: 'revoked' | 'already-revoked'; token: TokenInfo }> {
    const r = await this.tokens.revoke(id);
    if (r.status === 'not-found') throw new NotFoundException(`no token with id '${id}'`);
    return r;
  }
}
