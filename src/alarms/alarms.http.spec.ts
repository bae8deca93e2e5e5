import { Module, ValidationPipe, type INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Subject } from 'rxjs';
import request from 'supertest';
import type { App } from 'supertest/types';
import { makeAlarmTestConfig, makeCondition, T0 } from '../../test/factories/alarm.factory';
import { AUTH_FAILURE_LIMITS, AuthService } from '../auth/auth.service';
import { BearerAuthGuard } from '../auth/bearer-auth.guard';
import { ScopeService } from '../auth/scope.service';
import { FakeTokenRepository } from '../auth/testing/fake-token.repository';
import { TokenRepository } from '../auth/token.repository';
import { TokenService } from '../auth/token.service';
import { ManualClock } from '../common/clock';
import { HttpErrorFilter } from '../common/http-error.filter';
import { JsonLogger } from '../common/logger';
import { ConfigModule } from '../config/config.module';
import { MetricsModule } from '../metrics/metrics.module';
import { ALARM_SETTINGS } from './alarm-settings.loader';
import { ALARM_STORE } from './alarm.store';
import { ALARM_CONDITIONS, ALARM_SCHEDULER, ALARM_SERVICE_OPTIONS, AlarmService } from './alarm.service';
import { AlarmKpiController, AlarmsController, JournalController } from './alarms.controller';
import { alarmId } from './domain/alarm-id';
import { DEFAULT_ALARM_SETTINGS } from './domain/alarm-settings';
import type { ConditionChange } from './domain/condition-change';
import { InMemoryAlarmStore } from './testing/in-memory-alarm.store';
import { ManualScheduler, settle } from '../common/testing/manual.scheduler';

const config = makeAlarmTestConfig();
const GAS = makeCondition();
const GAS_ID = alarmId(GAS);
const WQ = makeCondition({ siteId: 'wuqing-gas', sourceId: 'wq-lpg', deviceId: 'wq-gd-1' });

describe('alarms over HTTP (in-process app, real guard, in-memory store)', () => {
  let app: INestApplication;
  let server: App;
  let store: InMemoryAlarmStore;
  const clock = new ManualClock(T0);
  const conditions = new Subject<ConditionChange>();
  const tok: Record<string, string> = {};
  const auth = (who: string) => ({ Authorization: `Bearer ${tok[who]}` });

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    store = new InMemoryAlarmStore();
    const repo = new FakeTokenRepository();
    @Module({
      imports: [ConfigModule.forRoot(config, clock), MetricsModule],
      controllers: [AlarmsController, JournalController, AlarmKpiController],
      providers: [
        { provide: TokenRepository, useValue: repo.asRepository() },
        TokenService,
        AuthService,
        ScopeService,
        { provide: AUTH_FAILURE_LIMITS, useValue: { maxFailures: 100, windowMs: 60_000 } },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: ALARM_STORE, useValue: store },
        { provide: ALARM_CONDITIONS, useValue: conditions },
        { provide: ALARM_SETTINGS, useValue: { ...DEFAULT_ALARM_SETTINGS, latch: [{ condition: 'trip' }] } },
        { provide: ALARM_SCHEDULER, useValue: new ManualScheduler(clock) },
        { provide: ALARM_SERVICE_OPTIONS, useValue: { actionCommitWaitMs: 0, shutdownDrainMs: 0 } },
        AlarmService,
      ],
    })
    class TestModule {}
    app = await NestFactory.create(TestModule, { logger: false });
    app.useGlobalPipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }));
    app.useGlobalFilters(new HttpErrorFilter());
    await app.init();
    server = app.getHttpServer() as App;
    const tokens = app.get(TokenService);
    for (const [who, role, scope] of [
      ['operator', 'operator', 'tianjin/binhai'],
      ['supervisor', 'supervisor', 'tianjin/binhai'],
      ['regulator', 'regulator', 'tianjin/binhai'],
      ['wuqing', 'operator', 'tianjin/wuqing'],
      ['admin', 'admin', ''],
    ] as const) {
      tok[who] = (await tokens.create({ role, scope, name: `${who} desk` })).token;
    }
    await app.get(AlarmService).whenReady();
    conditions.next(GAS);
    conditions.next(WQ);
    conditions.next(
      makeCondition({
        ruleId: 'valve:cl-xv-1',
        deviceId: 'cl-xv-1',
        condition: 'trip',
        priority: 'high',
        ts: T0,
      }),
    );
    await settle();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('should answer 401 without a token', async () => {
    await request(server).get('/api/alarms').expect(401);
  });

  it('should list only alarms in the caller jurisdiction, with the contract fields', async () => {
    const res = await request(server).get('/api/alarms').set(auth('operator')).expect(200);
    const list = res.body as Array<Record<string, unknown>>;
    expect(list.map((a) => a.siteId)).toEqual(['bohai-chem', 'bohai-chem']);
    expect(list.find((a) => a.id === GAS_ID)).toMatchObject({
      state: 'unacknowledged',
      priority: 'high',
      level: 'orange',
      active: true,
      acked: false,
      seq: 1,
    });
    const wq = await request(server).get('/api/alarms').set(auth('wuqing')).expect(200);
    expect((wq.body as unknown[]).length).toBe(1);
  });

  it('should filter by state, site and priority and reject a bad filter naming the field', async () => {
    const res = await request(server)
      .get('/api/alarms?state=unacknowledged&site=bohai-chem&priority=high')
      .set(auth('admin'))
      .expect(200);
    expect((res.body as unknown[]).length).toBe(2);
    const bad = await request(server).get('/api/alarms?state=angry').set(auth('admin')).expect(400);
    expect(JSON.stringify(bad.body)).toContain('state must be one of');
  });

  it('should answer 404 for an alarm outside the jurisdiction', async () => {
    const res = await request(server).get(`/api/alarms/${GAS_ID}`).set(auth('wuqing')).expect(404);
    expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: `alarm '${GAS_ID}' not found` });
    await request(server).post(`/api/alarms/${GAS_ID}/ack`).set(auth('wuqing')).send({}).expect(404);
  });

  it('should refuse a regulator any action with 403', async () => {
    await request(server).post(`/api/alarms/${GAS_ID}/ack`).set(auth('regulator')).send({}).expect(403);
    await request(server).get(`/api/alarms/${GAS_ID}`).set(auth('regulator')).expect(200);
  });

  it('should acknowledge, journal who and why, and answer 409 on a second ack', async () => {
    const res = await request(server)
      .post(`/api/alarms/${GAS_ID}/ack`)
      .set(auth('operator'))
      .send({ comment: 'crew sent' })
      .expect(200);
    expect(res.body).toMatchObject({ id: GAS_ID, state: 'acknowledged', ackedBy: 'operator desk' });
    const again = await request(server)
      .post(`/api/alarms/${GAS_ID}/ack`)
      .set(auth('operator'))
      .send({})
      .expect(409);
    expect(again.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: `alarm ${GAS_ID} is acknowledged: already acknowledged`,
    });
    await settle();
    const j = await request(server).get(`/api/alarms/${GAS_ID}/journal`).set(auth('operator')).expect(200);
    expect((j.body as Array<Record<string, unknown>>).map((e) => e.event)).toEqual([
      'raised',
      'acknowledged',
    ]);
    expect((j.body as Array<Record<string, unknown>>)[1]).toMatchObject({
      comment: 'crew sent',
      actor: expect.stringContaining('operator desk'),
    });
  });

  it('should reject a bad shelve body with 400 naming the field', async () => {
    const r1 = await request(server)
      .post(`/api/alarms/${GAS_ID}/shelve`)
      .set(auth('operator'))
      .send({ minutes: 721, reason: 'x' })
      .expect(400);
    expect(JSON.stringify(r1.body)).toContain('minutes must not exceed 720');
    const r2 = await request(server)
      .post(`/api/alarms/${GAS_ID}/shelve`)
      .set(auth('operator'))
      .send({ minutes: 10, reason: '  ' })
      .expect(400);
    expect(JSON.stringify(r2.body)).toContain('reason is required');
    const r3 = await request(server)
      .post(`/api/alarms/${GAS_ID}/shelve`)
      .set(auth('operator'))
      .send({ minutes: '10', reason: 'x' })
      .expect(400);
    expect(JSON.stringify(r3.body)).toContain('minutes must be an integer');
    const r4 = await request(server)
      .post(`/api/alarms/${GAS_ID}/shelve`)
      .set(auth('operator'))
      .send({ minutes: 10, reason: 'x', extra: 1 })
      .expect(400);
    expect(JSON.stringify(r4.body)).toContain('extra');
  });

  it('should shelve with a reason and let only a supervisor unshelve', async () => {
    const res = await request(server)
      .post(`/api/alarms/${GAS_ID}/shelve`)
      .set(auth('operator'))
      .send({ minutes: 30, reason: 'detector recalibration' })
      .expect(200);
    expect(res.body).toMatchObject({
      state: 'shelved',
      shelvedUntil: new Date(clock.now() + 30 * 60_000).toISOString(),
    });
    await request(server).post(`/api/alarms/${GAS_ID}/unshelve`).set(auth('operator')).send({}).expect(403);
    const un = await request(server)
      .post(`/api/alarms/${GAS_ID}/unshelve`)
      .set(auth('supervisor'))
      .send({})
      .expect(200);
    expect(un.body).toMatchObject({ state: 'unacknowledged' });
  });

  it('should take out of service with a reason and return to service (supervisor)', async () => {
    await request(server)
      .post(`/api/alarms/${GAS_ID}/out-of-service`)
      .set(auth('supervisor'))
      .send({})
      .expect(400);
    await request(server)
      .post(`/api/alarms/${GAS_ID}/out-of-service`)
      .set(auth('operator'))
      .send({ reason: 'x' })
      .expect(403);
    await request(server)
      .post(`/api/alarms/${GAS_ID}/out-of-service`)
      .set(auth('supervisor'))
      .send({ reason: 'detector replaced' })
      .expect(200);
    await request(server)
      .post(`/api/alarms/${GAS_ID}/out-of-service`)
      .set(auth('supervisor'))
      .send({ reason: 'again' })
      .expect(409);
    const back = await request(server)
      .post(`/api/alarms/${GAS_ID}/return-to-service`)
      .set(auth('supervisor'))
      .send({})
      .expect(200);
    expect(back.body).toMatchObject({ state: 'unacknowledged' });
  });

  it('should reset a latched alarm only after ack (409 before)', async () => {
    const tripId = alarmId(
      makeCondition({ ruleId: 'valve:cl-xv-1', deviceId: 'cl-xv-1', condition: 'trip' }),
    );
    conditions.next(
      makeCondition({
        ruleId: 'valve:cl-xv-1',
        deviceId: 'cl-xv-1',
        condition: 'trip',
        active: false,
        ts: T0 + 1,
      }),
    );
    const r = await request(server)
      .post(`/api/alarms/${tripId}/reset`)
      .set(auth('supervisor'))
      .send({})
      .expect(409);
    expect((r.body as { message: string }).message).toContain('acknowledge it before resetting');
    await request(server).post(`/api/alarms/${tripId}/ack`).set(auth('operator')).send({}).expect(200);
    const ok = await request(server)
      .post(`/api/alarms/${tripId}/reset`)
      .set(auth('supervisor'))
      .send({})
      .expect(200);
    expect(ok.body).toMatchObject({ state: 'normal' });
  });

  it('should serve the journal in scope and verify the chain', async () => {
    await settle();
    const j = await request(server)
      .get(`/api/journal?from=${T0 - 1}&to=${T0 + 86_400_000}`)
      .set(auth('wuqing'))
      .expect(200);
    expect((j.body as Array<{ siteId: string }>).every((e) => e.siteId === 'wuqing-gas')).toBe(true);
    expect((j.body as unknown[]).length).toBe(1);
    const v = await request(server).get('/api/journal/verify').set(auth('regulator')).expect(200);
    expect(v.body).toMatchObject({ ok: true, rowsChecked: store.rows.length });
    await request(server)
      .get('/api/journal?from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z')
      .set(auth('admin'))
      .expect(400);
    await request(server).get('/api/journal?limit=0').set(auth('admin')).expect(400);
  });

  it('should expose status with the flood indicator and storage state', async () => {
    const res = await request(server).get('/api/alarms/status').set(auth('operator')).expect(200);
    expect(res.body).toMatchObject({ ready: true, storageDegraded: false, seq: expect.any(Number) });
    // pendingWrites counts every site: a scoped operator does not get it, an admin does (docs/threat-model.md)
    expect(res.body).not.toHaveProperty('pendingWrites');
    const all = await request(server).get('/api/alarms/status').set(auth('admin')).expect(200);
    expect(all.body).toMatchObject({ pendingWrites: 0 });
    expect((res.body as { floods: Array<{ siteId: string; flood: boolean }> }).floods).toEqual([
      expect.objectContaining({ siteId: 'bohai-chem', flood: false }),
    ]);
  });

  it('should compute KPIs for the window', async () => {
    const res = await request(server)
      .get(
        `/api/kpi/alarms?from=${new Date(T0 - 60_000).toISOString()}&to=${new Date(T0 + 3_600_000).toISOString()}`,
      )
      .set(auth('admin'))
      .expect(200);
    expect(res.body).toMatchObject({
      totalAlarms: 3,
      priorityDistribution: { targetPercent: { low: 80, medium: 15, high: 5 } },
    });
    await request(server).get('/api/kpi/alarms?from=yesterday').set(auth('admin')).expect(400);
  });

  it('should document every alarm route with its body schema in OpenAPI', () => {
    const doc = SwaggerModule.createDocument(app, new DocumentBuilder().build());
    for (const path of [
      '/api/alarms',
      '/api/alarms/status',
      '/api/alarms/{id}',
      '/api/alarms/{id}/journal',
      '/api/alarms/{id}/ack',
      '/api/alarms/{id}/shelve',
      '/api/alarms/{id}/unshelve',
      '/api/alarms/{id}/out-of-service',
      '/api/alarms/{id}/return-to-service',
      '/api/alarms/{id}/reset',
      '/api/journal',
      '/api/journal/verify',
      '/api/kpi/alarms',
    ])
      expect(Object.keys(doc.paths)).toContain(path);
    const shelve = doc.components?.schemas?.ShelveBody as {
      required?: string[];
      properties?: Record<string, { maximum?: number }>;
    };
    expect(shelve.required).toEqual(expect.arrayContaining(['minutes', 'reason']));
    expect(shelve.properties?.minutes?.maximum).toBe(720);
  });
});
