import { Module } from '@nestjs/common';
import { AlarmsModule } from '../alarms/alarms.module';
import { AlarmService } from '../alarms/alarm.service';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { IngestModule } from '../ingest/ingest.module';
import { Database } from '../storage/database.service';
import { AlertsFeedController } from './alerts-feed.controller';
import { FEED_ALARM_SOURCE, FeedProjector } from './feed-projector.service';
import { FEED_SQL, FeedRepository } from './feed.repository';
import { FEED_SETTINGS, loadFeedSettings, type FeedSettings } from './feeds-settings.loader';
import { PlantController } from './plant.controller';
import { DisposalService } from './disposal.service';
import { DispositionController } from './disposition.controller';
import { RegulatorViewController } from './regulator-view.controller';
import { RulesModule } from '../rules/rules.module';
import { SubscriptionsController } from './subscriptions.controller';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import { TelemetryController } from './telemetry.controller';

/**
 * Read side (sites, devices, telemetry) and the regulator feeds: CAP 1.2 / Atom, webhooks, the disposal
 * closed loop and the regulator view. Needs the global Database, ScopeService, AlarmService and ExternalConditions.
 */
@Module({
  imports: [IngestModule, AlarmsModule, RulesModule],
  controllers: [
    PlantController,
    TelemetryController,
    AlertsFeedController,
    SubscriptionsController,
    DispositionController,
    RegulatorViewController,
  ],
  providers: [
    { provide: FEED_SQL, useExisting: Database },
    {
      provide: FEED_SETTINGS,
      useFactory: (config: AppConfig): FeedSettings => {
        const { settings, file } = loadFeedSettings(config);
        new JsonLogger('feeds').info('feed settings loaded', {
          file: file ?? '(none: defaults)',
          capStatus: settings.capStatus,
          disposalDeadlineMinutes: settings.disposalDeadlineMs / 60_000,
        });
        return settings;
      },
      inject: [APP_CONFIG],
    },
    { provide: FEED_ALARM_SOURCE, useExisting: AlarmService },
    FeedRepository,
    FeedProjector,
    WebhookDispatcher,
    DisposalService,
  ],
  exports: [FeedProjector, FeedRepository, FEED_SETTINGS],
})
export class FeedsModule {}
