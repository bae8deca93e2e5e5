import { Module, ValidationPipe, type INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import request from 'supertest';
import type { App } from 'supertest/types';
import { makeAlarmTestConfig, T0 } from '../../test/factories/alarm.factory';
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
import { toCalloutsConfig } from '../notifications/callouts.loader';
import { CalloutsFileSchema } from '../notifications/callouts.schema';
import { CALLOUT_STORE } from '../notifications/callout.store';
import { CALLOUTS_CONFIG } from '../notifications/notifications.tokens';
import { InMemoryCalloutStore } from '../notifications/testing/in-memory-callout.store';
import type { BucketedQuery, TelemetryBucket } from '../storage/telemetry-query.repository';
import type { DossierDisposal, DossierFinding, DossierJournalEntry } from './domain/dossier.types';
import { IncidentController } from './incident.controller';
import { DOSSIER_SOURCE, type DossierSource } from './incident.repository';
import { DOSSIER_TELEMETRY, IncidentService, telemetryWindow } from './incident.service';

const app = makeAlarmTestConfig();
const calloutsConfig = toCalloutsConfig(
  validateInto(
    CalloutsFileSchema,
    {
      voice: { provider: 'fake' },
      dutyDesks: [
        {
          id: 'bh',
          name: '滨海新区应急管理局值班室',
          jurisdiction: 'tianjin/binhai',
          number: '+862225201110',
        },
      ],
      sites: [
        {
          siteId: 'bohai-chem',
          controlRoom: { name: '中控室', number: 'sip:8001@pbx' },
          responsible: {
            main: [{ name: '张建国', number: '+8613800001001' }],
            // day shift only: 18:22 China time is outside it → roster gap, the holder is shown
            operations: [
              {
                name: '王强',
                number: '+8613800001003',
                onCall: [{ days: ['mon'], from: '08:00', to: '09:00' }],
              },
            ],
          },
          sources: [
            {
              sourceId: 'bhc-cl2',
              responsible: { operations: [{ name: '孙浩', number: '+8613800001005' }] },
            },
          ],
        },
      ],
    },
    'callouts.yaml',
  ),
  app.plant,
  'callouts.yaml',
  true,
);

const at = (min: number): string => new Date(T0 + min * 60_000).toISOString();
const entry = (seq: number, min: number, event: string, siteId = 'bohai-chem'): DossierJournalEntry => ({
  seq,
  at: at(min),
  alarmId: `al-${siteId}`,
  event,
  fromState: 'normal',
  toState: 'unacknowledged',
  actor: 'system',
  actorRole: 'system',
  sourceId: 'bhc-cl2',
  deviceId: 'cl-gd-1',
  condition: 'gas_l2',
  priority: 'critical',
  message: '氯气二级报警',
  value: '2.4',
  limit: '2',
  hash: String(seq).padStart(64, '0'),
});

class FakeSource implements DossierSource {
  readonly calls: Array<{ siteId: string; from: number; to: number }> = [];
  async journal(siteId: string, from: number, to: number): Promise<DossierJournalEntry[]> {
    this.calls.push({ siteId, from, to });
    return [entry(7, 22, 'raised', siteId), entry(8, 25, 'acknowledged', siteId)].filter((e) => {
      const t = Date.parse(e.at);
      return t >= from && t < to;
    });
  }
  async findings(
    siteId: string,
    _from: number,
    _to: number,
    alarmIds: readonly string[],
  ): Promise<DossierFinding[]> {
    return alarmIds.map((a) => ({
      id: `hd-${siteId}`,
      alarmId: a,
      title: '法兰泄漏',
      status: 'open',
      createdAt: at(40),
      updatedAt: at(40),
      history: [],
    }));
  }
  readonly disposalCalls: Array<{ siteId: string; alarmIds: readonly string[] }> = [];
  async disposals(
    siteId: string,
    _from: number,
    _to: number,
    alarmIds: readonly string[],
  ): Promise<DossierDisposal[]> {
    this.disposalCalls.push({ siteId, alarmIds });
    return alarmIds.map((a) => ({
      alarmId: a,
      obligation: { status: 'filed', raisedAt: at(22), dueAt: at(52), returned: 0 },
      records: [
        {
          id: `dsp-${siteId}`,
          filedAt: at(30),
          filedBy: '李明',
          cause: '法兰垫片老化',
          actions: '更换垫片',
          closedBy: '王强',
          attachments: [],
          status: 'filed',
        },
      ],
    }));
  }
}
class FakeTelemetry {
  readonly queries: BucketedQuery[] = [];
  async bucketed(q: BucketedQuery): Promise<TelemetryBucket[]> {
    this.queries.push(q);
    return [
      { bucket: new Date(T0 + 23 * 60_000), channel: 'conc', min: 2.2, max: 2.6, avg: 2.4, last: 2.5, n: 4 },
      { bucket: new Date(T0 + 20 * 60_000), channel: 'conc', min: 0.1, max: 0.3, avg: 0.2, last: 0.2, n: 4 },
    ];
  }
}

describe('incident dossier HTTP API (in-process app, real guard, fake sources)', () => {
  let nest: INestApplication;
  let server: App;
  const clock = new ManualClock(T0 + 65 * 60_000);
  const source = new FakeSource();
  const telemetry = new FakeTelemetry();
  const tok: Record<string, string> = {};
  const auth = (who: string) => ({ Authorization: `Bearer ${tok[who]}` });
  const window = { from: at(0), to: at(60) };

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    const repo = new FakeTokenRepository();
    @Module({
      imports: [ConfigModule.forRoot(app, clock), MetricsModule],
      controllers: [IncidentController],
      providers: [
        { provide: TokenRepository, useValue: repo.asRepository() },
        TokenService,
        AuthService,
        ScopeService,
        { provide: AUTH_FAILURE_LIMITS, useValue: { maxFailures: 100, windowMs: 60_000 } },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: DOSSIER_SOURCE, useValue: source },
        { provide: DOSSIER_TELEMETRY, useValue: telemetry },
        { provide: CALLOUT_STORE, useValue: new InMemoryCalloutStore() },
        { provide: CALLOUTS_CONFIG, useValue: calloutsConfig },
        IncidentService,
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
      ['operator', 'operator', 'tianjin/binhai/nangang/bohai-chem'],
      ['regulator', 'regulator', 'tianjin/binhai'],
      ['wuqingRegulator', 'regulator', 'tianjin/wuqing'],
    ] as const)
      tok[who] = (await tokens.create({ role, scope, name: `${who} desk` })).token;
  });
  afterAll(async () => {
    await nest?.close();
  });

  it('should bundle journal, findings, on-duty roster and telemetry of the involved device as JSON', async () => {
    const res = await request(server)
      .get('/api/sites/bohai-chem/incident')
      .query(window)
      .set(auth('regulator'))
      .expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({
      site: { id: 'bohai-chem', jurisdiction: 'tianjin/binhai/nangang' },
      from: at(0),
      to: at(60),
      generatedAt: at(65),
      generatedBy: 'regulator desk (regulator)',
      incidentStart: at(22),
      journalTruncated: false,
      findings: [{ id: 'hd-bohai-chem', alarmId: 'al-bohai-chem' }],
      disposals: [
        {
          alarmId: 'al-bohai-chem',
          obligation: { status: 'filed', dueAt: at(52) },
          records: [{ id: 'dsp-bohai-chem', cause: '法兰垫片老化', filedBy: '李明', status: 'filed' }],
        },
      ],
    });
    // the disposal records are asked for the alarms the window's journal names
    expect(source.disposalCalls.at(-1)).toEqual({ siteId: 'bohai-chem', alarmIds: ['al-bohai-chem'] });
    expect((res.body as { journal: DossierJournalEntry[] }).journal.map((e) => e.seq)).toEqual([7, 8]);
    // the roster at 18:22 China time: site-wide and the chlorine source's own operations person, the duty desk
    expect(res.body.onDuty).toEqual([
      { role: 'control_room', name: '中控室', number: 'sip:8001@pbx', rosterGap: false },
      { role: 'main', name: '张建国', number: '+8613800001001', rosterGap: false },
      { role: 'operations', name: '王强', number: '+8613800001003', rosterGap: true },
      { role: 'operations', sourceId: 'bhc-cl2', name: '孙浩', number: '+8613800001005', rosterGap: false },
      { role: 'duty_desk', name: '滨海新区应急管理局值班室', number: '+862225201110', rosterGap: false },
    ]);
    const series = (res.body as { telemetry: Array<{ points: Array<{ avg: number }> }> }).telemetry;
    expect(series).toHaveLength(1);
    expect(series[0]).toMatchObject({
      deviceId: 'cl-gd-1',
      channel: 'conc',
      unit: 'mg/m3',
      limits: [
        { label: '一级报警', value: 1 },
        { label: '二级报警', value: 2 },
      ],
      marks: [
        { at: at(22), label: '报警产生' },
        { at: at(25), label: '报警确认' },
      ],
    });
    // oldest first, from the window widened around the incident
    expect(series[0]!.points.map((p) => p.avg)).toEqual([0.2, 2.4]);
    const q = telemetry.queries[telemetry.queries.length - 1]!;
    expect({ from: q.from, to: q.to }).toEqual(telemetryWindow(Date.parse(at(0)), Date.parse(at(60))));
    expect(q.bucketSeconds).toBe(20);
  });

  it('should default to the hour before now', async () => {
    await request(server).get('/api/sites/bohai-chem/incident').set(auth('operator')).expect(200);
    expect(source.calls[source.calls.length - 1]).toEqual({
      siteId: 'bohai-chem',
      from: T0 + 5 * 60_000,
      to: T0 + 65 * 60_000,
    });
  });

  it('should serve printable Chinese HTML', async () => {
    const res = await request(server)
      .get('/api/sites/bohai-chem/incident')
      .query({ ...window, format: 'html' })
      .set(auth('operator'))
      .expect(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.text).toContain('<html lang="zh-CN">');
    expect(res.text).toContain('孙浩');
    expect(res.text).toContain('五、报警处置记录');
    expect(res.text).toContain('原因：法兰垫片老化<br>措施：更换垫片<br>处置人：王强');
    expect(res.text).toContain('<svg ');
  });

  it('should serve a PDF as an attachment', async () => {
    const res = await request(server)
      .get('/api/sites/bohai-chem/incident')
      .query({ ...window, format: 'pdf' })
      .set(auth('regulator'))
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="incident-bohai-chem-202611241800.pdf"',
    );
    const body = res.body as Buffer;
    expect(body.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(body.toString('latin1')).toMatch(/NotoSansHans-Regular/);
  });

  it('should answer 404 outside the caller’s jurisdiction and for an unknown site', async () => {
    await request(server).get('/api/sites/bohai-chem/incident').set(auth('wuqingRegulator')).expect(404);
    await request(server).get('/api/sites/wuqing-gas/incident').set(auth('regulator')).expect(404);
    await request(server).get('/api/sites/wuqing-gas/incident').set(auth('operator')).expect(404);
    await request(server).get('/api/sites/nowhere/incident').set(auth('regulator')).expect(404);
  });

  it('should refuse a missing token, a bad format and a bad window with a clear message', async () => {
    await request(server).get('/api/sites/bohai-chem/incident').expect(401);
    const fmt = await request(server)
      .get('/api/sites/bohai-chem/incident')
      .query({ format: 'docx' })
      .set(auth('regulator'))
      .expect(400);
    expect(JSON.stringify(fmt.body)).toContain('format must be one of json, html, pdf');
    const order = await request(server)
      .get('/api/sites/bohai-chem/incident')
      .query({ from: at(60), to: at(0) })
      .set(auth('regulator'))
      .expect(400);
    expect(JSON.stringify(order.body)).toContain('from must be before to');
    const long = await request(server)
      .get('/api/sites/bohai-chem/incident')
      .query({ from: at(-8 * 1440), to: at(0) })
      .set(auth('regulator'))
      .expect(400);
    expect(JSON.stringify(long.body)).toContain('may not exceed 7 days');
    const bad = await request(server)
      .get('/api/sites/bohai-chem/incident')
      .query({ from: 'yesterday' })
      .set(auth('regulator'))
      .expect(400);
    expect(JSON.stringify(bad.body)).toContain('from must be an ISO-8601 time');
  });
});
