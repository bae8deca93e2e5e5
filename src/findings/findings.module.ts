import { Module } from '@nestjs/common';
import { AlarmsModule } from '../alarms/alarms.module';
import { Database } from '../storage/database.service';
import { systemScheduler } from '../common/timer.port';
import { DutyRecordsController, DutyRecordsRepository } from './duty-records';
import { FindingsController } from './findings.controller';
import { FINDINGS_SQL, FindingsRepository } from './findings.repository';
import { FINDINGS_SCHEDULER, FindingsService } from './findings.service';

/** Findings (隐患) workflow (docs/findings.md). Needs the global Database and ScopeService, and AlarmsModule. */
@Module({
  imports: [AlarmsModule],
  controllers: [FindingsController, DutyRecordsController],
  providers: [
    { provide: FINDINGS_SQL, useExisting: Database },
    { provide: FINDINGS_SCHEDULER, useValue: systemScheduler },
    FindingsRepository,
    DutyRecordsRepository,
    FindingsService,
  ],
})
export class FindingsModule {}
