/**
 * A backend for console browser tests: the real RealtimeModule (gateway + console page) with the other modules
 * replaced by small in-memory fakes that speak the same HTTP API (docs/contract.md §3) and feed the realtime ports.
 * Deterministic: alarms appear only when the test raises them.
 */
import {
  Body,
  Controller,
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
import type { AlarmEventDto, AlarmState, HazardDto } from '../../src/realtime/domain/client-events';
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
};

/** The alarm module in miniature: current snapshots, a journal with seq, and live events. */
export class FakeAlarmBackend implements AlarmFeed {
  readonly journal: AlarmEventDto[] = [];
  readonly current = new Map<string, AlarmEventDto>();
  private readonly live = new Subject<AlarmEventDto>();
  readonly events$ = this.live.asObservable();
  private seq = 0;
  private n = 0;

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
  /** Drops every open WebSocket connection at the TCP level (the browser sees an abnormal close and reconnects). */
  dropConnections(): number;
  close(): Promise<void>;
};

export async function startConsoleHarness(): Promise<ConsoleHarness> {
  const config = loadAppConfig({
    CONFIG_DIR: join(__dirname, '../../config'),
    DATA_DIR: mkdtempSync(join(tmpdir(), 'hzw-console-')),
  });
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
          hazardSources: s.hazardSources,
        }));
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
          kind: d.kind,
          sourceId: d.sourceId,
          unit: d.unit,
          level1: d.level1,
          level2: d.level2,
          system: d.system,
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
    dropConnections: () => {
      const n = upgraded.size;
      for (const s of upgraded) s.destroy();
      return n;
    },
    close: () => app.close(),
  };
}
