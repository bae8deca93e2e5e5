import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AlarmService } from '../alarms/alarm.service';
import { ExternalConditions } from '../alarms/external-conditions';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { IngestService } from '../ingest/ingest.service';
import { systemScheduler } from '../common/timer.port';
import { DATA_GAP_RULE_ID, DataGapAlarm } from './data-gap.alarm';

/**
 * Loss anywhere upstream made visible per site (docs/ingest-time-and-sequence.md): reads ingest's per-device sequence
 * counters every few seconds and raises `ext:data-gap` for a site whose devices skipped sequence numbers. This is what
 * detects a broker crash that lost messages it had acknowledged (Mosquitto's drop counter restarts at 0 and never
 * reports them), a lossy QoS 0 link, or a gateway that dropped a buffer.
 */
@Injectable()
export class DataGapMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new JsonLogger('data-gap');
  private readonly alarm: DataGapAlarm;
  private stopped = false;

  constructor(
    external: ExternalConditions,
    private readonly alarms: AlarmService,
    ingest: IngestService,
    @Inject(APP_CONFIG) app: AppConfig,
    @Inject(CLOCK) clock: Clock,
  ) {
    const sources = new Map(app.plant.sites.map((s) => [s.id, s.hazardSources[0]?.id ?? s.id]));
    this.alarm = new DataGapAlarm({
      emit: (c) => {
        if (c.active)
          this.log.error('DATA GAP: devices skipped sequence numbers', {
            siteId: c.siteId,
            missing: c.value,
            message: c.message,
          });
        external.emit(c);
      },
      activeSites: () =>
        new Set(
          alarms.records().flatMap((a) => (a.ruleId === DATA_GAP_RULE_ID && a.active ? [a.siteId] : [])),
        ),
      devices: () => ingest.registry.all(),
      sourceOf: (siteId) => sources.get(siteId) ?? siteId,
      clock,
      scheduler: systemScheduler,
    });
  }

  onApplicationBootstrap(): void {
    // Alarm records (what is active after a restart) must be loaded before the first check reads them.
    void this.alarms
      .whenReady()
      .then(() => {
        if (!this.stopped) this.alarm.start();
      })
      .catch((err: unknown) =>
        this.log.error('data-gap monitor not started: alarms never became ready', { err }),
      );
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    this.alarm.stop();
  }
}
