import { Module } from '@nestjs/common';
import { IngestModule } from '../ingest/ingest.module';
import { PlantController } from './plant.controller';
import { TelemetryController } from './telemetry.controller';

@Module({
  imports: [IngestModule],
  controllers: [PlantController, TelemetryController],
})
export class FeedsModule {}
