import { Module } from '@nestjs/common';
import { AlarmsModule } from '../alarms/alarms.module';
import { IngestModule } from '../ingest/ingest.module';
import { BrokerMonitor } from './broker-monitor.service';
import { DataGapMonitor } from './data-gap.monitor';

/**
 * Loss outside hazwatch made visible (docs/adr/0014-idempotent-telemetry.md): watches the broker's `$SYS` drop counter
 * over a connection of its own and raises the critical `ext:broker-loss` alarm; reads ingest's per-device sequence
 * counters and raises `ext:data-gap` for a site whose devices' messages went missing upstream. A module of its own
 * because ingest must not depend on alarms.
 */
@Module({
  imports: [AlarmsModule, IngestModule],
  providers: [BrokerMonitor, DataGapMonitor],
})
export class BrokerMonitorModule {}
