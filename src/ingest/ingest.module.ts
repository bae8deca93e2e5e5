import { Module } from '@nestjs/common';
import { IngestService } from './ingest.service';
import { RejectsController } from './rejects.controller';

@Module({
  providers: [IngestService],
  controllers: [RejectsController],
  exports: [IngestService],
})
export class IngestModule {}
