import { Module } from '@nestjs/common';
import { AlarmsModule } from '../alarms/alarms.module';
import { IngestModule } from '../ingest/ingest.module';
import { RulesModule } from '../rules/rules.module';
import { PlantReadRepository } from './plant-read.repository';
import { PlantController } from './plant.controller';
import { RegulatorViewController } from './regulator-view.controller';
import { TelemetryController } from './telemetry.controller';

/**
 * Read API of the plant: sites, devices, telemetry and the regulator overview, every answer filtered by the caller's
 * jurisdiction. Needs the global Database, ScopeService and TelemetryQueryRepository.
 */
@Module({
  imports: [IngestModule, AlarmsModule, RulesModule],
  controllers: [PlantController, TelemetryController, RegulatorViewController],
  providers: [PlantReadRepository],
})
export class PlantModule {}
