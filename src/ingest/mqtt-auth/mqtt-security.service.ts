import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import { BehaviorSubject, type Observable } from 'rxjs';
import { CLOCK, type Clock } from '../../common/clock';
import { JsonLogger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { HazwatchMetrics } from '../../metrics/metrics.registry';
import type { EmbeddedBrokerSecurity } from '../embedded-broker';
import {
  DEFAULT_TAKEOVER_OPTIONS,
  NO_TAKEOVER,
  SessionTakeoverDetector,
  type TakeoverState,
} from './domain/session-takeover';
import { MQTT_DENY_REASONS, MqttBrokerAuth } from './mqtt-broker-auth';
import {
  clientIdSecret,
  deriveClientId,
  ensureDemoSiteCredentials,
  ensureServerCredentials,
  SERVER_CLIENT_ID_BASE,
  type MqttCredentials,
} from './mqtt-provisioning';
import { mqttAuthPaths, MqttUserStore } from './mqtt-user.store';
import { sparkplugNodeSites } from '../../config/sparkplug-config';
import { hostStateClientId } from '../sparkplug/host-state';

/** What the server sends in CONNECT. */
export type ServerMqttIdentity = {
  readonly clientId: string;
  /** Name in the server's status topic `hazwatch/server/<name>/status` (never the secret client id). */
  readonly statusName: string;
  readonly credentials?: MqttCredentials;
};

const TICK_MS = 5_000;

/**
 * MQTT security of the server (docs/adr/0009-mqtt-authentication.md): the user store under DATA_DIR/mqtt, the
 * server's credentials and unguessable client id, demo provisioning of per-site credentials, the embedded broker's
 * authentication and authorisation, and session-takeover detection (`sessionTakeover$`, raised as an alarm by
 * alarms/mqtt-session.alarm.ts: ingest does not import alarms).
 */
@Injectable()
export class MqttSecurity implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('ingest.mqtt-security');
  private readonly paths;
  readonly store: MqttUserStore;
  private ident?: ServerMqttIdentity;
  private demoSites?: ReadonlyMap<string, MqttCredentials>;
  private readonly detector: SessionTakeoverDetector;
  private readonly takeover = new BehaviorSubject<TakeoverState>(NO_TAKEOVER);
  private timer?: NodeJS.Timeout;
  /** Current suspicion that another client uses the server's client id; replays the latest state. */
  readonly sessionTakeover$: Observable<TakeoverState> = this.takeover.asObservable();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: HazwatchMetrics,
  ) {
    this.paths = mqttAuthPaths(config.dataDir);
    this.store = new MqttUserStore(this.paths.users);
    this.detector = new SessionTakeoverDetector(DEFAULT_TAKEOVER_OPTIONS);
    for (const reason of MQTT_DENY_REASONS) this.metrics.mqttDenied.inc({ reason }, 0);
    this.metrics.mqttSessionTakeover.set(0);
  }

  private get embedded(): boolean {
    return !this.config.env.MQTT_URL;
  }

  async onModuleInit(): Promise<void> {
    const env = this.config.env;
    const statusName = env.MQTT_CLIENT_ID ?? SERVER_CLIENT_ID_BASE;
    const clientId =
      env.MQTT_CLIENT_ID ?? deriveClientId(clientIdSecret(this.paths, env.MQTT_CLIENT_ID_SECRET));
    const generate = this.embedded || env.HAZWATCH_DEMO;
    const server = await ensureServerCredentials(this.store, this.paths, env, { generate });
    if (server.created)
      this.log.info('MQTT server credentials stored', {
        username: server.credentials?.username,
        file: env.MQTT_USERNAME ? this.paths.users : this.paths.serverCredentials,
      });
    if (!server.credentials)
      this.log.warn(
        'MQTT_USERNAME is not set: connecting to the broker without credentials (see README "Security")',
      );
    if (env.MQTT_CLIENT_ID)
      this.log.warn(
        'MQTT_CLIENT_ID is set: a client that knows it can take the server session on a broker that does not bind client ids to credentials (README "Security")',
        { clientId: env.MQTT_CLIENT_ID },
      );
    this.ident = { clientId, statusName, ...(server.credentials ? { credentials: server.credentials } : {}) };
    if (env.HAZWATCH_DEMO) {
      const demo = await ensureDemoSiteCredentials(
        this.store,
        this.paths,
        this.config.plant.sites.map((s) => s.id),
      );
      this.demoSites = demo.bySite;
      if (demo.created.length > 0)
        this.log.info('demo mode: MQTT credentials created for the simulators of each site', {
          sites: demo.created,
          file: this.paths.demoSiteCredentials,
        });
    }
    this.timer = setInterval(() => this.publishTakeover(this.detector.tick(this.clock.now())), TICK_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.takeover.complete();
  }

  identity(): ServerMqttIdentity {
    if (!this.ident) throw new Error('MqttSecurity used before module init');
    return this.ident;
  }

  /** Per-site credentials of the bundled simulators (demo mode), by site id. */
  demoSiteCredentials(): ReadonlyMap<string, MqttCredentials> | undefined {
    return this.demoSites;
  }

  takeoverState(): TakeoverState {
    return this.takeover.value;
  }

  /** Authentication, authorisation and packet limit of the embedded broker. */
  brokerSecurity(): EmbeddedBrokerSecurity {
    const id = this.identity();
    // The STATE connection's id too: a site taking it over would publish our will (offline) to every edge node.
    const reserved: ReadonlySet<string> = new Set([
      id.clientId,
      SERVER_CLIENT_ID_BASE,
      hostStateClientId(id.clientId),
    ]);
    return {
      auth: new MqttBrokerAuth(
        this.store,
        () => reserved,
        Date.now,
        sparkplugNodeSites(this.config.sparkplug),
      ),
      maxPacketBytes: this.config.env.MQTT_MAX_PACKET_BYTES,
      onDenied: (reason) => this.metrics.mqttDenied.inc({ reason }),
      onOversize: () => this.metrics.mqttOversize.inc(),
    };
  }

  /** Feeds the takeover detector from the server's MQTT client (call once per client; survives reconnects). */
  watchSession(client: MqttClient): void {
    client.on('connect', () => this.detector.connected(this.clock.now()));
    client.on('error', () => this.detector.error());
    client.on('disconnect', (packet) =>
      this.publishTakeover(this.detector.disconnectPacket(packet.reasonCode, this.clock.now())),
    );
    client.on('close', () =>
      this.publishTakeover(this.detector.closed(this.clock.now(), client.disconnecting)),
    );
  }

  private publishTakeover(state: TakeoverState): void {
    const prev = this.takeover.value;
    if (state === prev || this.takeover.closed) return;
    if (state.suspected && !prev.suspected) {
      this.metrics.mqttSessionTakeovers.inc();
      this.log.error(
        'MQTT session takeover suspected: another client uses the server client id and receives its messages',
        {
          reason: state.reason,
          closes: state.closes,
          recovery:
            'rotate the server credentials and MQTT_CLIENT_ID_SECRET, check the broker ACL, find the intruder by IP in the broker log (README "Security")',
        },
      );
    } else if (!state.suspected && prev.suspected) {
      this.log.info('MQTT session held again: takeover suspicion cleared');
    }
    this.metrics.mqttSessionTakeover.set(state.suspected ? 1 : 0);
    this.takeover.next(state);
  }
}
