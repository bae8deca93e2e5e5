import { Module } from '@nestjs/common';
import { AlarmsModule } from '../alarms/alarms.module';
import { IngestModule } from '../ingest/ingest.module';
import { BrokerMonitor } from './broker-monitor.service';

/**
 * Loss at the MQTT broker made visible (docs/adr/0014-idempotent-telemetry.md): watches the broker's `$SYS` drop
 * counter over a connection of its own and raises the critical `ext:broker-loss` alarm. A module of its own because
 * ingest must not depend on alarms.
 */
@Module({
  imports: [AlarmsModule, IngestModule],
  providers: [BrokerMonitor],
})
export class BrokerMonitorModule {}
