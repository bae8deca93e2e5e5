/**
 * The /ws gateway over real sockets, with the other modules replaced by fakes behind the realtime ports
 * (auth, alarm journal, telemetry, hazard and storage status). The full-app scenario is in ws.e2e-spec.ts.
 */
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Subject, VirtualAction, VirtualTimeScheduler, type SchedulerLike } from 'rxjs';
import type { Principal } from '../../src/auth/principal';
import { ManualClock } from '../../src/common/clock';
import type { Reading } from '../../src/common/types';
import { APP_CONFIG, loadAppConfig } from '../../src/config/app-config';
import { plantScope } from '../../src/realtime/realtime.adapters';
import { ConfigModule } from '../../src/config/config.module';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { MetricsModule } from '../../src/metrics/metrics.module';
import type { AlarmEventDto, HazardDto } from '../../src/realtime/domain/client-events';
import { RealtimeModule } from '../../src/realtime/realtime.module';
import {
  ALARM_FEED,
  HAZARD_FEED,
  STORAGE_STATUS,
  TELEMETRY_FEED,
  WS_AUTHENTICATOR,
  WS_SCOPE,
  ReplayGapError,
  type AlarmFeed,
  type RealtimeOptions,
  type WsAuthenticator,
} from '../../src/realtime/realtime.ports';
import { pollUntil } from '../setup/poll-until';
import { WsTestClient } from './ws-test-client';
import { JsonLogger } from '../../src/common/logger';

JsonLogger.setLevel('error');

const PRINCIPALS: Record<string, Principal> = {
  'tok-operator': { tokenId: 'op', name: 'control room', role: 'operator', scope: '' },
  'tok-binhai': { tokenId: 'rb', name: 'Binhai ESB', role: 'regulator', scope: 'tianjin/binhai' },
};

let seqCounter = 0;
function alarm(siteId: string, over: Partial<AlarmEventDto> = {}): AlarmEventDto {
  const seq = over.seq ?? ++seqCounter;
  return {
    id: `al-${siteId}-${seq}`,
    siteId,
    sourceId: 'src',
    ruleId: 'gas',
    deviceId: 'gd-1',
    condition: 'gas_l2',
    priority: 'high',
    level: 'orange',
    state: 'unacknowledged',
    active: true,
    acked: false,
    value: 3,
    limit: 2,
    message: 'chlorine level 2',
    raisedAt: '2026-11-24T10:00:00.000Z',
    seq,
    event: 'raised',
    at: '2026-11-24T10:00:00.000Z',
    ...over,
  };
}

/** An alarm journal + live stream, as the alarm module provides it. `holdReplay` makes eventsSince wait. */
class FakeAlarms implements AlarmFeed {
  readonly journal: AlarmEventDto[] = [];
  readonly live = new Subject<AlarmEventDto>();
  readonly events$ = this.live.asObservable();
  replayCalls = 0;
  failReplay = false;
  gap = false;
  /** When a held replay reads the journal: at the call (live events during the hold are missing) or at release. */
  snapshotAt: 'call' | 'release' = 'call';
  private release: (() => void) | null = null;
  private held: Promise<void> | null = null;

  currentSeq(): number {
    return this.journal.at(-1)?.seq ?? 0;
  }

  /** Write + publish, like the single alarm writer. */
  emit(ev: AlarmEventDto): void {
    this.journal.push(ev);
    this.live.next(ev);
  }

  holdReplay(): void {
    this.held = new Promise((r) => (this.release = r));
  }

  releaseReplay(): void {
    this.release?.();
    this.held = null;
  }

  async eventsSince(since: number): Promise<readonly AlarmEventDto[]> {
    this.replayCalls++;
    // A real journal query reads a snapshot: the events committed when it runs.
    const read = (): AlarmEventDto[] => this.journal.filter((e) => e.seq > since);
    const early = read();
    if (this.held) await this.held;
    if (this.failReplay) throw new Error('database down');
    if (this.gap) throw new ReplayGapError('too many events to replay');
    return this.snapshotAt === 'call' ? early : read();
  }
}

type Harness = {
  app: INestApplication;
  url: string;
  alarms: FakeAlarms;
  telemetry: Subject<Reading>;
  hazards: Subject<HazardDto>;
  storage: { degraded: boolean; journalledSeq: number; reason: string | undefined };
  metrics: HazwatchMetrics;
};

async function start(
  options: Partial<RealtimeOptions> = {},
  extra: { auth?: WsAuthenticator; scheduler?: SchedulerLike } = {},
): Promise<Harness> {
  const config = loadAppConfig({
    CONFIG_DIR: join(__dirname, '../../config'),
    DATA_DIR: mkdtempSync(join(tmpdir(), 'hzw-ws-')),
  });
  const alarms = new FakeAlarms();
  const telemetry = new Subject<Reading>();
  const hazards = new Subject<HazardDto>();
  const storage: { degraded: boolean; journalledSeq: number; reason: string | undefined } = {
    degraded: false,
    journalledSeq: 0,
    reason: undefined,
  };
  const auth: WsAuthenticator = extra.auth ?? {
    authenticateToken: async (token) => PRINCIPALS[token] ?? null,
  };

  @Module({
    imports: [
      ConfigModule.forRoot(config, new ManualClock(0)),
      MetricsModule,
      RealtimeModule.forRoot({
        imports: [],
        options: { authTimeoutMs: 300, statusPollMs: 20, heartbeatMs: 0, ...options },
        ...(extra.scheduler ? { scheduler: extra.scheduler } : {}),
        ports: {
          auth: { provide: WS_AUTHENTICATOR, useValue: auth },
          scope: { provide: WS_SCOPE, useFactory: plantScope, inject: [APP_CONFIG] },
          alarms: { provide: ALARM_FEED, useValue: alarms },
          telemetry: { provide: TELEMETRY_FEED, useValue: { telemetry$: telemetry.asObservable() } },
          hazards: { provide: HAZARD_FEED, useValue: { hazard$: hazards.asObservable() } },
          storage: {
            provide: STORAGE_STATUS,
            useValue: {
              storageDegraded: () => storage.degraded,
              journalledSeq: () => storage.journalledSeq,
              databaseReason: () => storage.reason,
            },
          },
        },
      }),
    ],
  })
  class WsTestModule {}

  const app = await NestFactory.create(WsTestModule, { logger: false, abortOnError: false });
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const port = ((app.getHttpServer() as Server).address() as AddressInfo).port;
  return {
    app,
    url: `ws://127.0.0.1:${port}/ws`,
    alarms,
    telemetry,
    hazards,
    storage,
    metrics: app.get(HazwatchMetrics),
  };
}

const metricValue = async (
  m: HazwatchMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> => {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const v = values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
};

const reading = (
  siteId: string,
  deviceId: string,
  channel: string,
  value: number | string | boolean,
  ts = 1,
): Reading => ({
  siteId,
  deviceId,
  channel,
  value,
  ts,
  quality: 'good',
  receivedAt: ts,
});

describe('/ws gateway (fake feeds)', () => {
  let h: Harness;
  const clients: WsTestClient[] = [];
  const connect = async (headers: Record<string, string> = {}): Promise<WsTestClient> => {
    const c = await WsTestClient.connect(h.url, headers);
    clients.push(c);
    return c;
  };
  /** Connects, authenticates with a first `auth` frame and waits for hello. */
  const login = async (token = 'tok-operator'): Promise<WsTestClient> => {
    const c = await connect();
    c.send('auth', { token });
    await c.waitFor('hello');
    return c;
  };

  beforeEach(async () => {
    h = await start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await h.app.close();
  });

  describe('authentication', () => {
    it('should send hello with the current seq when the Authorization header carries a valid token', async () => {
      h.alarms.emit(alarm('bohai-chem', { seq: 7 }));
      const c = await connect({ Authorization: 'Bearer tok-operator' });
      const hello = await c.waitFor('hello');
      expect(hello.data).toMatchObject({
        seq: 7,
        server: 'hazwatch',
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      });
      expect(c.frames[0]?.event).toBe('hello');
    });

    it('should accept a first auth frame when no header was sent', async () => {
      const c = await login();
      expect(c.of('hello')).toHaveLength(1);
      expect(c.of('status')[0]?.data).toEqual({ storageDegraded: false });
    });

    it('should send only an error and close with 4401 when the token is invalid', async () => {
      const c = await connect();
      c.send('auth', { token: 'nope' });
      expect(await c.waitClosed()).toMatchObject({ code: 4401 });
      expect(c.frames.map((f) => f.event)).toEqual(['error']);
      expect(c.frames[0]?.data).toMatchObject({ code: 'auth_failed', closeCode: 4401 });
      expect(await metricValue(h.metrics, 'hazwatch_ws_disconnects_total', { reason: 'auth_failed' })).toBe(
        1,
      );
    });

    it('should close with 4401 and push nothing when the first frame is a subscribe', async () => {
      const c = await connect();
      c.send('subscribe', { alarms: true });
      h.alarms.emit(alarm('bohai-chem'));
      expect(await c.waitClosed()).toMatchObject({ code: 4401 });
      expect(c.frames.map((f) => [f.event, f.data.code])).toEqual([['error', 'auth_required']]);
    });

    it('should close with 4401 when the client does not authenticate in time', async () => {
      const c = await connect();
      expect(await c.waitClosed()).toMatchObject({ code: 4401 });
      expect(c.frames[0]?.data).toMatchObject({ code: 'auth_timeout' });
      expect(await metricValue(h.metrics, 'hazwatch_ws_disconnects_total', { reason: 'auth_timeout' })).toBe(
        1,
      );
    });

    it('should handle a subscribe sent right behind the auth frame after authentication', async () => {
      const c = await connect();
      c.send('auth', { token: 'tok-operator' });
      c.send('subscribe', { alarms: true });
      await c.waitFor('subscribed');
      expect(c.frames.map((f) => f.event)).toEqual(['hello', 'status', 'subscribed']);
    });

    it('should count connected clients in hazwatch_ws_clients and decrement on close', async () => {
      const a = await login();
      await login();
      expect(await metricValue(h.metrics, 'hazwatch_ws_clients')).toBe(2);
      a.close();
      await pollUntil(async () => (await metricValue(h.metrics, 'hazwatch_ws_clients')) === 1, {
        what: 'wsClients back to 1',
      });
    });
  });

  describe('alarms', () => {
    it('should push live alarm events in seq order when subscribed without since', async () => {
      const c = await login();
      c.send('subscribe', { alarms: true });
      await c.waitFor('subscribed');
      h.alarms.emit(alarm('bohai-chem', { seq: 1 }));
      h.alarms.emit(alarm('nangang-petro', { seq: 2 }));
      await c.waitFor('alarm', (d) => d.seq === 2);
      expect(c.of('alarm').map((f) => f.data.seq)).toEqual([1, 2]);
    });

    it('should replay every missed event then live ones with no gap or duplicate when live events arrive during the replay', async () => {
      for (let s = 1; s <= 5; s++) h.alarms.emit(alarm('bohai-chem', { seq: s }));
      const c = await login();
      h.alarms.holdReplay();
      c.send('subscribe', { alarms: true, since: 2 });
      await pollUntil(() => h.alarms.replayCalls === 1, { what: 'replay requested' });
      // The replay's snapshot holds 3..5; 6 and 7 happen while it is loading.
      h.alarms.emit(alarm('bohai-chem', { seq: 6 }));
      h.alarms.emit(alarm('bohai-chem', { seq: 7 }));
      h.alarms.releaseReplay();
      const sub = await c.waitFor('subscribed');
      h.alarms.emit(alarm('bohai-chem', { seq: 8 }));
      await c.waitFor('alarm', (d) => d.seq === 8);
      expect(c.of('alarm').map((f) => f.data.seq)).toEqual([3, 4, 5, 6, 7, 8]);
      expect(sub.data).toMatchObject({ alarms: true, reset: false });
    });

    it('should deliver an event once when it is both in the replay and in the live buffer', async () => {
      for (let s = 1; s <= 3; s++) h.alarms.emit(alarm('bohai-chem', { seq: s }));
      const c = await login();
      h.alarms.holdReplay();
      h.alarms.snapshotAt = 'release';
      c.send('subscribe', { alarms: true, since: 0 });
      await pollUntil(() => h.alarms.replayCalls === 1, { what: 'replay requested' });
      // 4 is buffered live and also read by the replay
      h.alarms.emit(alarm('bohai-chem', { seq: 4 }));
      h.alarms.releaseReplay();
      await c.waitFor('subscribed');
      expect(c.of('alarm').map((f) => f.data.seq)).toEqual([1, 2, 3, 4]);
    });

    it('should report reset and start live when since is ahead of the server', async () => {
      h.alarms.emit(alarm('bohai-chem', { seq: 3 }));
      const c = await login();
      c.send('subscribe', { alarms: true, since: 99 });
      const sub = await c.waitFor('subscribed');
      expect(sub.data).toMatchObject({ reset: true, replayed: 0 });
      h.alarms.emit(alarm('bohai-chem', { seq: 4 }));
      await c.waitFor('alarm', (d) => d.seq === 4);
    });

    it('should tell the client to reset and continue live when the replay is too large', async () => {
      h.alarms.emit(alarm('bohai-chem', { seq: 1 }));
      h.alarms.gap = true;
      h.alarms.holdReplay();
      const c = await login();
      c.send('subscribe', { alarms: true, since: 0 });
      await pollUntil(() => h.alarms.replayCalls === 1, { what: 'replay requested' });
      h.alarms.emit(alarm('bohai-chem', { seq: 2 }));
      h.alarms.releaseReplay();
      const sub = await c.waitFor('subscribed');
      expect(sub.data).toMatchObject({ reset: true, alarms: true });
      h.alarms.emit(alarm('bohai-chem', { seq: 3 }));
      await c.waitFor('alarm', (d) => d.seq === 3);
      // the event that arrived during the failed replay is delivered, the unreplayable one is not
      expect(c.of('alarm').map((f) => f.data.seq)).toEqual([2, 3]);
      expect(c.closed).toBeNull();
    });

    it('should send an error and close with 1011 when the replay cannot be read', async () => {
      h.alarms.emit(alarm('bohai-chem', { seq: 1 }));
      h.alarms.failReplay = true;
      const c = await login();
      c.send('subscribe', { alarms: true, since: 0 });
      expect(await c.waitClosed()).toMatchObject({ code: 1011 });
      expect(c.of('error')[0]?.data).toMatchObject({ code: 'replay_failed' });
    });

    it('should never push a wuqing alarm to a tianjin/binhai regulator, live or replayed', async () => {
      h.alarms.emit(alarm('wuqing-fine', { seq: 1 }));
      h.alarms.emit(alarm('bohai-chem', { seq: 2 }));
      const reg = await login('tok-binhai');
      const op = await login('tok-operator');
      reg.send('subscribe', { alarms: true, since: 0 });
      op.send('subscribe', { alarms: true, since: 0 });
      await reg.waitFor('subscribed');
      await op.waitFor('subscribed');
      h.alarms.emit(alarm('wuqing-fine', { seq: 3 }));
      h.alarms.emit(alarm('nangang-petro', { seq: 4 }));
      await op.waitFor('alarm', (d) => d.seq === 4);
      await reg.waitFor('alarm', (d) => d.seq === 4);
      expect(reg.of('alarm').map((f) => [f.data.seq, f.data.siteId])).toEqual([
        [2, 'bohai-chem'],
        [4, 'nangang-petro'],
      ]);
      expect(op.of('alarm').map((f) => f.data.seq)).toEqual([1, 2, 3, 4]);
    });

    it('should stop alarm pushes when the client subscribes with alarms false', async () => {
      const c = await login();
      c.send('subscribe', { alarms: true });
      await c.waitFor('subscribed');
      c.send('subscribe', { alarms: false });
      await c.waitFor('subscribed', (d) => d.alarms === false);
      h.alarms.emit(alarm('bohai-chem', { seq: 1 }));
      // a later frame proves the alarm would have arrived before it
      h.storage.degraded = true;
      await c.waitFor('status', (d) => d.storageDegraded === true);
      expect(c.of('alarm')).toHaveLength(0);
    });
  });

  describe('telemetry', () => {
    it('should push only subscribed devices with channels of one message coalesced into one frame', async () => {
      const c = await login();
      c.send('subscribe', { telemetry: ['bohai-chem/cl-tk-1'] });
      await c.waitFor('subscribed');
      h.telemetry.next(reading('bohai-chem', 'cl-tk-2', 'level_pct', 10));
      h.telemetry.next(reading('bohai-chem', 'cl-tk-1', 'level_pct', 40, 1000));
      h.telemetry.next(reading('bohai-chem', 'cl-tk-1', 'temp_c', 12, 1000));
      h.telemetry.next(reading('bohai-chem', 'cl-tk-1', 'pressure_kpa', 300, 1000));
      const f = await c.waitFor('telemetry');
      expect(f.data).toEqual({
        siteId: 'bohai-chem',
        deviceId: 'cl-tk-1',
        ts: 1000,
        values: { level_pct: 40, temp_c: 12, pressure_kpa: 300 },
      });
      h.telemetry.next(reading('bohai-chem', 'cl-tk-1', 'level_pct', 41, 2000));
      await c.waitFor('telemetry', (d) => d.ts === 2000);
      expect(c.of('telemetry').every((t) => t.data.deviceId === 'cl-tk-1')).toBe(true);
    });

    it('should reject a wuqing device for a binhai regulator and an unknown device for anyone', async () => {
      const reg = await login('tok-binhai');
      reg.send('subscribe', {
        telemetry: ['wuqing-fine/hp-gd-1', 'bohai-chem/cl-gd-1', 'bohai-chem/no-such', 'bad entry'],
      });
      const sub = await reg.waitFor('subscribed');
      expect(sub.data.telemetry).toEqual(['bohai-chem/cl-gd-1']);
      expect(sub.data.rejected).toEqual([
        { entry: 'wuqing-fine/hp-gd-1', reason: 'out_of_scope' },
        { entry: 'bohai-chem/no-such', reason: 'unknown_device' },
        { entry: 'bad entry', reason: 'malformed' },
      ]);
      h.telemetry.next(reading('wuqing-fine', 'hp-gd-1', 'conc', 5));
      h.telemetry.next(reading('bohai-chem', 'cl-gd-1', 'conc', 1));
      await reg.waitFor('telemetry', (d) => d.deviceId === 'cl-gd-1');
      expect(reg.of('telemetry').some((t) => t.data.siteId === 'wuqing-fine')).toBe(false);
    });

    it('should stop pushing a device when a later subscribe drops it', async () => {
      const c = await login();
      c.send('subscribe', { telemetry: ['bohai-chem/cl-gd-1'] });
      await c.waitFor('subscribed');
      c.send('subscribe', { telemetry: ['bohai-chem/cl-gd-2'] });
      await c.waitFor('subscribed', (d) => (d.telemetry as string[])[0] === 'bohai-chem/cl-gd-2');
      h.telemetry.next(reading('bohai-chem', 'cl-gd-1', 'conc', 1));
      h.telemetry.next(reading('bohai-chem', 'cl-gd-2', 'conc', 2));
      await c.waitFor('telemetry', (d) => d.deviceId === 'cl-gd-2');
      expect(c.of('telemetry').map((t) => t.data.deviceId)).toEqual(['cl-gd-2']);
    });
  });

  describe('hazard and status', () => {
    const hz = (sourceId: string, siteId: string, grade: number, level: HazardDto['level']): HazardDto => ({
      sourceId,
      siteId,
      grade,
      level,
      R: 10,
    });

    it('should push a hazard source only when its grade or level changes and only in scope', async () => {
      const reg = await login('tok-binhai');
      const op = await login('tok-operator');
      h.hazards.next(hz('bhc-cl2', 'bohai-chem', 2, 'orange'));
      h.hazards.next(hz('bhc-cl2', 'bohai-chem', 2, 'orange'));
      h.hazards.next(hz('wq-src', 'wuqing-fine', 3, 'yellow'));
      h.hazards.next(hz('bhc-cl2', 'bohai-chem', 1, 'red'));
      await op.waitFor('hazard', (d) => d.grade === 1);
      await reg.waitFor('hazard', (d) => d.grade === 1);
      expect(op.of('hazard').map((f) => [f.data.sourceId, f.data.grade])).toEqual([
        ['bhc-cl2', 2],
        ['wq-src', 3],
        ['bhc-cl2', 1],
      ]);
      expect(reg.of('hazard').map((f) => f.data.sourceId)).toEqual(['bhc-cl2', 'bhc-cl2']);
    });

    it('should push status when storage becomes degraded and when it recovers', async () => {
      const c = await login();
      h.storage.degraded = true;
      await c.waitFor('status', (d) => d.storageDegraded === true);
      h.storage.degraded = false;
      await pollUntil(() => c.of('status').length === 3, { what: 'recovery status' });
      expect(c.of('status').map((f) => f.data.storageDegraded)).toEqual([false, true, false]);
    });

    it('should say why the database is unusable in the status frame', async () => {
      const c = await login();
      h.storage.degraded = true;
      h.storage.reason = 'database not answering: no reply to SELECT 1 within 2000 ms';
      await c.waitFor('status', (d) => d.storageDegraded === true);
      expect(c.of('status').at(-1)?.data).toEqual({
        storageDegraded: true,
        databaseReason: 'database not answering: no reply to SELECT 1 within 2000 ms',
      });
      h.storage.degraded = false;
      h.storage.reason = undefined;
      await c.waitFor('status', (d) => d.storageDegraded === false && d.databaseReason === undefined);
    });

    it('should pass an alarm event not yet journalled through as such, then send a journalled marker once the journal caught up', async () => {
      const c = await login();
      c.send('subscribe', { alarms: true });
      await c.waitFor('subscribed');
      h.alarms.emit({ ...alarm('bohai-chem', { seq: 1 }), journalled: false });
      await c.waitFor('alarm', (d) => d.seq === 1);
      expect(c.of('alarm')[0]?.data.journalled).toBe(false);
      expect(c.of('journalled')).toHaveLength(0);
      h.storage.journalledSeq = 1;
      const marker = await c.waitFor('journalled');
      expect(marker.data).toEqual({ seq: 1 });
    });
  });

  describe('protocol errors', () => {
    it('should answer a bad frame with an error and keep the connection when authenticated', async () => {
      const c = await login();
      c.ws.send('{"event":"subscribe","data":{"since":"yesterday"}}');
      const err = await c.waitFor('error');
      expect(err.data).toMatchObject({ code: 'bad_frame', message: expect.stringContaining('since') });
      c.send('subscribe', { alarms: true });
      await c.waitFor('subscribed');
      expect(c.closed).toBeNull();
    });
  });
});

describe('/ws gateway heartbeat', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await start({ heartbeatMs: 100 });
  });
  afterEach(async () => {
    await h.app.close();
  });

  it('should terminate a client that stops answering pings and keep one that answers', async () => {
    const dead = await WsTestClient.connect(h.url, { Authorization: 'Bearer tok-operator' });
    const live = await WsTestClient.connect(h.url, { Authorization: 'Bearer tok-operator' });
    await dead.waitFor('hello');
    await live.waitFor('hello');
    // a paused socket reads no ping, so it sends no pong
    (dead.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await pollUntil(
      async () =>
        (await metricValue(h.metrics, 'hazwatch_ws_disconnects_total', { reason: 'heartbeat' })) === 1,
      {
        what: 'heartbeat disconnect',
      },
    );
    expect(await metricValue(h.metrics, 'hazwatch_ws_clients')).toBe(1);
    expect(live.closed).toBeNull();
    live.close();
    dead.close();
  });
});

describe('/ws gateway slow clients', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await start({ maxBufferedBytes: 256 * 1024, closeGraceMs: 30_000 });
  });
  afterEach(async () => {
    await h.app.close();
  });

  it('should close a client that stops reading with 4408 and count it, while other clients keep receiving', async () => {
    const slow = await WsTestClient.connect(h.url, { Authorization: 'Bearer tok-operator' });
    const fast = await WsTestClient.connect(h.url, { Authorization: 'Bearer tok-operator' });
    for (const c of [slow, fast]) {
      await c.waitFor('hello');
      c.send('subscribe', { alarms: true });
      await c.waitFor('subscribed');
    }
    const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const big = 'x'.repeat(16 * 1024);
    let seq = 0;
    await pollUntil(
      async () => {
        // Keep producing alarm events until the server gives up on the paused client.
        for (let i = 0; i < 64; i++) h.alarms.emit(alarm('bohai-chem', { seq: ++seq, message: big }));
        return (
          (await metricValue(h.metrics, 'hazwatch_ws_disconnects_total', { reason: 'slow_client' })) === 1
        );
      },
      { timeoutMs: 20_000, intervalMs: 5, what: 'slow client disconnected' },
    );
    await fast.waitFor('alarm', (d) => d.seq === seq, 20_000);
    expect(fast.of('alarm')).toHaveLength(seq);
    expect(fast.closed).toBeNull();
    socket.resume();
    expect(await slow.waitClosed(20_000)).toMatchObject({
      code: 4408,
      reason: expect.stringContaining('slow client'),
    });
    fast.close();
    slow.close();
  });
});

describe('/ws gateway telemetry rate limit (injected scheduler, virtual time)', () => {
  let h: Harness;
  const clients: WsTestClient[] = [];
  const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
  /** Runs everything the gateway scheduled up to virtual time `ms`. */
  const advanceTo = (ms: number): void => {
    scheduler.maxFrames = ms;
    scheduler.flush();
  };

  beforeAll(async () => {
    h = await start({}, { scheduler });
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await h.app.close();
  });

  it('should send one frame per device per 250 ms with the latest value, the first at once', async () => {
    const c = await WsTestClient.connect(h.url);
    clients.push(c);
    c.send('auth', { token: 'tok-operator' });
    await c.waitFor('hello');
    c.send('subscribe', { telemetry: ['bohai-chem/cl-gd-1'] });
    await c.waitFor('subscribed');
    // 4 readings per virtual millisecond for one virtual second: 4000 readings
    for (let ms = 1; ms <= 1000; ms++) {
      for (let k = 0; k < 4; k++) h.telemetry.next(reading('bohai-chem', 'cl-gd-1', 'conc', ms * 4 + k, ms));
      advanceTo(ms);
    }
    advanceTo(1250);
    await c.waitFor('telemetry', (d) => (d.values as Record<string, number>).conc === 4003);
    // The first frame goes out at once, then one every 250 ms (virtual: 250, 500, 750, 1000), each carrying the
    // latest value at its slot; nothing in between. (The virtual clock starts at 0 and moves as actions run.)
    expect(c.of('telemetry').map((f) => [f.data.ts, (f.data.values as Record<string, number>).conc])).toEqual(
      [
        [1, 7],
        [250, 1003],
        [500, 2003],
        [750, 3003],
        [1000, 4003],
      ],
    );
  });
});

describe('/ws gateway token revocation', () => {
  let h: Harness;
  const clients: WsTestClient[] = [];
  const revocations = new Subject<{ kind: 'token'; id: string } | { kind: 'resync' }>();
  const standing: Record<string, 'active' | 'revoked' | 'unknown'> = {};
  // 60 s of virtual time per flush: exactly one periodic re-check
  const scheduler = new VirtualTimeScheduler(VirtualAction, 60_000);
  const auth: WsAuthenticator = {
    authenticateToken: async (token) => PRINCIPALS[token] ?? null,
    revocations$: revocations.asObservable(),
    tokenStatus: async (id) => standing[id] ?? 'unknown',
  };
  const login = async (token: string): Promise<WsTestClient> => {
    const c = await WsTestClient.connect(h.url);
    clients.push(c);
    c.send('auth', { token });
    await c.waitFor('hello');
    c.send('subscribe', { alarms: true });
    await c.waitFor('subscribed');
    return c;
  };

  beforeEach(async () => {
    standing.op = 'active';
    standing.rb = 'active';
    h = await start({ tokenRecheckMs: 60_000 }, { auth, scheduler });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await h.app.close();
  });

  it('should close the sessions of a revoked token at once (4401 + reason) and push nothing more to them', async () => {
    const op1 = await login('tok-operator');
    const op2 = await login('tok-operator');
    const reg = await login('tok-binhai');
    revocations.next({ kind: 'token', id: 'op' });
    expect(await op1.waitClosed()).toEqual({ code: 4401, reason: expect.stringMatching(/token revoked/) });
    expect(await op2.waitClosed()).toEqual({ code: 4401, reason: expect.stringMatching(/token revoked/) });
    h.alarms.emit(alarm('bohai-chem', { seq: 1 }));
    await reg.waitFor('alarm');
    expect(reg.closed).toBeNull();
    expect(op1.of('alarm')).toHaveLength(0);
    expect(await metricValue(h.metrics, 'hazwatch_ws_disconnects_total', { reason: 'token_revoked' })).toBe(
      2,
    );
  });

  it('should close a session whose token was revoked unheard at the next periodic re-check (injected scheduler)', async () => {
    const op = await login('tok-operator');
    const reg = await login('tok-binhai');
    standing.op = 'revoked'; // revoked without a notification reaching this server
    expect(op.closed).toBeNull();
    scheduler.flush();
    expect(await op.waitClosed()).toEqual({ code: 4401, reason: expect.stringMatching(/token revoked/) });
    expect(reg.closed).toBeNull();
  });

  it('should re-check every session on resync (notifications may have been missed) and close deleted tokens', async () => {
    const reg = await login('tok-binhai');
    const op = await login('tok-operator');
    delete standing.rb;
    revocations.next({ kind: 'resync' });
    expect(await reg.waitClosed()).toEqual({ code: 4401, reason: expect.stringMatching(/no longer exists/) });
    expect(op.closed).toBeNull();
  });
});
