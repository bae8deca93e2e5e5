import { Module } from '@nestjs/common';
import { IngestModule } from '../ingest/ingest.module';
import { HazardSourcesController } from './hazard-sources.controller';
import { RulesService } from './rules.service';

/** The streaming rule engine over ingest's telemetry$ / deviceState$ and GET /api/hazard-sources. */
@Module({
  imports: [IngestModule],
  controllers: [HazardSourcesController],
  providers: [RulesService],
  exports: [RulesService],
})
export class RulesModule {}
