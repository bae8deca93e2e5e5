import { Module } from '@nestjs/common';
import { AlarmsModule } from '../alarms/alarms.module';
import { DrillsModule } from '../drills/drills.module';
import { AlarmService } from '../alarms/alarm.service';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { Database } from '../storage/database.service';
import { AlertsFeedController } from './alerts-feed.controller';
import { FEED_ALARM_SOURCE, FeedProjector } from './feed-projector.service';
import { DisposalRepository } from './disposal.repository';
import { FeedMessageRepository } from './feed-message.repository';
import { FEED_SQL } from './regulator-sql';
import { SubscriptionRepository } from './subscription.repository';
import { FEED_SETTINGS, loadFeedSettings, type FeedSettings } from './feeds-settings.loader';
import { DisposalService } from './disposal.service';
import { DutyWorkflowController } from './duty-workflow.controller';
import { DutyWorkflowRepository } from './duty-workflow.repository';
import { DutyWorkflowService } from './duty-workflow.service';
import { NotificationsModule } from '../notifications/notifications.module';
import { DispositionController } from './disposition.controller';
import { SubscriptionsController } from './subscriptions.controller';
import { WebhookDispatcher } from './webhook-dispatcher.service';

/**
 * The regulator workflows (docs/regulator-workflows.md): CAP 1.2 / Atom feeds, webhook subscriptions and their outbox,
 * the disposal closed loop and hidden dangers. Needs the global Database, ScopeService, AlarmService and
 * ExternalConditions.
 */
@Module({
  imports: [AlarmsModule, NotificationsModule, DrillsModule],
  controllers: [AlertsFeedController, SubscriptionsController, DispositionController, DutyWorkflowController],
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
    FeedMessageRepository,
    SubscriptionRepository,
    DisposalRepository,
    FeedProjector,
    WebhookDispatcher,
    DisposalService,
    DutyWorkflowRepository,
    DutyWorkflowService,
  ],
  exports: [FeedProjector, FeedMessageRepository, SubscriptionRepository, DisposalRepository, FEED_SETTINGS],
})
export class RegulatorModule {}
