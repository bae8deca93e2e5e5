import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { connect } from 'mqtt';
import type { Subscription } from 'rxjs';
import { CLOCK, type Clock } from '../../common/clock';
import { systemScheduler } from '../../common/timer.port';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { HazwatchMetrics } from '../../metrics/metrics.registry';
import { IngestService } from '../ingest.service';
import { MqttSecurity } from '../mqtt-auth/mqtt-security.service';
import { hostStateClientId, SparkplugHostState } from './host-state';

/**
 * Publishes hazwatch's Sparkplug primary host STATE while the server's data connection is subscribed
 * (docs/sparkplug.md "Primary host STATE"). Inactive without `sparkplug.yaml` or with `publishState: false`.
 */
@Injectable()
export class SparkplugHostStateService implements OnApplicationBootstrap, OnModuleDestroy {
  private state: SparkplugHostState | undefined;
  private sub: Subscription | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly ingest: IngestService,
    private readonly security: MqttSecurity,
    private readonly metrics: HazwatchMetrics,
  ) {}

  /** The STATE publisher, when one runs (tests). */
  get hostState(): SparkplugHostState | undefined {
    return this.state;
  }

  onApplicationBootstrap(): void {
    const hostId = this.config.sparkplug?.hostId;
    if (!hostId) return;
    const id = this.security.identity();
    this.metrics.sparkplugHostOnline.set(0);
    this.state = new SparkplugHostState({
      hostId,
      clientId: hostStateClientId(id.clientId),
      ...(id.credentials ? { credentials: id.credentials } : {}),
      keepaliveS: this.config.env.MQTT_KEEPALIVE_S,
      // The broker URL is known once intake has started (embedded broker port), before the first subscription.
      connect: (opts) => connect(this.ingest.mqttUrl, opts),
      now: () => this.clock.now(),
      scheduler: systemScheduler,
      onAnnounced: (online) => this.metrics.sparkplugHostOnline.set(online ? 1 : 0),
    });
    const state = this.state;
    this.sub = this.ingest.subscribed$.subscribe((up) => state.dataPath(up));
  }

  async onModuleDestroy(): Promise<void> {
    this.sub?.unsubscribe();
    await this.state?.stop();
  }
}
