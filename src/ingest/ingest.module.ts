import { Module } from '@nestjs/common';
import { IngestService } from './ingest.service';
import { MqttSecurity } from './mqtt-auth/mqtt-security.service';
import { RejectsController } from './rejects.controller';
import { SparkplugHostStateService } from './sparkplug/host-state.service';

@Module({
  providers: [IngestService, MqttSecurity, SparkplugHostStateService],
  controllers: [RejectsController],
  exports: [IngestService, MqttSecurity],
})
export class IngestModule {}
