import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { TakeoverState } from '../ingest/mqtt-auth/domain/session-takeover';
import { MqttSecurity } from '../ingest/mqtt-auth/mqtt-security.service';
import { AlarmService } from './alarm.service';
import { ExternalConditions } from './external-conditions';

/** Rule id of the alarm raised while another MQTT client is suspected of using the server's session. */
export const MQTT_SESSION_RULE_ID = 'ext:mqtt-session';
export const MQTT_SESSION_CONDITION = 'mqtt_session_takeover';

/**
 * Raises a critical `ext:mqtt-session` alarm for every site while ingest suspects a takeover of the server's MQTT
 * session (another client with its client id receives the server's messages: readings of every site may be lost), and
 * clears it when the server has held its session again for a while (docs/adr/0009-mqtt-authentication.md). After a
 * restart, an alarm left active is cleared once the session is held.
 */
@Injectable()
export class MqttSessionAlarm implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new JsonLogger('alarms.mqtt-session');
  private sub?: Subscription;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly security: MqttSecurity,
    private readonly external: ExternalConditions,
    private readonly alarms: AlarmService,
    @Inject(APP_CONFIG) private readonly app: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    this.sub = this.security.sessionTakeover$.subscribe((s) => {
      this.chain = this.chain
        .then(() => this.apply(s))
        .catch((err: unknown) => this.log.error('could not raise or clear the MQTT session alarm', { err }));
    });
  }

  onModuleDestroy(): void {
    this.sub?.unsubscribe();
  }

  private async apply(s: TakeoverState): Promise<void> {
    await this.alarms.whenReady();
    const active = new Set(
      this.alarms.records().flatMap((a) => (a.ruleId === MQTT_SESSION_RULE_ID && a.active ? [a.siteId] : [])),
    );
    for (const site of this.app.plant.sites) {
      if (s.suspected === active.has(site.id)) continue;
      this.external.emit({
        ruleId: MQTT_SESSION_RULE_ID,
        sourceId: site.hazardSources[0]?.id ?? site.id,
        siteId: site.id,
        condition: MQTT_SESSION_CONDITION,
        active: s.suspected,
        priority: 'critical',
        value: s.closes,
        limit: null,
        ts: this.clock.now(),
        message: s.suspected
          ? `MQTT 会话被接管：另一客户端使用服务器的客户端 ID，本站读数可能丢失或被窃取（${s.reason === 'session_taken_over' ? 'broker: session taken over' : `${s.closes} broker-side disconnects`}）`
          : 'MQTT 会话已恢复：服务器重新稳定持有会话',
      });
    }
  }
}
