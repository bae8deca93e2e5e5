import { Inject, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { asyncScheduler, interval, type SchedulerLike, type Subscription } from 'rxjs';
import type { RawData, WebSocket } from 'ws';
import { can } from '../auth/domain/capability.policy';
import type { Reading } from '../common/types';
import {
  bindCorrelationId,
  currentCorrelationId,
  newCorrelationId,
  withCorrelationId,
} from '../common/correlation';
import { JsonLogger } from '../common/logger';
import { clientAddress, parseTrustProxy, trustPredicate } from '../common/domain/trust-proxy';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { ClientSession } from './client.session';
import {
  CLOSE,
  encodeFrame,
  parseClientFrame,
  type AlarmEventDto,
  type StatusDto,
  type ErrorCode,
  type HazardDto,
  type RejectedEntry,
  type SubscribeCommand,
} from './domain/client-events';
import { HazardChangeTracker } from './domain/hazard-change.tracker';
import { ReplayMerge, ReplayOverflowError } from './domain/replay.merge';
import { planTelemetrySubscription } from './domain/scope.filter';
import { SubscriptionIndex } from './domain/subscription.index';
import { TelemetryCoalescer } from './domain/telemetry.coalescer';
import { serverVersion } from '../common/project-root.util';
import {
  ALARM_FEED,
  HAZARD_FEED,
  REALTIME_OPTIONS,
  STORAGE_STATUS,
  TELEMETRY_FEED,
  WS_AUTHENTICATOR,
  WS_SCOPE,
  type AlarmFeed,
  type HazardFeed,
  ReplayGapError,
  type RealtimeOptions,
  type StorageStatus,
  type TelemetryFeed,
  type WsAuthenticator,
  type WsScope,
} from './realtime.ports';

/** Values of the `reason` label of hazwatch_ws_disconnects_total (bounded). */
export type DisconnectReason =
  | 'auth_failed'
  | 'auth_timeout'
  | 'auth_required'
  | 'slow_client'
  | 'replay_overflow'
  | 'replay_failed'
  | 'heartbeat'
  | 'token_revoked';

/** Injected scheduler for telemetry coalescing (tests may pass a virtual one). */
export const REALTIME_SCHEDULER = Symbol('REALTIME_SCHEDULER');

/**
 * The /ws gateway (docs/contract.md §4). Authenticates before sending anything, indexes subscriptions by site and device,
 * scopes every push by the principal's jurisdiction, replays missed alarm events on `since` without gap or duplicate,
 * rate-limits telemetry per client and device, and disconnects slow clients instead of buffering without bound.
 * Feed callbacks do O(subscribers) work and never wait: ingest and the alarm writer are never blocked by a client.
 */
@WebSocketGateway({ path: '/ws', maxPayload: 64 * 1024 })
export class RealtimeGateway implements OnGatewayConnection<WebSocket>, OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('realtime');
  private readonly sessions = new Set<ClientSession>();
  private readonly index = new SubscriptionIndex<ClientSession>();
  private readonly hazards = new HazardChangeTracker();
  private readonly subscriptions: Subscription[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly version = serverVersion();
  private storageDegraded = false;
  /** Same client-address rule as Express's `trust proxy` (TRUST_PROXY), for limits and logs. */
  private readonly trustProxy: (addr: string, i: number) => boolean;
  private databaseReason: string | undefined;
  /** Highest seq pushed with `journalled: false`, and the journalled seq last announced in a `journalled` frame. */
  private unjournalledUpTo = 0;
  private sentJournalled = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(WS_AUTHENTICATOR) private readonly auth: WsAuthenticator,
    @Inject(WS_SCOPE) private readonly scope: WsScope,
    @Inject(ALARM_FEED) private readonly alarms: AlarmFeed,
    @Inject(TELEMETRY_FEED) private readonly telemetry: TelemetryFeed,
    @Inject(HAZARD_FEED) private readonly hazardFeed: HazardFeed,
    @Inject(STORAGE_STATUS) private readonly storage: StorageStatus,
    @Inject(REALTIME_OPTIONS) private readonly opts: RealtimeOptions,
    @Inject(REALTIME_SCHEDULER) private readonly scheduler: SchedulerLike,
    private readonly metrics: HazwatchMetrics,
  ) {
    this.trustProxy = trustPredicate(parseTrustProxy(config.env.TRUST_PROXY));
  }

  onModuleInit(): void {
    this.subscriptions.push(
      this.alarms.events$.subscribe({
        next: (ev) => this.guard('alarm', () => this.onAlarm(ev)),
        error: (err: unknown) => this.log.error('alarm feed failed: no more alarm pushes', { err }),
      }),
      this.telemetry.telemetry$.subscribe({
        // Per reading (tens of thousands per second): no closure per call, the guard inlined.
        next: (r) => {
          try {
            this.onReading(r);
          } catch (err) {
            this.log.error('ws push failed', { feed: 'telemetry', err });
          }
        },
        error: (err: unknown) => this.log.error('telemetry feed failed: no more telemetry pushes', { err }),
      }),
      this.hazardFeed.hazard$.subscribe({
        next: (h) => this.guard('hazard', () => this.onHazard(h)),
        error: (err: unknown) => this.log.error('hazard feed failed: no more hazard pushes', { err }),
      }),
    );
    const revocations$ = this.auth.revocations$;
    if (revocations$ !== undefined)
      this.subscriptions.push(
        revocations$.subscribe({
          next: (r) =>
            this.guard('revocation', () => {
              if (r.kind === 'token') this.closeSessionsOf(r.id, 'token revoked');
              else void this.recheckTokens();
            }),
          error: (err: unknown) => this.log.error('token revocation feed failed: re-checks only', { err }),
        }),
      );
    if (this.auth.tokenStatus !== undefined && this.opts.tokenRecheckMs > 0)
      this.subscriptions.push(
        interval(this.opts.tokenRecheckMs, this.scheduler).subscribe(() => void this.recheckTokens()),
      );
    this.storageDegraded = this.safeStorageDegraded();
    this.databaseReason = this.safeDatabaseReason();
    this.timers.push(setInterval(() => this.pollStatus(), this.opts.statusPollMs).unref());
    if (this.opts.heartbeatMs > 0)
      this.timers.push(setInterval(() => this.heartbeat(), this.opts.heartbeatMs).unref());
  }

  onModuleDestroy(): void {
    for (const s of this.subscriptions) s.unsubscribe();
    for (const t of this.timers) clearInterval(t);
    for (const session of [...this.sessions]) {
      session.phase = 'closing';
      session.ws.close(CLOSE.goingAway, 'server shutting down');
      this.release(session);
    }
  }

  /** Connected clients (all phases); for tests and diagnostics. */
  get clientCount(): number {
    return this.sessions.size;
  }

  handleConnection(ws: WebSocket, req: IncomingMessage): void {
    // One correlation id per session: every log line of this client (auth, frames, close) carries it.
    withCorrelationId(newCorrelationId('ws'), () => this.openSession(ws, req));
  }

  private openSession(ws: WebSocket, req: IncomingMessage): void {
    const cid = currentCorrelationId() ?? newCorrelationId('ws');
    const session = new ClientSession(
      ws,
      clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.trustProxy),
      this.opts.maxBufferedBytes,
      (s) =>
        this.kill(
          s,
          CLOSE.slowClient,
          'slow_client',
          `slow client: send buffer above ${this.opts.maxBufferedBytes} bytes; reconnect with since`,
        ),
    );
    this.sessions.add(session);
    this.metrics.wsClients.inc();
    // Socket events run in the socket's context: bind them to the session's correlation id.
    ws.on(
      'close',
      bindCorrelationId(cid, () => this.release(session)),
    );
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on(
      'message',
      bindCorrelationId(cid, (data: RawData, isBinary: boolean) =>
        session.enqueue(() => this.onFrame(session, data, isBinary)),
      ),
    );

    const header = req.headers.authorization;
    const bearer = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    session.authTimer = setTimeout(
      () => this.failAuth(session, 'auth_timeout', `not authenticated within ${this.opts.authTimeoutMs} ms`),
      this.opts.authTimeoutMs,
    );
    if (bearer !== undefined) session.enqueue(() => this.authenticate(session, bearer));
  }

  // ------------------------------------------------------------------------------------------------------------------
  // client frames

  private async onFrame(session: ClientSession, data: RawData, isBinary: boolean): Promise<void> {
    if (session.phase === 'closing') return;
    const parsed = isBinary
      ? ({ ok: false, reason: 'binary frames are not supported' } as const)
      : parseClientFrame(rawToString(data));
    if (session.phase === 'authenticating') {
      if (!parsed.ok || parsed.command.event !== 'auth')
        return this.failAuth(
          session,
          'auth_required',
          'authenticate first: {"event":"auth","data":{"token":"…"}} or an Authorization header',
        );
      return this.authenticate(session, parsed.command.token);
    }
    if (!parsed.ok) {
      session.send('error', { code: 'bad_frame', message: parsed.reason });
      return;
    }
    switch (parsed.command.event) {
      case 'auth':
        session.send('error', { code: 'bad_frame', message: 'already authenticated' });
        return;
      case 'subscribe':
        return this.subscribe(session, parsed.command);
    }
  }

  private async authenticate(session: ClientSession, token: string): Promise<void> {
    if (session.phase !== 'authenticating') return;
    let principal;
    try {
      principal = await this.auth.authenticateToken(token, session.ip);
    } catch (err) {
      this.log.error('ws authentication failed with an error', { session: session.id, err });
      principal = null;
    }
    if (session.phase !== 'authenticating') return; // timed out or closed meanwhile
    if (principal === null)
      return this.failAuth(session, 'auth_failed', 'invalid, revoked or rate-limited token');
    // a token that may not read the plant (a video-analytics token) gets no alarm stream
    if (!can(principal, 'plant.read'))
      return this.failAuth(session, 'auth_failed', `role '${principal.role}' may not read alarms`);
    if (session.authTimer) clearTimeout(session.authTimer);
    session.authTimer = null;
    session.principal = principal;
    session.visibleSites = this.scope.visibleSiteIds(principal);
    session.phase = 'open';
    this.index.addClient(session, session.visibleSites);
    session.send('hello', {
      seq: this.alarms.currentSeq(),
      server: 'hazwatch',
      version: this.version,
      principal: { name: principal.name, role: principal.role, scope: principal.scope },
    });
    session.send('status', this.statusDto());
    this.log.debug('ws client authenticated', {
      session: session.id,
      role: principal.role,
      scope: principal.scope,
      sites: session.visibleSites.size,
    });
  }

  private async subscribe(session: ClientSession, cmd: SubscribeCommand): Promise<void> {
    const principal = session.principal;
    if (principal === null) return;
    let rejected: readonly RejectedEntry[] = [];
    if (cmd.telemetry !== undefined) {
      const plan = planTelemetrySubscription(cmd.telemetry, session.visibleSites, (s, d) =>
        this.config.plant.deviceByKey.has(`${s}/${d}`),
      );
      rejected = plan.rejected;
      const keep = new Set(plan.accepted.map((d) => `${d.siteId}/${d.deviceId}`));
      for (const key of this.index.telemetryOf(session)) {
        if (keep.has(key)) continue;
        const [siteId = '', deviceId = ''] = key.split('/');
        session.coalescer?.forget(siteId, deviceId);
      }
      this.index.setTelemetry(session, plan.accepted);
      if (plan.accepted.length > 0 && session.coalescer === null)
        session.coalescer = new TelemetryCoalescer(
          (frame) => session.send('telemetry', frame),
          this.scheduler,
          this.opts.telemetryIntervalMs,
        );
    }

    let replayed = 0;
    let reset = false;
    if (cmd.alarms === false && this.index.hasAlarms(session)) {
      this.index.setAlarms(session, false);
      session.merge = null;
    } else if (cmd.alarms === true && !this.index.hasAlarms(session)) {
      const since = cmd.since;
      let current = this.alarms.currentSeq();
      // Cluster: the client may resume from a seq another node already pushed; catch up before calling it a reset.
      if (since !== undefined && since > current && this.alarms.refresh) {
        current = await this.alarms.refresh();
        // The session closed, or another subscribe of it took alarms meanwhile.
        if (session.phase !== 'open' || this.index.hasAlarms(session)) return;
      }
      if (since === undefined || since >= current) {
        // Nothing to replay. A `since` ahead of the server means another journal: the client must reload.
        reset = since !== undefined && since > current;
        session.merge = ReplayMerge.live(current, this.opts.maxReplayBuffer);
        this.index.setAlarms(session, true);
      } else {
        // Buffer live events from this instant, then read the journal: the merge closes the gap and removes overlap.
        const merge = new ReplayMerge<AlarmEventDto>(since, this.opts.maxReplayBuffer);
        session.merge = merge;
        this.index.setAlarms(session, true);
        let events: readonly AlarmEventDto[];
        try {
          events = await this.alarms.eventsSince(since, principal);
        } catch (err) {
          if (!(err instanceof ReplayGapError)) {
            this.log.error('alarm replay failed; client closed so it resumes', {
              session: session.id,
              since,
              err,
            });
            return this.fail(
              session,
              CLOSE.internal,
              'replay_failed',
              `replay from seq ${since} failed; reconnect to resume`,
            );
          }
          // Too much to replay: deliver what arrived live meanwhile and tell the client to reload the list (reset).
          this.log.warn('alarm replay too large; client told to reload', { session: session.id, since, err });
          events = [];
          reset = true;
        }
        if (session.merge !== merge || session.phase !== 'open') return;
        const out = merge.replayed(events.filter((e) => session.visibleSites.has(e.siteId)));
        replayed = out.length;
        for (let i = 0; i < out.length; i++) {
          const ev = out[i] as AlarmEventDto;
          this.noteUnjournalled(ev);
          if (!session.sendRaw(encodeFrame('alarm', ev))) return;
          if ((i + 1) % this.opts.replayChunk === 0) await session.drained();
        }
      }
    }
    session.send('subscribed', {
      alarms: this.index.hasAlarms(session),
      telemetry: this.index.telemetryOf(session),
      rejected,
      replayed,
      reset,
    });
  }

  // ------------------------------------------------------------------------------------------------------------------
  // feeds

  private onAlarm(ev: AlarmEventDto): void {
    this.noteUnjournalled(ev);
    const subscribers = this.index.alarmSubscribers(ev.siteId);
    if (subscribers === undefined) return;
    let frame: string | undefined;
    for (const session of subscribers) {
      const merge = session.merge;
      if (merge === null) continue;
      let out: AlarmEventDto[];
      try {
        out = merge.live(ev);
      } catch (err) {
        if (!(err instanceof ReplayOverflowError)) throw err;
        this.kill(
          session,
          CLOSE.slowClient,
          'replay_overflow',
          'too many live events during replay; reconnect with since',
        );
        continue;
      }
      for (const e of out)
        session.sendRaw(e === ev ? (frame ??= encodeFrame('alarm', ev)) : encodeFrame('alarm', e));
    }
  }

  private onReading(r: Reading): void {
    const subscribers = this.index.deviceSubscribers(r.siteId, r.deviceId);
    if (subscribers === undefined) return;
    for (const session of subscribers) session.coalescer?.offer(r);
  }

  private onHazard(h: HazardDto): void {
    if (!this.hazards.changed(h)) return;
    const clients = this.index.siteClients(h.siteId);
    if (clients === undefined) return;
    const frame = encodeFrame('hazard', h);
    for (const session of clients) session.sendRaw(frame);
  }

  private noteUnjournalled(ev: AlarmEventDto): void {
    if (ev.journalled === false && ev.seq > this.unjournalledUpTo) this.unjournalledUpTo = ev.seq;
  }

  private statusDto(): StatusDto {
    return this.databaseReason !== undefined
      ? { storageDegraded: this.storageDegraded, databaseReason: this.databaseReason }
      : { storageDegraded: this.storageDegraded };
  }

  private pollStatus(): void {
    this.pollJournalled();
    const degraded = this.safeStorageDegraded();
    const reason = this.safeDatabaseReason();
    if (degraded === this.storageDegraded && reason === this.databaseReason) return;
    if (degraded !== this.storageDegraded)
      this.log.warn(degraded ? 'storage degraded: consoles show a banner' : 'storage recovered', { reason });
    this.storageDegraded = degraded;
    this.databaseReason = reason;
    const frame = encodeFrame('status', this.statusDto());
    for (const session of this.index.clients()) session.sendRaw(frame);
  }

  /** After events went out with `journalled: false`: one `journalled {seq}` frame once the journal has caught up. */
  private pollJournalled(): void {
    let seq: number | undefined;
    try {
      seq = this.storage.journalledSeq?.();
    } catch (err) {
      this.log.error('journalled seq unavailable', { err });
      return;
    }
    if (seq === undefined || seq <= this.sentJournalled) return;
    const needed = this.unjournalledUpTo > this.sentJournalled;
    this.sentJournalled = seq;
    if (!needed) return;
    const frame = encodeFrame('journalled', { seq });
    for (const session of this.index.clients()) if (this.index.hasAlarms(session)) session.sendRaw(frame);
  }

  private safeDatabaseReason(): string | undefined {
    try {
      return this.storage.databaseReason?.();
    } catch {
      return undefined;
    }
  }

  private safeStorageDegraded(): boolean {
    try {
      return this.storage.storageDegraded();
    } catch (err) {
      this.log.error('storage status unavailable; reporting degraded', { err });
      return true;
    }
  }

  private heartbeat(): void {
    for (const session of [...this.sessions]) {
      if (!session.alive) {
        this.metrics.wsDisconnects.inc({ reason: 'heartbeat' });
        session.ws.terminate();
        this.release(session);
        continue;
      }
      session.alive = false;
      if (session.ws.readyState === session.ws.OPEN) session.ws.ping();
    }
  }

  // ------------------------------------------------------------------------------------------------------------------
  // token revocation (docs/threat-model.md, "Tokens")

  /** Closes every session authenticated with this token: 4401 and a reason, no more frames. */
  private closeSessionsOf(tokenId: string, why: string): void {
    for (const session of [...this.sessions])
      if (session.principal?.tokenId === tokenId)
        this.kill(
          session,
          CLOSE.unauthorized,
          'token_revoked',
          `${why}; authenticate again with a valid token`,
        );
  }

  /** Re-reads the standing of every open session's token; revoked or deleted ones are closed. */
  private async recheckTokens(): Promise<void> {
    const status = this.auth.tokenStatus;
    if (status === undefined) return;
    const ids = new Set<string>();
    for (const session of this.sessions)
      if (session.phase === 'open' && session.principal) ids.add(session.principal.tokenId);
    for (const id of ids) {
      let standing: 'active' | 'revoked' | 'unknown';
      try {
        standing = await status(id);
      } catch (err) {
        // Token store unreachable: sessions stay (as HTTP accepts recently verified tokens); the next round retries.
        this.log.warn('ws token re-check failed; sessions kept until the next one', { id, err });
        continue;
      }
      if (standing !== 'active')
        this.closeSessionsOf(id, standing === 'revoked' ? 'token revoked' : 'token no longer exists');
    }
  }

  // ------------------------------------------------------------------------------------------------------------------
  // closing

  private failAuth(session: ClientSession, code: ErrorCode & DisconnectReason, message: string): void {
    this.fail(session, CLOSE.unauthorized, code, message);
  }

  /** Error frame, then close. For failures where the client is still reading. */
  private fail(
    session: ClientSession,
    closeCode: number,
    reason: ErrorCode & DisconnectReason,
    message: string,
  ): void {
    if (session.phase === 'closing') return;
    session.send('error', { code: reason, message, closeCode });
    this.kill(session, closeCode, reason, message);
  }

  /** Closes at once (nothing more is sent) and terminates if the close handshake does not finish in time. */
  private kill(session: ClientSession, closeCode: number, reason: DisconnectReason, message: string): void {
    if (session.phase === 'closing') return;
    session.phase = 'closing';
    this.metrics.wsDisconnects.inc({ reason });
    this.log.warn('ws client disconnected by server', {
      session: session.id,
      reason,
      ip: session.ip,
      principal: session.principal?.name,
    });
    this.unindex(session);
    session.ws.close(closeCode, truncateReason(message));
    session.closeTimer = setTimeout(() => session.ws.terminate(), this.opts.closeGraceMs);
    session.closeTimer.unref();
  }

  private unindex(session: ClientSession): void {
    this.index.removeClient(session);
    session.coalescer?.dispose();
    session.coalescer = null;
    session.merge = null;
    if (session.authTimer) clearTimeout(session.authTimer);
    session.authTimer = null;
  }

  private release(session: ClientSession): void {
    if (!this.sessions.delete(session)) return;
    this.metrics.wsClients.dec();
    this.unindex(session);
    if (session.closeTimer) clearTimeout(session.closeTimer);
    session.phase = 'closing';
  }

  /** One failing push must not end a feed subscription. */
  private guard(feed: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error('ws push failed', { feed, err });
    }
  }
}

export const defaultScheduler: SchedulerLike = asyncScheduler;

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** WebSocket close reasons are limited to 123 bytes. */
function truncateReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}
