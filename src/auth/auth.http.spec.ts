import { Controller, Get, Module, Post, type INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import request from 'supertest';
import type { App } from 'supertest/types';
import { ManualClock } from '../common/clock';
import { HttpErrorFilter } from '../common/http-error.filter';
import { JsonLogger } from '../common/logger';
import type { AppConfig } from '../config/app-config';
import { indexPlant } from '../config/config.loader';
import { ConfigModule } from '../config/config.module';
import { MetricsModule } from '../metrics/metrics.module';
import { AuthController } from './auth.controller';
import { CurrentPrincipal, Public, Requires } from './auth.decorators';
import { AUTH_FAILURE_LIMITS, AuthService } from './auth.service';
import { BearerAuthGuard } from './bearer-auth.guard';
import type { Principal } from './principal';
import { ScopeService } from './scope.service';
import { FakeTokenRepository } from './testing/fake-token.repository';
import { TokenRepository } from './token.repository';
import { TokenService } from './token.service';

@Controller()
class ProbeController {
  @Public() @Get('health/live') live() {
    return { status: 'ok' };
  }
  @Get('api/things') things(@CurrentPrincipal() p: Principal) {
    return { who: p.name };
  }
  @Requires('alarm.ack') @Post('api/things/1/ack') ack() {
    return { acked: true };
  }
}

const site = (id: string, jurisdiction: string) => ({
  id,
  name: id,
  jurisdiction,
  location: { lat: 39, lon: 117 },
  hazardSources: [],
  devices: [],
});
const plant = indexPlant({
  sites: [site('bohai-chem', 'tianjin/binhai/nangang'), site('jb-gas', 'tianjin/wuqing/jingbin')],
});
const config = {
  env: { HAZWATCH_DEMO: false },
  configDir: '/nowhere',
  dataDir: '/nowhere',
  plant,
} as unknown as AppConfig;

describe('auth over HTTP (in-process app, fake token store)', () => {
  let app: INestApplication;
  let server: App;
  let tokens: TokenService;
  const clock = new ManualClock(Date.UTC(2026, 10, 24));
  const repo = new FakeTokenRepository();

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    // Same wiring as AuthModule, with the repository replaced (AuthModule itself is exercised by test/integration/auth-http.int-spec.ts).
    @Module({
      imports: [ConfigModule.forRoot(config, clock), MetricsModule],
      controllers: [AuthController, ProbeController],
      providers: [
        { provide: TokenRepository, useValue: repo.asRepository() },
        TokenService,
        AuthService,
        ScopeService,
        { provide: AUTH_FAILURE_LIMITS, useValue: { maxFailures: 3, windowMs: 60_000 } },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
      ],
    })
    class TestModule {}
    app = await NestFactory.create(TestModule, { logger: false });
    app.useGlobalFilters(new HttpErrorFilter());
    await app.init();
    server = app.getHttpServer() as App;
    tokens = app.get(TokenService);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('should serve a @Public() route without a token', async () => {
    await request(server).get('/health/live').expect(200, { status: 'ok' });
  });

  it('should answer 401 {statusCode, error, message} with a Bearer challenge when no token is sent', async () => {
    const res = await request(server).get('/api/things').expect(401);
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'missing bearer token (send "Authorization: Bearer <token>")',
    });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="hazwatch"');
  });

  it('should authenticate every route by default when a valid token is sent', async () => {
    const { token } = await tokens.create({ role: 'operator', scope: '', name: 'control room' });
    await request(server)
      .get('/api/things')
      .set('Authorization', `Bearer ${token}`)
      .expect(200, { who: 'control room' });
  });

  it('should answer 403 with the error body when the role lacks the capability', async () => {
    const { token } = await tokens.create({ role: 'regulator', scope: 'tianjin/binhai', name: 'Binhai ESB' });
    const res = await request(server)
      .post('/api/things/1/ack')
      .set('Authorization', `Bearer ${token}`)
      .expect(403);
    expect(res.body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: "role 'regulator' may not do this (missing alarm.ack)",
    });
  });

  it('should describe the caller with scope-limited site ids when GET /api/auth/me is called', async () => {
    const { info, token } = await tokens.create({
      role: 'regulator',
      scope: 'tianjin/binhai',
      name: 'Binhai ESB',
    });
    const res = await request(server).get('/api/auth/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(res.body).toEqual({
      tokenId: info.id,
      name: 'Binhai ESB',
      role: 'regulator',
      scope: 'tianjin/binhai',
      capabilities: ['plant.read', 'disposition.review', 'feed.subscribe', 'duty-check.run'],
      siteIds: ['bohai-chem'],
    });
  });

  it('should answer 401 token revoked when the token was revoked', async () => {
    const { info, token } = await tokens.create({ role: 'operator', scope: '', name: 'to revoke' });
    await request(server).get('/api/things').set('Authorization', `Bearer ${token}`).expect(200);
    await tokens.revoke(info.id);
    const res = await request(server).get('/api/things').set('Authorization', `Bearer ${token}`).expect(401);
    expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'token revoked' });
  });

  it('should answer 429 with Retry-After and the error body after repeated failures from one address', async () => {
    const bad = `hzw_ba0ba0ba0ba0_${'b'.repeat(43)}`;
    clock.advance(60_000); // forget failures of earlier tests
    for (let i = 0; i < 3; i++)
      await request(server).get('/api/things').set('Authorization', `Bearer ${bad}`).expect(401);
    const res = await request(server).get('/api/things').set('Authorization', `Bearer ${bad}`);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('60');
    expect(res.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/retry after 60 s/),
    });
    clock.advance(60_000);
    await request(server).get('/api/things').set('Authorization', `Bearer ${bad}`).expect(401);
  });
});
