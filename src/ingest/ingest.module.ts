import { Module } from '@nestjs/common';
import { IngestService } from './ingest.service';
import { MqttSecurity } from './mqtt-auth/mqtt-security.service';
import { RejectsController } from './rejects.controller';

@Module({
  providers: [IngestService, MqttSecurity],
  controllers: [RejectsController],
  exports: [IngestService, MqttSecurity],
})
export class IngestModule {}
