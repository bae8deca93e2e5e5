import type { IClientOptions, MqttClient } from 'mqtt';
import { JsonLogger } from '../../common/logger';
import type { Scheduler, TimerHandle } from '../../common/timer.port';
import { hostStateTopic } from './domain/sparkplug-topic';

/** Sparkplug 3.0 STATE payload (UTF-8 JSON): the host's birth (`online: true`) or death, with the session's time. */
export type HostStatePayload = { readonly online: boolean; readonly timestamp: number };

export const encodeHostState = (s: HostStatePayload): Buffer =>
  Buffer.from(JSON.stringify({ online: s.online, timestamp: s.timestamp }));

/** A STATE payload, or undefined when it is not `{"online": boolean, "timestamp": integer}`. */
export function decodeHostState(payload: Buffer): HostStatePayload | undefined {
  try {
    const v: unknown = JSON.parse(payload.toString('utf8'));
    if (v === null || typeof v !== 'object') return undefined;
    const { online, timestamp } = v as Record<string, unknown>;
    if (typeof online !== 'boolean' || typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp))
      return undefined;
    return { online, timestamp };
  } catch {
    return undefined;
  }
}

/** Client id of the STATE connection: the server's id plus `-state` (within the 64-character limit). */
export const hostStateClientId = (serverClientId: string): string => `${serverClientId.slice(0, 58)}-state`;

/** Wait before a lost STATE connection is opened again (with a new session timestamp). */
export const STATE_RECONNECT_MS = 2000;
/** Longest a graceful end of the STATE connection may take before it is closed by force. */
const END_GRACE_MS = 3000;

export type HostStateOptions = {
  readonly hostId: string;
  /** Client id and credentials of the STATE connection (the server's own, docs/adr/0009-mqtt-authentication.md). */
  readonly clientId: string;
  readonly credentials?: { readonly username: string; readonly password: string };
  readonly keepaliveS: number;
  /** Opens an MQTT connection (mqtt.js `connect(url, opts)` bound to the broker URL). */
  readonly connect: (opts: IClientOptions) => MqttClient;
  readonly now: () => number;
  readonly scheduler: Scheduler;
  /** Told whenever the announced state changes (true once the broker acknowledged our `online`). */
  readonly onAnnounced?: (online: boolean) => void;
};

/**
 * hazwatch as a Sparkplug 3.0 primary host application (docs/sparkplug.md "Primary host STATE"): edge nodes that name
 * it their primary host publish only while its retained `spBv1.0/STATE/{hostId}` says `online: true`, and store and
 * forward otherwise.
 *
 * The server's data connection is a persistent session (clean=false) whose last will is its status topic, so STATE
 * has a connection of its own: clean session, last will `{online: false, timestamp: T}` (QoS 1, retained), birth
 * `{online: true, timestamp: T}` published after it subscribed to its own STATE topic. Its life is nested in the data
 * path's: it opens when the data connection has its subscriptions and is ended — `offline` published first — when the
 * data connection closes, so `online` never stands for a host that is not receiving. Every session has a new, larger
 * T, as edge nodes ignore STATE older than the last one they saw. An `offline` on its own topic while this session is
 * up (an older session's will delivered late) is answered by publishing `online` again, as the specification asks.
 */
export class SparkplugHostState {
  private readonly log = new JsonLogger('ingest.sparkplug');
  readonly topic: string;
  private client: MqttClient | undefined;
  /** Timestamp of the current STATE session (0: none). */
  private sessionTs = 0;
  private lastTs = 0;
  private wanted = false;
  private stopped = false;
  private announced = false;
  private retry: TimerHandle | undefined;

  constructor(private readonly o: HostStateOptions) {
    this.topic = hostStateTopic(o.hostId);
  }

  /** True while our `online` birth is acknowledged by the broker and the session is up. */
  get online(): boolean {
    return this.announced;
  }

  /** The data connection has (true) or lost (false) its subscriptions. */
  dataPath(up: boolean): void {
    if (this.stopped || up === this.wanted) return;
    this.wanted = up;
    if (up) this.open();
    else void this.close();
  }

  /** At shutdown: `offline` published (and acknowledged, bounded), connection ended; nothing opens again. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wanted = false;
    await this.close();
  }

  private open(): void {
    this.retry?.cancel();
    this.retry = undefined;
    if (this.client) return;
    // Strictly increasing across sessions, even when the clock stands still or steps back.
    const ts = Math.max(this.o.now(), this.lastTs + 1);
    this.lastTs = ts;
    this.sessionTs = ts;
    const client = this.o.connect({
      clientId: this.o.clientId,
      clean: true,
      protocolVersion: 4,
      keepalive: this.o.keepaliveS,
      // A new session needs a new will timestamp: reconnecting is done here, not by mqtt.js.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      will: {
        topic: this.topic,
        payload: encodeHostState({ online: false, timestamp: ts }),
        qos: 1,
        retain: true,
      },
      ...(this.o.credentials
        ? { username: this.o.credentials.username, password: this.o.credentials.password }
        : {}),
      log: () => undefined,
    });
    this.client = client;
    client.on('connect', () => {
      client.subscribe(this.topic, { qos: 1 }, (err, granted) => {
        if (client !== this.client) return;
        if (err || granted?.some((g) => g.qos === 128))
          this.log.warn('cannot subscribe to our own Sparkplug STATE topic (broker ACL?)', {
            topic: this.topic,
            err: err?.message,
          });
        this.publishOnline(client, ts);
      });
    });
    client.on('message', (topic, payload, packet) => {
      if (topic === this.topic && client === this.client) this.onOwnState(client, payload, ts, packet.retain);
    });
    client.on('error', (err) =>
      this.log.warn('Sparkplug STATE connection error', { topic: this.topic, err: err.message }),
    );
    client.on('close', () => {
      if (client !== this.client) return;
      // Lost, not ended by us: the broker publishes our will (offline, T). A new session follows while data flows.
      this.client = undefined;
      this.setAnnounced(false);
      if (this.wanted && !this.stopped && !this.retry)
        this.retry = this.o.scheduler.after(STATE_RECONNECT_MS, () => {
          this.retry = undefined;
          if (this.wanted && !this.stopped) this.open();
        });
    });
  }

  private publishOnline(client: MqttClient, ts: number): void {
    client.publish(
      this.topic,
      encodeHostState({ online: true, timestamp: ts }),
      { qos: 1, retain: true },
      (err) => {
        if (client !== this.client) return;
        if (err)
          return this.log.warn('Sparkplug STATE online not published', {
            topic: this.topic,
            err: err.message,
          });
        if (!this.announced)
          this.log.info('Sparkplug primary host STATE online', { topic: this.topic, timestamp: ts });
        this.setAnnounced(true);
      },
    );
  }

  /** A message on our STATE topic; `retained`: the value held when we subscribed (our birth replaces it). */
  private onOwnState(client: MqttClient, payload: Buffer, ts: number, retained: boolean): void {
    const s = decodeHostState(payload);
    if (s?.online === true && s.timestamp === ts) return; // our own birth coming back
    if (s && s.timestamp > ts) {
      // Another host application publishes under this host id (a second hazwatch with the same sparkplug.yaml?).
      this.log.error('another host application publishes Sparkplug STATE under our host id', {
        topic: this.topic,
        theirs: s,
        ours: ts,
      });
      return;
    }
    if (retained) return;
    // An older session's will (or anything else) replaced our retained birth: restore it.
    this.log.warn('Sparkplug STATE on our topic says we are not online: publishing online again', {
      topic: this.topic,
      received: s ?? payload.toString('utf8').slice(0, 64),
    });
    this.publishOnline(client, ts);
  }

  private async close(): Promise<void> {
    this.retry?.cancel();
    this.retry = undefined;
    const client = this.client;
    this.client = undefined;
    this.setAnnounced(false);
    if (!client) return;
    // Ended by us: errors of the closing socket ("write after end") say nothing an operator needs.
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    const ts = this.sessionTs;
    if (!client.connected) {
      // The broker publishes the will itself when it notices (or never saw a birth): nothing to say.
      await client.endAsync(true).catch(() => undefined);
      return;
    }
    // A graceful DISCONNECT suppresses the will, so the death is published first (same T as the birth).
    await new Promise<void>((resolve) => {
      const timer = this.o.scheduler.after(END_GRACE_MS, () => client.end(true, {}, () => resolve()));
      client.publish(
        this.topic,
        encodeHostState({ online: false, timestamp: ts }),
        { qos: 1, retain: true },
        () =>
          client.end(false, {}, () => {
            timer.cancel();
            resolve();
          }),
      );
    });
    this.log.info('Sparkplug primary host STATE offline', { topic: this.topic, timestamp: ts });
  }

  private setAnnounced(v: boolean): void {
    if (v === this.announced) return;
    this.announced = v;
    this.o.onAnnounced?.(v);
  }
}
