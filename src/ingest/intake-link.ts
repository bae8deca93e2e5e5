import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { JsonLogger, maskUrl } from '../common/logger';
import { installDeferredAcks, installKeepaliveGuard, type DeferredAcks } from './mqtt-client-hooks';
import { shareEventLoop, type TurnControl } from './socket-turns';

/** `DEBUG=mqttjs*` turns mqtt.js's own logging back on. */
const MQTT_DEBUG = /\bmqttjs/.test(process.env.DEBUG ?? '');

/** Longest a graceful MQTT disconnect may take before the client is ended by force. */
export const END_GRACE_MS = 5000;

/** What the ingest service gives every link (shared by all of its connections). */
export type IntakeHost = {
  /** The writer's durability mark of the open batch (docs/adr/0008-ack-after-commit.md). */
  ackMark(): number;
  /** A QoS 1 message was held (the service seals a batch at MQTT_MAX_UNACKED). */
  onHeld(): void;
  /** Intake of this link went quiet with acknowledgements waiting. */
  onQuiet(): void;
  /** Back-pressure: true while the writer is full. */
  paused(): boolean;
  onYield(): void;
  message(topic: string, payload: Buffer): void;
};

export type IntakeLinkOptions = {
  readonly url: string;
  readonly clientId: string;
  readonly clean: boolean;
  readonly qos: 0 | 1;
  readonly filters: readonly string[];
  readonly keepaliveS: number;
  readonly turnBytes: number;
  readonly credentials?: { username: string; password: string };
  readonly will?: { topic: string; payload: string };
  /** Published (QoS 1, retained) on every connect, e.g. the server's `online` status. */
  readonly onConnectPublish?: { topic: string; payload: string };
  /** The connect's subscriptions were answered: `true` when every filter was granted (Sparkplug host STATE waits for it). */
  readonly onSubscribed?: (granted: boolean) => void;
  /** What the logs call this link (never the client id: it can be a secret, docs/adr/0009-mqtt-authentication.md). */
  readonly label: string;
};

/**
 * One MQTT connection of the intake: the deferred PUBACKs of ADR 0008, the keep-alive guard, the socket turns that
 * share the event loop and carry back-pressure. A single node has one (all sites); a cluster node has one per owned
 * site plus a clean QoS 0 display link (docs/adr/0016-cluster.md, "Per-site MQTT sessions").
 */
export class IntakeLink {
  private readonly log = new JsonLogger('ingest');
  readonly client: MqttClient;
  /** Held PUBACKs of the current connection; undefined for a QoS 0 link. */
  readonly acks: DeferredAcks | undefined;
  private turns?: TurnControl;
  private up = false;
  private closing = false;
  private readonly connectListeners: Array<(up: boolean) => void> = [];

  constructor(
    private readonly opts: IntakeLinkOptions,
    private readonly host: IntakeHost,
  ) {
    const mqttOpts: IClientOptions = {
      clientId: opts.clientId,
      clean: opts.clean,
      protocolVersion: 4,
      keepalive: opts.keepaliveS,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: true,
      ...(opts.will
        ? { will: { topic: opts.will.topic, payload: Buffer.from(opts.will.payload), qos: 1, retain: true } }
        : {}),
      ...(opts.credentials
        ? { username: opts.credentials.username, password: opts.credentials.password }
        : {}),
      // mqtt.js logs ~20 debug lines per message; the disabled `debug` calls alone cost ~3 % of server CPU at 30k msg/s.
      ...(MQTT_DEBUG ? {} : { log: () => undefined }),
    };
    const client = connect(opts.url, mqttOpts);
    this.client = client;
    // Both throw when mqtt.js's internals are not what they rely on: start-up fails rather than acking early.
    const keepalive = installKeepaliveGuard(client, {
      now: () => Date.now(),
      deliberatelyPaused: () => this.turns?.held ?? false,
    });
    this.acks =
      opts.qos === 1
        ? installDeferredAcks(
            client,
            () => host.ackMark(),
            () => host.onHeld(),
          )
        : undefined;
    client.on('connect', (connack) => {
      // mqtt.js replaces the stream on every reconnect: hook the new one.
      this.turns = shareEventLoop(client.stream, {
        budgetBytes: opts.turnBytes,
        onYield: () => host.onYield(),
        // Data from the broker proves it alive to the client's own keep-alive timeout (PINGREQs still go out on time).
        onTurn: keepalive.onData,
        onQuiet: () => {
          if (this.unacked > 0) host.onQuiet();
        },
      });
      this.turns.hold(this.closing || host.paused());
      this.setUp(true);
      this.log.info('connected to MQTT broker', {
        url: maskUrl(opts.url),
        link: opts.label,
        sessionPresent: connack.sessionPresent,
      });
      if (opts.filters.length > 0)
        client.subscribe([...opts.filters], { qos: opts.qos }, (err, granted) => {
          if (err) this.log.error('MQTT subscribe failed', { link: opts.label, err });
          else if (client.connected) opts.onSubscribed?.(!granted?.some((g) => g.qos === 128));
        });
      if (opts.onConnectPublish)
        client.publish(opts.onConnectPublish.topic, opts.onConnectPublish.payload, { qos: 1, retain: true });
    });
    client.on('close', () => {
      if (this.up && !this.closing)
        this.log.warn('MQTT connection closed; reconnecting', { url: maskUrl(opts.url), link: opts.label });
      this.setUp(false);
      // The broker redelivers every unacknowledged message on the resumed session; ids may be reused.
      this.acks?.reset();
    });
    client.on('error', (err) => this.log.error('MQTT client error', { link: opts.label, err: err.message }));
    client.on('message', (topic, payload) => host.message(topic, payload));
  }

  get connected(): boolean {
    return this.up;
  }

  get label(): string {
    return this.opts.label;
  }

  /** QoS 1 messages received on this link and not yet acknowledged. */
  get unacked(): number {
    return this.acks?.ledger.unacked ?? 0;
  }

  /** `up` on every connect and close. */
  onConnectionChange(fn: (up: boolean) => void): void {
    this.connectListeners.push(fn);
  }

  /** Stop (true) or resume (false) reading the socket; PUBACKs and PINGREQs still go out. */
  hold(on: boolean): void {
    this.turns?.hold(on || this.closing);
  }

  /** Every batch ≤ `through` is durable: send the PUBACKs waiting for it. */
  release(through: number): void {
    this.acks?.ledger.release(through);
  }

  /** Stop reading for good (the link is about to close); held PUBACKs still go out as batches commit. */
  stopIntake(): void {
    this.closing = true;
    this.turns?.hold(true);
  }

  /** Subscribes more filters on this link (QoS of the link). */
  subscribe(filters: readonly string[]): void {
    if (filters.length > 0) this.client.subscribe([...filters], { qos: this.opts.qos });
  }

  unsubscribe(filters: readonly string[]): void {
    if (filters.length > 0) this.client.unsubscribe([...filters]);
  }

  /**
   * Ends the client without ever hanging: connected, it publishes `finalPublish` (if any) and ends gracefully (the
   * broker's PUBACKs let end() finish) but is forced after END_GRACE_MS; not connected, there is nothing to flush, so it
   * is forced at once. A persistent session (clean=false) stays at the broker with whatever we did not acknowledge.
   */
  async end(finalPublish?: { topic: string; payload: string }): Promise<void> {
    this.closing = true;
    // Read again so the broker's PUBACKs (and the end handshake) can arrive.
    this.turns?.hold(false);
    await endClient(this.client, this.up, finalPublish);
  }

  private setUp(up: boolean): void {
    this.up = up;
    for (const fn of this.connectListeners) fn(up);
  }
}

/** See IntakeLink.end; public for the ingest disconnect test. */
export async function endClient(
  c: Pick<MqttClient, 'publish' | 'end'>,
  connected: boolean,
  finalPublish?: { topic: string; payload: string },
): Promise<void> {
  if (!connected) {
    await new Promise<void>((resolve) => c.end(true, {}, () => resolve()));
    return;
  }
  if (finalPublish) c.publish(finalPublish.topic, finalPublish.payload, { qos: 1, retain: true });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => c.end(true, {}, () => resolve()), END_GRACE_MS);
    timer.unref();
    c.end(false, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
