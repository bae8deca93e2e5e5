import { Module } from '@nestjs/common';
import { AlarmsModule } from '../alarms/alarms.module';
import { Database } from '../storage/database.service';
import { systemScheduler } from '../common/timer.port';
import { DutyRecordsController, DutyRecordsRepository } from './duty-records';
import { FindingsController, HiddenDangerConversionController } from './findings.controller';
import { FINDINGS_SQL, FindingsRepository } from './findings.repository';
import { FINDINGS_CHECK_MS, FINDINGS_SCHEDULER, FindingsService } from './findings.service';
import { NotificationsModule } from '../notifications/notifications.module';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { loadFeedSettings } from '../regulator/feeds-settings.loader';

/** Findings (隐患) workflow (docs/findings.md). Needs the global Database and ScopeService, AlarmsModule and NotificationsModule (the 主要负责人 notice). */
@Module({
  imports: [AlarmsModule, NotificationsModule],
  controllers: [FindingsController, HiddenDangerConversionController, DutyRecordsController],
  providers: [
    { provide: FINDINGS_SQL, useExisting: Database },
    { provide: FINDINGS_SCHEDULER, useValue: systemScheduler },
    {
      // the same interval as the other regulator deadlines (feeds.yaml overdueCheckSeconds)
      provide: FINDINGS_CHECK_MS,
      useFactory: (config: AppConfig): number => loadFeedSettings(config).settings.overdueCheckMs,
      inject: [APP_CONFIG],
    },
    FindingsRepository,
    DutyRecordsRepository,
    FindingsService,
  ],
})
export class FindingsModule {}
