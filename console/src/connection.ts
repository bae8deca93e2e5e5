/**
 * HTTP (CONTRACT §3) and /ws (src/realtime/PROTOCOL.md) for the console: bearer token from the sign-in dialog, auth
 * frame, backoff reconnect and `since` resume so no alarm event is lost across a drop.
 */
import type { ClientEventMap, HelloDto, TelemetryDto } from '../../src/realtime/domain/client-events';
import type { Alarm, Store } from './model';

export const TOKEN_KEY = 'hazwatch.token';

export class AuthLost extends Error {}

export type ConnState = 'connecting' | 'open' | 'closed' | 'auth';

type Frame = { [E in keyof ClientEventMap]: { event: E; data: ClientEventMap[E] } }[keyof ClientEventMap];

export const asList = <T>(body: unknown): T[] =>
  Array.isArray(body)
    ? (body as T[])
    : body && typeof body === 'object' && Array.isArray((body as { items?: unknown }).items)
      ? (body as { items: T[] }).items
      : [];

export class Connection {
  token: string | null = sessionStorage.getItem(TOKEN_KEY);
  principal: HelloDto['principal'] | null = null;
  state: ConnState = 'connecting';
  private ws: WebSocket | null = null;
  private backoffMs = 500;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private alarmsRetry: ReturnType<typeof setTimeout> | undefined;
  private telemetry: string[] = [];
  /** Re-sends of the telemetry list after an out-of-order `subscribed` (bounded; reset by each new list). */
  private resent = 0;
  /** Telemetry frames not yet applied: applied together once per animation frame (or 100 ms in a hidden tab). */
  private pendingTelemetry: TelemetryDto[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: Store,
    private readonly hooks: {
      onState: (s: ConnState) => void;
      onAuthLost: () => void;
      onRaised: (a: Alarm) => void;
      onHello: (first: boolean) => void;
      onError: (message: string) => void;
    },
  ) {}

  async api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
    const res = await fetch(path, {
      method: init.method ?? 'GET',
      headers: {
        Authorization: `Bearer ${this.token ?? ''}`,
        ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    if (res.status === 401) {
      this.authLost();
      throw new AuthLost('unauthorized');
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const msg = (json as { message?: unknown } | null)?.message;
      const text = Array.isArray(msg)
        ? msg.map(String).join('; ')
        : typeof msg === 'string'
          ? msg
          : res.statusText;
      throw new Error(`${res.status} ${text}`);
    }
    return json as T;
  }

  signIn(token: string): void {
    this.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    this.store.reset();
    this.connect();
  }

  signOut(): void {
    this.principal = null;
    this.authLost();
  }

  private setState(s: ConnState): void {
    this.state = s;
    this.hooks.onState(s);
  }

  connect(): void {
    clearTimeout(this.reconnectTimer);
    if (!this.token) return this.setState('auth');
    this.setState('connecting');
    const sock = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    this.ws = sock;
    sock.onopen = () => sock.send(JSON.stringify({ event: 'auth', data: { token: this.token } }));
    sock.onmessage = (m: MessageEvent<string>) => {
      let frame: Frame;
      try {
        frame = JSON.parse(m.data) as Frame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    sock.onclose = (e) => {
      if (this.ws !== sock) return;
      this.ws = null;
      if (e.code === 4401) return this.authLost();
      this.setState('closed');
      const delay = Math.min(15_000, this.backoffMs) * (0.75 + Math.random() * 0.5);
      this.backoffMs = Math.min(15_000, this.backoffMs * 2);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
  }

  private send(event: string, data: unknown): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ event, data }));
  }

  /** Replaces the telemetry subscription (≤ 500 devices, PROTOCOL.md). */
  subscribeTelemetry(keys: readonly string[]): void {
    const next = [...new Set(keys)].slice(0, 500);
    if (next.join() === this.telemetry.join()) return;
    this.telemetry = next;
    this.resent = 0;
    this.send('subscribe', { telemetry: next });
  }

  private onFrame(f: Frame): void {
    switch (f.event) {
      case 'hello': {
        this.backoffMs = 500;
        this.principal = f.data.principal ?? null;
        this.setState('open');
        const first = this.store.lastSeq === null;
        const since = first ? f.data.seq : (this.store.lastSeq as number);
        if (first) this.store.lastSeq = f.data.seq;
        // telemetry only when there is some: an empty list would replace a later subscription if the replay is slow
        this.send('subscribe', {
          alarms: true,
          since,
          ...(this.telemetry.length ? { telemetry: this.telemetry } : {}),
        });
        if (first) void this.loadAlarms();
        this.hooks.onHello(first);
        return;
      }
      case 'subscribed':
        // the devices the server now streams (visible to anyone inspecting the page, and to the browser tests)
        document.documentElement.dataset.telemetry = f.data.telemetry.join(' ');
        {
          // subscribe answers may arrive out of order (one waits for its alarm replay): insist on the newest list
          const answered = new Set([...f.data.telemetry, ...f.data.rejected.map((r) => r.entry)]);
          if (this.telemetry.length > 0 && this.telemetry.some((k) => !answered.has(k)) && this.resent < 3) {
            this.resent++;
            this.send('subscribe', { telemetry: this.telemetry });
          }
        }
        if (f.data.reset) {
          // the server's journal is not the one we followed: start over from its current state
          this.store.alarms.clear();
          this.store.lastSeq = null;
          void this.loadAlarms();
        }
        return;
      case 'alarm':
        if (this.store.applyAlarm(f.data)) this.hooks.onRaised(f.data);
        return;
      case 'telemetry':
        return this.queueTelemetry(f.data);
      case 'hazard':
        return this.store.applyHazard(f.data);
      case 'status':
        this.store.storageDegraded = Boolean(f.data.storageDegraded);
        this.store.databaseReason = f.data.databaseReason ?? '';
        return this.store.changed('status');
      case 'journalled':
        return this.store.journalled(f.data.seq);
      case 'error':
        if (f.data.code === 'bad_frame') this.hooks.onError(f.data.message);
        return;
    }
  }

  /**
   * Telemetry is applied in batches, once per animation frame: 200 frames a second cost one store update and one
   * render per frame, not 200. A hidden tab gets no animation frames, so a timer flushes too (the queue stays short).
   */
  private queueTelemetry(t: TelemetryDto): void {
    this.pendingTelemetry.push(t);
    if (this.pendingTelemetry.length > 1) return;
    const flush = (): void => {
      clearTimeout(this.flushTimer);
      const batch = this.pendingTelemetry;
      if (batch.length === 0) return;
      this.pendingTelemetry = [];
      this.store.applyTelemetryBatch(batch);
    };
    requestAnimationFrame(flush);
    this.flushTimer = setTimeout(flush, 100);
  }

  /**
   * The current alarm list, merged with pushed events by per-alarm seq. Until it has loaded once the list may be
   * incomplete, so a failure (e.g. the server is still loading alarm state) is shown and retried until it succeeds.
   */
  async loadAlarms(): Promise<void> {
    clearTimeout(this.alarmsRetry);
    try {
      for (const a of asList<Alarm>(await this.api('/api/alarms'))) this.store.applyAlarm(a, false);
    } catch (err) {
      if (err instanceof AuthLost) return;
      this.hooks.onError((err as Error).message);
      this.alarmsRetry = setTimeout(() => void this.loadAlarms(), 3000);
    }
  }

  authLost(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    this.token = null;
    clearTimeout(this.alarmsRetry);
    clearTimeout(this.reconnectTimer);
    const s = this.ws;
    this.ws = null;
    s?.close();
    this.setState('auth');
    this.hooks.onAuthLost();
  }
}
