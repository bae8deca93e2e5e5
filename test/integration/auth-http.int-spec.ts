import { Controller, Get, Global, Module, Post, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types';
import { AUTH_CONSOLE } from '../../src/auth/auth-startup.service';
import { Requires } from '../../src/auth/auth.decorators';
import { AuthModule } from '../../src/auth/auth.module';
import { TokenService } from '../../src/auth/token.service';
import { systemClock } from '../../src/common/clock';
import { HttpErrorFilter } from '../../src/common/http-error.filter';
import { JsonLogger } from '../../src/common/logger';
import { loadAppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { MetricsModule } from '../../src/metrics/metrics.module';
import { StorageModule } from '../../src/storage/storage.module';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('auth-http.int-spec');

@Controller('api/probe')
class ProbeController {
  @Get() read() {
    return { ok: true };
  }
  @Requires('alarm.ack') @Post('ack') ack() {
    return { acked: true };
  }
}

const TOKEN = /hzw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/g;

/**
 * The real AuthModule + StorageModule on a scratch database (so "no token exists yet" holds): demo mode creates and
 * prints the first tokens once, the global guard protects every route, scope limits what a regulator sees.
 */
suite('AuthModule with storage, demo mode (scratch database)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let dataDir: string;
  const printed: string[] = [];

  async function boot(): Promise<INestApplication> {
    const config = loadAppConfig({
      DATABASE_URL: scratch.url,
      DATA_DIR: dataDir,
      CONFIG_DIR: join(__dirname, '../../config'),
      HAZWATCH_DEMO: 'true',
    });
    @Global()
    @Module({
      providers: [{ provide: AUTH_CONSOLE, useValue: { write: (t: string) => printed.push(t) } }],
      exports: [AUTH_CONSOLE],
    })
    class CaptureModule {}
    @Module({
      imports: [
        ConfigModule.forRoot(config, systemClock),
        MetricsModule,
        StorageModule,
        CaptureModule,
        AuthModule,
      ],
      controllers: [ProbeController],
    })
    class TestAppModule {}
    const app = await NestFactory.create(TestAppModule, { logger: false });
    app.useGlobalFilters(new HttpErrorFilter());
    await app.init();
    return app;
  }

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'auth');
    dataDir = mkdtempSync(join(tmpdir(), 'hazwatch-auth-'));
  });

  afterAll(async () => {
    await scratch?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('should print four demo tokens once and enforce role and scope with them, and print none on the next start', async () => {
    const app = await boot();
    let tokens: string[];
    try {
      const server = app.getHttpServer() as App;
      expect(printed).toHaveLength(1);
      const block = printed[0]!;
      tokens = block.match(TOKEN) ?? [];
      expect(tokens).toHaveLength(4);
      const [operator, supervisor, regulator, admin] = tokens as [string, string, string, string];
      expect(block).toMatch(new RegExp(`operator\\s+\\(all sites\\)\\s+${operator}`));
      expect(block).toMatch(new RegExp(`regulator\\s+tianjin/binhai\\s+${regulator}`));

      // Public and protected routes.
      await request(server).get('/metrics').expect(200);
      const missing = await request(server).get('/api/probe').expect(401);
      expect(missing.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      await request(server)
        .get('/api/probe')
        .set('Authorization', `Bearer ${operator}`)
        .expect(200, { ok: true });

      // Scope: the Binhai regulator sees the two Binhai enterprises only; the operator (empty scope) all three.
      const reg = await request(server)
        .get('/api/auth/me')
        .set('Authorization', `Bearer ${regulator}`)
        .expect(200);
      expect(reg.body).toMatchObject({
        role: 'regulator',
        scope: 'tianjin/binhai',
        siteIds: ['bohai-chem', 'nangang-petro'],
      });
      const op = await request(server)
        .get('/api/auth/me')
        .set('Authorization', `Bearer ${operator}`)
        .expect(200);
      expect(op.body.siteIds).toEqual(['bohai-chem', 'nangang-petro', 'wuqing-fine']);
      const adm = await request(server)
        .get('/api/auth/me')
        .set('Authorization', `Bearer ${admin}`)
        .expect(200);
      expect(adm.body.capabilities).toContain('token.manage');

      // Roles.
      await request(server).post('/api/probe/ack').set('Authorization', `Bearer ${regulator}`).expect(403);
      await request(server)
        .post('/api/probe/ack')
        .set('Authorization', `Bearer ${supervisor}`)
        .expect(201, { acked: true });

      // Revocation through the service takes effect at once.
      const svc = app.get(TokenService);
      const regId = regulator.slice(4, 16);
      await svc.revoke(regId);
      const revoked = await request(server)
        .get('/api/probe')
        .set('Authorization', `Bearer ${regulator}`)
        .expect(401);
      expect(revoked.body.message).toBe('token revoked');
    } finally {
      await app.close();
    }

    // Second start on the same database: tokens exist, nothing is created or printed; old tokens still work.
    const again = await boot();
    try {
      expect(printed).toHaveLength(1);
      await expect(again.get(TokenService).count()).resolves.toBe(4);
      await request(again.getHttpServer() as App)
        .get('/api/probe')
        .set('Authorization', `Bearer ${tokens[0]!}`)
        .expect(200);
    } finally {
      await again.close();
    }
  });
});
