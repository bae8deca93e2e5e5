import { MqttSecurity } from '../ingest/mqtt-auth/mqtt-security.service';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { AlarmService } from '../alarms/alarm.service';
import { ExternalConditions } from '../alarms/external-conditions';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger, maskUrl } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { systemScheduler } from '../common/timer.port';
import { BROKER_LOSS_RULE_ID, BrokerLossAlarm } from './broker-loss.alarm';
import { BrokerDropTracker, parseCounter } from './domain/broker-drops';

/** Mosquitto's running count of messages it dropped (published by the broker every `sys_interval` seconds when it changes). */
export const MOSQUITTO_DROPPED_TOPIC = '$SYS/broker/publish/messages/dropped';

/** Client id of the monitor's own connection: the server's id plus `-sys` (within the 64-character limit). */
export function monitorClientId(serverClientId: string): string {
  return `${serverClientId.slice(0, 60)}-sys`;
}

/**
 * Watches the external MQTT broker for messages it dropped — loss outside hazwatch that the server itself can never see
 * (docs/adr/0014-idempotent-telemetry.md): a queue overflow for the server's session while it is slow or offline.
 *
 * A connection of its own (client id `<server client id>-sys`, clean session, QoS 0; read-only) subscribes to
 * `$SYS/broker/publish/messages/dropped`. Every increase raises the critical `ext:broker-loss` alarm for every site,
 * is logged as an error, and is added to `hazwatch_broker_dropped_messages_total`.
 *
 * The embedded broker (no MQTT_URL) has no such counter: Aedes keeps a persistent session's QoS 1 messages in memory
 * without a limit and drops none for it, but loses them all with the process. Nothing to watch there; said once at start.
 */
@Injectable()
export class BrokerMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new JsonLogger('broker-monitor');
  private readonly tracker = new BrokerDropTracker();
  private readonly alarm: BrokerLossAlarm;
  private client: MqttClient | undefined;

  constructor(
    external: ExternalConditions,
    alarms: AlarmService,
    @Inject(APP_CONFIG) private readonly app: AppConfig,
    @Inject(CLOCK) clock: Clock,
    private readonly metrics: HazwatchMetrics,
    private readonly security: MqttSecurity,
  ) {
    this.alarm = new BrokerLossAlarm({
      emit: (c) => external.emit(c),
      activeSites: () =>
        new Set(
          alarms.records().flatMap((a) => (a.ruleId === BROKER_LOSS_RULE_ID && a.active ? [a.siteId] : [])),
        ),
      sites: app.plant.sites.map((s) => ({ siteId: s.id, sourceId: s.hazardSources[0]?.id ?? s.id })),
      clock,
      scheduler: systemScheduler,
    });
  }

  onApplicationBootstrap(): void {
    this.metrics.brokerMonitorUp.set(0);
    this.metrics.brokerDropped.inc(0);
    const env = this.app.env;
    if (!env.MQTT_URL) {
      this.log.info(
        'embedded MQTT broker: it has no drop counter to watch (its queues are in memory, unbounded, lost with the process)',
      );
      return;
    }
    this.alarm.start();
    // The server's own (unguessable) client id and credentials: docs/adr/0009-mqtt-authentication.md.
    const id = this.security.identity();
    const credentials =
      id.credentials ??
      (env.MQTT_USERNAME ? { username: env.MQTT_USERNAME, password: env.MQTT_PASSWORD ?? '' } : undefined);
    const opts: IClientOptions = {
      clientId: monitorClientId(id.clientId),
      clean: true,
      reconnectPeriod: 2_000,
      connectTimeout: 10_000,
      ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
    };
    const client = connect(env.MQTT_URL, opts);
    this.client = client;
    client.on('connect', () => {
      client.subscribe(MOSQUITTO_DROPPED_TOPIC, { qos: 0 }, (err, granted) => {
        const refused = granted?.some((g) => g.qos === 128) ?? false;
        if (err || refused) {
          this.metrics.brokerMonitorUp.set(0);
          this.log.error(
            'cannot watch the broker for dropped messages: subscription refused (check the broker ACL for $SYS)',
            {
              topic: MOSQUITTO_DROPPED_TOPIC,
              error: err?.message,
            },
          );
          return;
        }
        this.metrics.brokerMonitorUp.set(1);
        this.log.info('watching the MQTT broker for dropped messages', {
          url: maskUrl(env.MQTT_URL ?? ''),
          topic: MOSQUITTO_DROPPED_TOPIC,
        });
      });
    });
    client.on('close', () => this.metrics.brokerMonitorUp.set(0));
    client.on('error', (err) => this.log.warn('broker monitor connection error', { error: err.message }));
    client.on('message', (topic, payload) => {
      if (topic === MOSQUITTO_DROPPED_TOPIC) this.onDroppedCounter(payload.toString('utf8'));
    });
  }

  /** One value of the broker's drop counter (exposed for tests). */
  onDroppedCounter(payload: string): void {
    const value = parseCounter(payload);
    if (value === undefined) {
      this.log.warn('unreadable broker drop counter', {
        topic: MOSQUITTO_DROPPED_TOPIC,
        payload: payload.slice(0, 32),
      });
      return;
    }
    const obs = this.tracker.observe(value);
    this.metrics.brokerReportedDropped.set(value);
    if (obs.brokerRestarted)
      this.log.warn('the broker restarted (its drop counter went down)', { counter: value });
    if (obs.increase <= 0) return;
    this.metrics.brokerDropped.inc(obs.increase);
    const detail = obs.first
      ? 'dropped before hazwatch watched the broker (e.g. while the server was offline)'
      : obs.brokerRestarted
        ? 'dropped since the broker restarted'
        : 'queue limit of a subscriber reached';
    this.log.error('DATA LOSS at the MQTT broker: it dropped messages', {
      dropped: obs.increase,
      counter: value,
      detail,
    });
    this.alarm.dropped(obs.increase, value, detail);
  }

  async onApplicationShutdown(): Promise<void> {
    this.alarm.stop();
    const c = this.client;
    this.client = undefined;
    if (c) await c.endAsync(true);
  }
}
