import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Database } from '../storage/database.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { AuthStartupService } from './auth-startup.service';
import { BearerAuthGuard } from './bearer-auth.guard';
import { ScopeService } from './scope.service';
import { AUTH_SQL } from './sql-client.port';
import { TokenRepository } from './token.repository';
import { TokenService } from './token.service';
import {
  TOKEN_LISTEN_CONNECTOR,
  TokenRevocationListener,
  type ListenConnector,
} from './token-revocation.listener';

/**
 * Bearer-token authentication (global guard: every HTTP route is authenticated unless @Public()), jurisdiction scope
 * and the role→capability table. Global, like config and metrics: every module checks scope.
 * Needs storage's `Database` (StorageModule is global).
 */
@Global()
@Module({
  controllers: [AuthController],
  providers: [
    { provide: AUTH_SQL, useExisting: Database },
    TokenRepository,
    TokenService,
    AuthService,
    ScopeService,
    AuthStartupService,
    {
      provide: TOKEN_LISTEN_CONNECTOR,
      useFactory:
        (db: Database): ListenConnector =>
        () =>
          db.acquire(),
      inject: [Database],
    },
    TokenRevocationListener,
    { provide: APP_GUARD, useClass: BearerAuthGuard },
  ],
  exports: [TokenService, AuthService, ScopeService],
})
export class AuthModule {}
