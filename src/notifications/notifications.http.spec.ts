import { Module, ValidationPipe, type INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Subject } from 'rxjs';
import request from 'supertest';
import type { App } from 'supertest/types';
import { makeAlarmTestConfig, T0 } from '../../test/factories/alarm.factory';
import { ALARM_SETTINGS } from '../alarms/alarm-settings.loader';
import { ALARM_STORE } from '../alarms/alarm.store';
import {
  ALARM_CONDITIONS,
  ALARM_SCHEDULER,
  ALARM_SERVICE_OPTIONS,
  AlarmService,
} from '../alarms/alarm.service';
import { DEFAULT_ALARM_SETTINGS } from '../alarms/domain/alarm-settings';
import { ExternalConditions } from '../alarms/external-conditions';
import { InMemoryAlarmStore } from '../alarms/testing/in-memory-alarm.store';
import { ManualScheduler } from '../common/testing/manual.scheduler';
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
import { validateInto } from '../config/config.loader';
import { MetricsModule } from '../metrics/metrics.module';
import { toCalloutsConfig } from './callouts.loader';
import { CalloutsFileSchema } from './callouts.schema';
import { CALLOUT_STORE } from './callout.store';
import { DutyCheckMachine } from './domain/duty-check.machine';
import { EscalationMachine } from './domain/escalation.machine';
import { DutyCheckService } from './duty-check.service';
import { monthRange, NotificationsController } from './notifications.controller';
import { CALLOUTS_CONFIG, NOTIFY_SCHEDULER } from './notifications.tokens';
import { InMemoryCalloutStore } from './testing/in-memory-callout.store';
import { FakeVoiceProvider } from './voice/fake-voice.provider';
import { VOICE_PORT } from './voice/voice.port';

const app = makeAlarmTestConfig();
const calloutsConfig = toCalloutsConfig(
  validateInto(
    CalloutsFileSchema,
    {
      voice: { provider: 'fake' },
      sites: [
        { siteId: 'bohai-chem', controlRoom: { name: 'room', number: 'sip:8001@pbx' }, responsible: {} },
        { siteId: 'wuqing-gas', controlRoom: { name: 'room', number: 'sip:8009@pbx' }, responsible: {} },
      ],
    },
    'callouts.yaml',
  ),
  app.plant,
  'callouts.yaml',
  true,
);

describe('call-out and duty-check HTTP API (in-process app, real guard, in-memory stores)', () => {
  let nest: INestApplication;
  let server: App;
  const clock = new ManualClock(T0);
  const store = new InMemoryCalloutStore();
  const tok: Record<string, string> = {};
  const auth = (who: string) => ({ Authorization: `Bearer ${tok[who]}` });

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    const scheduler = new ManualScheduler(clock);
    const repo = new FakeTokenRepository();
    @Module({
      imports: [ConfigModule.forRoot(app, clock), MetricsModule],
      controllers: [NotificationsController],
      providers: [
        { provide: TokenRepository, useValue: repo.asRepository() },
        TokenService,
        AuthService,
        ScopeService,
        { provide: AUTH_FAILURE_LIMITS, useValue: { maxFailures: 100, windowMs: 60_000 } },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: ALARM_STORE, useValue: new InMemoryAlarmStore() },
        { provide: ALARM_CONDITIONS, useValue: new Subject() },
        { provide: ALARM_SETTINGS, useValue: DEFAULT_ALARM_SETTINGS },
        { provide: ALARM_SCHEDULER, useValue: scheduler },
        { provide: ALARM_SERVICE_OPTIONS, useValue: { actionCommitWaitMs: 0, shutdownDrainMs: 0 } },
        AlarmService,
        ExternalConditions,
        { provide: CALLOUTS_CONFIG, useValue: calloutsConfig },
        { provide: CALLOUT_STORE, useValue: store },
        { provide: NOTIFY_SCHEDULER, useValue: scheduler },
        { provide: VOICE_PORT, useValue: new FakeVoiceProvider(calloutsConfig.voice.fake, clock, scheduler) },
        DutyCheckService,
      ],
    })
    class TestModule {}
    nest = await NestFactory.create(TestModule, { logger: false });
    nest.useGlobalPipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }));
    nest.useGlobalFilters(new HttpErrorFilter());
    await nest.init();
    server = nest.getHttpServer() as App;
    const tokens = nest.get(TokenService);
    for (const [who, role, scope] of [
      ['operator', 'operator', 'tianjin/binhai'],
      ['supervisor', 'supervisor', 'tianjin/binhai'],
      ['regulator', 'regulator', 'tianjin/binhai'],
      ['admin', 'admin', ''],
    ] as const) {
      tok[who] = (await tokens.create({ role, scope, name: `${who} desk` })).token;
    }
    // one call-out and one duty check per site
    for (const siteId of ['bohai-chem', 'wuqing-gas']) {
      const m = EscalationMachine.start(
        {
          alarmId: `al-${siteId}`,
          siteId,
          sourceId: 's',
          ruleId: 'r',
          priority: 'critical',
          message: 'm',
          raisedAt: T0,
        },
        calloutsConfig.policy,
        (role) => ({
          callee: { role, name: 'room', number: 'sip:8001@pbx' },
        }),
      );
      const [p] = m.tick(T0);
      if (p?.kind !== 'place') throw new Error('no call');
      await store.saveCallout(m.state);
      await store.insertAttempt({
        id: p.attempt.id,
        calloutId: m.id,
        siteId,
        calleeRole: 'control_room',
        calleeName: 'room',
        number: 'sip:8001@pbx',
        attemptNo: 1,
        placedAt: T0,
        provider: 'fake',
      });
      await store.finishAttempt(p.attempt.id, {
        outcome: siteId === 'bohai-chem' ? 'BUSY' : 'ACKED',
        endedAt: T0 + 1000,
        digits: '',
      });
      const d = DutyCheckMachine.start(
        {
          siteId,
          scheduledAt: T0,
          trigger: 'schedule',
          callee: { role: 'control_room', name: 'room', number: '1' },
        },
        calloutsConfig.dutyChecks.get(siteId)!,
      );
      await store.saveDutyCheck(d.state, false);
    }
  });

  afterAll(async () => {
    await nest?.close();
  });

  it('should answer 401 without a token', async () => {
    await request(server).get('/api/callouts').expect(401);
  });

  it('should list only call-outs in the caller jurisdiction, with attempts', async () => {
    const res = await request(server).get('/api/callouts').set(auth('regulator')).expect(200);
    expect((res.body as Array<{ siteId: string }>).map((c) => c.siteId)).toEqual(['bohai-chem']);
    const all = await request(server).get('/api/callouts').set(auth('admin')).expect(200);
    expect((all.body as unknown[]).length).toBe(2);
    expect(
      (all.body as Array<{ attempts: Array<{ outcome: string }> }>)[0]?.attempts[0]?.outcome,
    ).toBeDefined();
  });

  it('should filter by outcome, alarm and site and reject a bad filter naming the field', async () => {
    const busy = await request(server).get('/api/callouts?outcome=BUSY').set(auth('admin')).expect(200);
    expect((busy.body as Array<{ siteId: string }>).map((c) => c.siteId)).toEqual(['bohai-chem']);
    const bad = await request(server).get('/api/callouts?outcome=MAYBE').set(auth('admin')).expect(400);
    expect(JSON.stringify(bad.body)).toContain('outcome must be one of ACKED');
    await request(server).get('/api/callouts?site=wuqing-gas').set(auth('regulator')).expect(404);
    const badAlarm = await request(server).get('/api/callouts?alarm=x').set(auth('admin')).expect(400);
    expect(JSON.stringify(badAlarm.body)).toContain('alarm must be an alarm id');
  });

  it('should list duty checks in scope and summarise a month per visible enterprise', async () => {
    const res = await request(server).get('/api/duty-checks').set(auth('regulator')).expect(200);
    expect((res.body as Array<{ siteId: string }>).map((c) => c.siteId)).toEqual(['bohai-chem']);
    const sum = await request(server)
      .get('/api/duty-checks/summary?month=2026-11')
      .set(auth('regulator'))
      .expect(200);
    expect(sum.body).toEqual({
      month: '2026-11',
      from: '2026-10-31T16:00:00.000Z',
      to: '2026-11-30T16:00:00.000Z',
      sites: [
        {
          siteId: 'bohai-chem',
          siteName: 'bohai-chem',
          checks: 1,
          onDuty: 0,
          noAnswer: 0,
          wrongKey: 0,
          failed: 0,
          running: 1,
          onDutyRate: null,
        },
      ],
    });
    await request(server).get('/api/duty-checks/summary').set(auth('regulator')).expect(400);
  });

  it('should let a supervisor or admin run a duty check in scope, a regulator only in its jurisdiction, and refuse an operator', async () => {
    await request(server)
      .post('/api/duty-checks/run')
      .set(auth('operator'))
      .send({ site: 'bohai-chem' })
      .expect(403);
    const outside = await request(server)
      .post('/api/duty-checks/run')
      .set(auth('regulator'))
      .send({ site: 'wuqing-gas' })
      .expect(403);
    expect(outside.body.message).toContain('outside your jurisdiction');
    await request(server)
      .post('/api/duty-checks/run')
      .set(auth('regulator'))
      .send({ site: 'no-such-site' })
      .expect(404);

    await request(server)
      .post('/api/duty-checks/run')
      .set(auth('supervisor'))
      .send({ site: 'wuqing-gas' })
      .expect(404);
    const res = await request(server)
      .post('/api/duty-checks/run')
      .set(auth('supervisor'))
      .send({ site: 'bohai-chem' })
      .expect(201);
    expect(res.body).toMatchObject({ siteId: 'bohai-chem', trigger: 'manual', status: 'running' });
    await request(server)
      .post('/api/duty-checks/run')
      .set(auth('admin'))
      .send({ site: 'bohai-chem' })
      .expect(409);
    // inside its jurisdiction the regulator passes scope and reaches the running check
    const byRegulator = await request(server)
      .post('/api/duty-checks/run')
      .set(auth('regulator'))
      .send({ site: 'bohai-chem' })
      .expect(409);
    expect(byRegulator.body.message).toContain('already running');
    await request(server)
      .post('/api/duty-checks/run')
      .set(auth('admin'))
      .send({ site: 'bad site!' })
      .expect(400);
  });

  it('should document every route and query in OpenAPI', () => {
    const doc = SwaggerModule.createDocument(nest, new DocumentBuilder().build());
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/callouts',
      '/api/duty-checks',
      '/api/duty-checks/run',
      '/api/duty-checks/summary',
    ]);
    const params = (p: string): string[] =>
      ((doc.paths[p]?.get?.parameters ?? []) as Array<{ name: string }>).map((x) => x.name).sort();
    expect(params('/api/callouts')).toEqual(['alarm', 'from', 'limit', 'outcome', 'site', 'to']);
    expect(params('/api/duty-checks/summary')).toEqual(['month']);
    expect(doc.paths['/api/duty-checks/run']?.post?.requestBody).toBeDefined();
  });

  it('should compute month boundaries in Asia/Shanghai', () => {
    expect(monthRange('2026-12')).toEqual({
      from: Date.parse('2026-11-30T16:00:00Z'),
      to: Date.parse('2026-12-31T16:00:00Z'),
    });
  });
});
