import { Module } from '@nestjs/common';
import { Database } from '../storage/database.service';
import { DRILL_SQL, DrillRepository } from './drill.repository';
import { DrillsController } from './drills.controller';

/** Declared drills (docs/adr/0028-declared-drills.md). Needs the global Database and ScopeService. */
@Module({
  controllers: [DrillsController],
  providers: [{ provide: DRILL_SQL, useExisting: Database }, DrillRepository],
  exports: [DrillRepository],
})
export class DrillsModule {}
