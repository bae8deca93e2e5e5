/**
 * A backend for console browser tests: the real RealtimeModule (gateway + console page) with the other modules
 * replaced by small in-memory fakes that speak the same HTTP API (docs/contract.md §3) and feed the realtime ports.
 * Deterministic: alarms appear only when the test raises them.
 */
import {
  Body,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  Headers,
  HttpCode,
  Module,
  NotFoundException,
  Param,
  Post,
  Query,
  ServiceUnavailableException,
  UnauthorizedException,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import type { Principal } from '../../src/auth/principal';
import { ManualClock } from '../../src/common/clock';
import { PRIORITY_LEVEL, type Priority, type Reading } from '../../src/common/types';
import { APP_CONFIG, loadAppConfig, type AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { MetricsModule } from '../../src/metrics/metrics.module';
import { FloodTracker } from '../../src/alarms/domain/flood.tracker';
import type { AlarmEventDto, AlarmState, HazardDto } from '../../src/realtime/domain/client-events';
import { maxFillLevelPct } from '../../src/rules/domain/tank-geometry';
import { plantScope } from '../../src/realtime/realtime.adapters';
import { RealtimeModule } from '../../src/realtime/realtime.module';
import {
  ALARM_FEED,
  HAZARD_FEED,
  STORAGE_STATUS,
  TELEMETRY_FEED,
  WS_AUTHENTICATOR,
  WS_SCOPE,
  type AlarmFeed,
  type WsAuthenticator,
} from '../../src/realtime/realtime.ports';

export const TOKENS: Record<string, Principal> = {
  'op-token': { tokenId: 'op', name: 'control room', role: 'operator', scope: '' },
  'reg-token': { tokenId: 'rb', name: 'Binhai ESB', role: 'regulator', scope: 'tianjin/binhai' },
  'sup-token': { tokenId: 'sv', name: 'shift supervisor Li', role: 'supervisor', scope: '' },
};

/** A declared drill as GET /api/drills answers it (docs/adr/0028-declared-drills.md). */
export type HarnessDrill = {
  id: string;
  siteId: string;
  scenario: string;
  startedAt: string;
  startedBy: string;
  endedAt: string | null;
  endedBy: string | null;
  running: boolean;
};

/** The alarm module in miniature: current snapshots, a journal with seq, and live events. */
export class FakeAlarmBackend implements AlarmFeed {
  readonly journal: AlarmEventDto[] = [];
  readonly current = new Map<string, AlarmEventDto>();
  private readonly live = new Subject<AlarmEventDto>();
  readonly events$ = this.live.asObservable();
  private seq = 0;
  private n = 0;
  /** The server's flood indicator (GET /api/alarms/status), fed by raises like the real alarm service. */
  readonly flood = new FloodTracker();

  constructor(private readonly config: AppConfig) {}

  currentSeq(): number {
    return this.seq;
  }

  async eventsSince(since: number, principal: Principal): Promise<readonly AlarmEventDto[]> {
    const visible = plantScope(this.config).visibleSiteIds(principal);
    return this.journal.filter((e) => e.seq > since && visible.has(e.siteId));
  }

  raise(
    o: {
      siteId?: string;
      sourceId?: string;
      deviceId?: string;
      priority?: Priority;
      condition?: string;
      message?: string;
      value?: number;
      limit?: number;
    } = {},
  ): AlarmEventDto {
    const priority = o.priority ?? 'high';
    const siteId = o.siteId ?? 'bohai-chem';
    const deviceId = o.deviceId ?? 'cl-gd-1';
    const device = this.config.plant.deviceByKey.get(`${siteId}/${deviceId}`);
    const id = `al-${++this.n}`;
    this.flood.record(siteId, Date.now());
    return this.write({
      id,
      siteId,
      sourceId: o.sourceId ?? device?.sourceId ?? 'bhc-cl2',
      ruleId: 'gas-limit',
      deviceId,
      condition: o.condition ?? 'gas_l2',
      priority,
      level: PRIORITY_LEVEL[priority],
      state: 'unacknowledged',
      active: true,
      acked: false,
      value: o.value ?? 2.6,
      limit: o.limit ?? 2,
      message: o.message ?? '氯气二级报警 chlorine level 2',
      raisedAt: new Date().toISOString(),
      seq: 0,
      event: 'raised',
    });
  }

  ack(id: string, by: string): AlarmEventDto {
    const a = this.require(id);
    const state: AlarmState = a.state === 'rtn_unacknowledged' ? 'normal' : 'acknowledged';
    return this.write({
      ...a,
      state,
      acked: true,
      ackedAt: new Date().toISOString(),
      ackedBy: by,
      event: 'acknowledged',
    });
  }

  shelve(id: string): AlarmEventDto {
    return this.write({ ...this.require(id), state: 'shelved', event: 'shelved' });
  }

  clear(id: string): AlarmEventDto {
    const a = this.require(id);
    return this.write({
      ...a,
      active: false,
      state: a.acked ? 'normal' : 'rtn_unacknowledged',
      clearedAt: new Date().toISOString(),
      event: 'cleared',
    });
  }

  private require(id: string): AlarmEventDto {
    const a = this.current.get(id);
    if (!a) throw new NotFoundException(`alarm '${id}' not found`);
    return a;
  }

  private write(a: Omit<AlarmEventDto, 'at'>): AlarmEventDto {
    const ev: AlarmEventDto = { ...a, at: new Date().toISOString(), seq: ++this.seq };
    this.journal.push(ev);
    this.current.set(ev.id, ev);
    this.live.next(ev);
    return ev;
  }
}

export type ConsoleHarness = {
  app: INestApplication;
  url: string;
  config: AppConfig;
  alarms: FakeAlarmBackend;
  telemetry: Subject<Reading>;
  hazards: Subject<HazardDto>;
  storage: { degraded: boolean };
  ackCalls: string[];
  /** GET /api/alarms answers 503 this many more times. */
  listFailures: { remaining: number };
  /** Declared drills (the drills API in miniature: supervisor-only start and end). */
  drills: HarnessDrill[];
  /** Drops every open WebSocket connection at the TCP level (the browser sees an abnormal close and reconnects). */
  dropConnections(): number;
  close(): Promise<void>;
};

export async function startConsoleHarness(env: Record<string, string> = {}): Promise<ConsoleHarness> {
  const config = loadAppConfig({
    CONFIG_DIR: join(__dirname, '../../config'),
    DATA_DIR: mkdtempSync(join(tmpdir(), 'hzw-console-')),
    ...env,
  });
  const drills: HarnessDrill[] = [];
  const alarms = new FakeAlarmBackend(config);
  const telemetry = new Subject<Reading>();
  const hazards = new Subject<HazardDto>();
  const storage = { degraded: false };
  const ackCalls: string[] = [];
  const listFailures = { remaining: 0 };
  const scope = plantScope(config);
  const auth: WsAuthenticator = { authenticateToken: async (token) => TOKENS[token] ?? null };

  const principalOf = (authorization: string | undefined): Principal => {
    const p = TOKENS[(authorization ?? '').replace(/^Bearer\s+/i, '')];
    if (!p) throw new UnauthorizedException('invalid token');
    return p;
  };

  @Controller('api')
  class FakeApiController {
    @Get('sites')
    sites(@Headers('authorization') authz?: string): unknown[] {
      const visible = scope.visibleSiteIds(principalOf(authz));
      return config.plant.sites
        .filter((s) => visible.has(s.id))
        .map((s) => ({
          id: s.id,
          name: s.name,
          nameEn: s.nameEn,
          jurisdiction: s.jurisdiction,
          location: s.location,
          hazardSources: s.hazardSources,
        }));
    }

    @Get('regulator/overview')
    overview(@Headers('authorization') authz?: string): unknown {
      const visible = scope.visibleSiteIds(principalOf(authz));
      const levels = ['red', 'orange', 'yellow', 'blue'];
      return {
        enterprises: config.plant.sites
          .filter((s) => visible.has(s.id))
          .map((s, i) => ({
            id: s.id,
            name: s.name,
            nameEn: s.nameEn,
            jurisdiction: s.jurisdiction,
            location: s.location,
            disposals: {
              overdue: i === 0 ? 1 : 0,
              awaiting: i === 0 ? 2 : 0,
              awaitingReview: i === 1 ? 1 : 0,
            },
            hazardSources: s.hazardSources.map((h, j) => ({
              id: h.id,
              name: h.name,
              nameEn: h.nameEn,
              filedGrade: h.filedGrade,
              filedLevel: levels[h.filedGrade - 1],
              liveLevel: levels[h.filedGrade - 1],
              R: 120 - h.filedGrade * 25,
              systems: {
                esd: 'ok',
                gas_detection: 'ok',
                video: 'ok',
                lightning: i === 0 && j === 0 ? 'fault' : 'ok',
              },
            })),
          })),
      };
    }

    @Get('duty-checks/summary')
    duty(@Headers('authorization') authz?: string): unknown {
      const visible = [...scope.visibleSiteIds(principalOf(authz))];
      return {
        month: new Date().toISOString().slice(0, 7),
        sites: visible.map((siteId, i) => ({
          siteId,
          checks: 8,
          onDuty: 8 - i,
          noAnswer: i,
          wrongKey: 0,
          failed: 0,
          running: 0,
          onDutyRate: ((8 - i) / 8) * 100,
        })),
      };
    }

    @Get('devices')
    devices(@Headers('authorization') authz?: string): unknown[] {
      const visible = scope.visibleSiteIds(principalOf(authz));
      return [...config.plant.deviceByKey.values()]
        .filter((d) => visible.has(d.siteId))
        .map((d) => ({
          siteId: d.siteId,
          deviceId: d.id,
          name: d.name,
          nameEn: d.nameEn,
          kind: d.kind,
          sourceId: d.sourceId,
          unit: d.unit,
          level1: d.level1,
          level2: d.level2,
          system: d.system,
          ...(d.kind === 'tank'
            ? {
                maxFillPct: d.maxFillPct ?? 90,
                levelHHPct: maxFillLevelPct(d),
                levelHPct: Math.round((maxFillLevelPct(d) - 5) * 10) / 10,
              }
            : {}),
          state: 'online',
          lastSeen: new Date().toISOString(),
          values:
            d.kind === 'safety_system'
              ? { status: { value: 'ok', ts: new Date().toISOString(), quality: 'good' } }
              : {},
        }));
    }

    @Get('hazard-sources')
    hazardSources(@Headers('authorization') authz?: string): unknown[] {
      const visible = scope.visibleSiteIds(principalOf(authz));
      return [...config.plant.sourceById.values()]
        .filter((s) => visible.has(s.siteId))
        .map((s) => ({
          sourceId: s.id,
          siteId: s.siteId,
          name: s.name,
          filedGrade: s.filedGrade,
          grade: s.filedGrade,
          level: ['red', 'orange', 'yellow', 'blue'][s.filedGrade - 1],
          R: 120 - s.filedGrade * 25,
        }));
    }

    @Get('alarms/status')
    status(@Headers('authorization') authz?: string): unknown {
      const visible = scope.visibleSiteIds(principalOf(authz));
      const floods = [...visible]
        .map((siteId) => alarms.flood.status(siteId, Date.now()))
        .filter((f) => f.flood);
      return { ready: true, storageDegraded: storage.degraded, seq: alarms.currentSeq(), floods };
    }

    @Get('kpi/alarms')
    kpis(@Headers('authorization') authz?: string): unknown {
      const visible = [...scope.visibleSiteIds(principalOf(authz))];
      const raised = [...alarms.current.values()];
      const bySite = visible.map((siteId, i) => ({
        siteId,
        alarms: raised.filter((a) => a.siteId === siteId).length,
        averagePer10Min: [0.6, 2.4, 0.3, 1.1][i % 4],
        peakPer10Min: [4, 14, 2, 6][i % 4],
        percentTimeInFlood: [0, 1.2, 0, 0.2][i % 4],
        floods: [0, 2, 0, 1][i % 4],
        averageWithinTarget: [true, false, true, false][i % 4],
      }));
      const top10 = raised.slice(0, 10).map((a, i) => ({
        alarmId: a.id,
        siteId: a.siteId,
        sourceId: a.sourceId,
        ruleId: a.ruleId,
        deviceId: a.deviceId,
        condition: a.condition,
        count: 40 - i * 3,
        percentOfLoad: 12 - i,
      }));
      return {
        bySite,
        aggregate: {
          label: 'all',
          sites: visible.length,
          alarms: raised.length,
          averagePer10Min: 1.1,
          peakPer10Min: 14,
          percentTimeInFlood: 0.4,
          comparableToOperatorTarget: false,
        },
        totalAlarms: raised.length,
        averagePer10Min: 1.1,
        peakPer10Min: 14,
        percentTimeInFlood: 0.4,
        top10,
        chattering: top10.slice(0, 1).map((r) => ({ ...r, maxActivationsIn60s: 4 })),
        stale: [],
        priorityDistribution: {
          counts: { critical: 2, high: 9, medium: 30, low: 59 },
          percent: { critical: 2, high: 9, medium: 30, low: 59 },
          targetPercent: { critical: 0, high: 5, medium: 15, low: 80 },
        },
        standing: raised.filter((a) => a.active).length,
        shelved: 0,
        targets: {
          averagePer10Min: 1,
          maxPer10Min: 10,
          percentTimeInFlood: 1,
          chattering: 0,
          staleAlarms: 5,
        },
      };
    }

    @Get('kpi/online')
    online(@Headers('authorization') authz?: string): unknown[] {
      const visible = [...scope.visibleSiteIds(principalOf(authz))];
      const out: unknown[] = [];
      for (let d = 6; d >= 0; d--) {
        const day = new Date(Date.now() - d * 86_400_000).toISOString().slice(0, 10);
        visible.forEach((siteId, i) =>
          out.push({
            siteId,
            day,
            devices: 20,
            onlinePercent: Math.round((99.5 - ((d + i) % 4) * 1.7 - (i === 1 && d < 2 ? 6 : 0)) * 10) / 10,
            offlineDeviceHours: 1,
          }),
        );
      }
      return out;
    }

    @Get('alarms')
    list(@Headers('authorization') authz?: string): AlarmEventDto[] {
      const visible = scope.visibleSiteIds(principalOf(authz));
      if (listFailures.remaining > 0) {
        listFailures.remaining--;
        throw new ServiceUnavailableException('alarm state is still being loaded');
      }
      return [...alarms.current.values()].filter((a) => visible.has(a.siteId) && a.state !== 'normal');
    }

    @Post('alarms/:id/ack')
    @HttpCode(200)
    ack(@Param('id') id: string, @Headers('authorization') authz?: string): AlarmEventDto {
      const p = principalOf(authz);
      ackCalls.push(id);
      return alarms.ack(id, p.name);
    }

    @Post('alarms/:id/shelve')
    @HttpCode(200)
    shelve(
      @Param('id') id: string,
      @Body() body: { minutes?: number; reason?: string },
      @Headers('authorization') authz?: string,
    ): AlarmEventDto {
      principalOf(authz);
      if (!body.reason || !body.minutes) throw new NotFoundException('minutes and reason required');
      return alarms.shelve(id);
    }

    @Get('drills')
    listDrills(@Headers('authorization') authz?: string): HarnessDrill[] {
      const visible = scope.visibleSiteIds(principalOf(authz));
      return drills.filter((d) => visible.has(d.siteId));
    }

    @Post('sites/:siteId/drills')
    @HttpCode(201)
    startDrill(
      @Param('siteId') siteId: string,
      @Body() body: { scenario?: string },
      @Headers('authorization') authz?: string,
    ): HarnessDrill {
      const p = principalOf(authz);
      if (p.role !== 'supervisor' && p.role !== 'admin')
        throw new ForbiddenException('requires role supervisor');
      if (drills.some((d) => d.siteId === siteId && d.running))
        throw new ConflictException('a drill is running');
      const d: HarnessDrill = {
        id: `drill-${drills.length + 1}`,
        siteId,
        scenario: body.scenario ?? '',
        startedAt: new Date().toISOString(),
        startedBy: p.name,
        endedAt: null,
        endedBy: null,
        running: true,
      };
      drills.push(d);
      return d;
    }

    @Post('sites/:siteId/drills/end')
    @HttpCode(200)
    endDrill(@Param('siteId') siteId: string, @Headers('authorization') authz?: string): HarnessDrill {
      const p = principalOf(authz);
      if (p.role !== 'supervisor' && p.role !== 'admin')
        throw new ForbiddenException('requires role supervisor');
      const d = drills.find((x) => x.siteId === siteId && x.running);
      if (!d) throw new NotFoundException('no drill running');
      Object.assign(d, { endedAt: new Date().toISOString(), endedBy: p.name, running: false });
      return d;
    }

    @Get('telemetry')
    history(
      @Query('device') device: string,
      @Query('channel') channel: string,
      @Headers('authorization') authz?: string,
    ): unknown {
      principalOf(authz);
      const to = Date.now();
      const points = Array.from({ length: 60 }, (_, i) => {
        const v = 0.4 + 0.3 * Math.sin(i / 6) + (i > 50 ? (i - 50) * 0.2 : 0);
        return {
          bucket: new Date(to - (60 - i) * 60_000).toISOString(),
          min: v - 0.05,
          max: v + 0.08,
          avg: v,
          last: v,
          n: 30,
        };
      });
      return { device, channel, bucket: 60, points };
    }
  }

  @Module({
    imports: [
      ConfigModule.forRoot(config, new ManualClock(0)),
      MetricsModule,
      RealtimeModule.forRoot({
        imports: [],
        options: { statusPollMs: 50, heartbeatMs: 0 },
        ports: {
          auth: { provide: WS_AUTHENTICATOR, useValue: auth },
          scope: { provide: WS_SCOPE, useFactory: plantScope, inject: [APP_CONFIG] },
          alarms: { provide: ALARM_FEED, useValue: alarms },
          telemetry: { provide: TELEMETRY_FEED, useValue: { telemetry$: telemetry.asObservable() } },
          hazards: { provide: HAZARD_FEED, useValue: { hazard$: hazards.asObservable() } },
          storage: { provide: STORAGE_STATUS, useValue: { storageDegraded: () => storage.degraded } },
        },
      }),
    ],
    controllers: [FakeApiController],
  })
  class ConsoleHarnessModule {}

  const app = await NestFactory.create(ConsoleHarnessModule, { logger: false, abortOnError: false });
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const upgraded = new Set<Socket>();
  server.on('upgrade', (_req, socket: Socket) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    app,
    url: `http://127.0.0.1:${port}/`,
    config,
    alarms,
    telemetry,
    hazards,
    storage,
    ackCalls,
    listFailures,
    drills,
    dropConnections: () => {
      const n = upgraded.size;
      for (const s of upgraded) s.destroy();
      return n;
    },
    close: () => app.close(),
  };
}
