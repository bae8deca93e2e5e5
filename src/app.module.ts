import { Module, type DynamicModule } from '@nestjs/common';
import { AlarmsModule } from './alarms/alarms.module';
import { AuthModule } from './auth/auth.module';
import { BrokerMonitorModule } from './broker-monitor/broker-monitor.module';
import type { Clock } from './common/clock';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { PlantModule } from './plant/plant.module';
import { RegulatorModule } from './regulator/regulator.module';
import { HealthModule } from './health/health.module';
import { IngestModule } from './ingest/ingest.module';
import { MetricsModule } from './metrics/metrics.module';
import { NotificationsModule } from './notifications/notifications.module';
import { RealtimeModule } from './realtime/realtime.module';
import { RulesModule } from './rules/rules.module';
import { StorageModule } from './storage/storage.module';
import { JournalAnchorModule } from './alarms/journal-anchor.module';
import { ClusterModule } from './cluster/cluster.module';
import { IncidentModule } from './incident/incident.module';
import { FindingsModule } from './findings/findings.module';
import { DrillsModule } from './drills/drills.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, clock: Clock): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, clock),
        MetricsModule,
        StorageModule,
        AuthModule,
        IngestModule,
        RulesModule,
        AlarmsModule,
        NotificationsModule,
        PlantModule,
        RegulatorModule,
        HealthModule,
        RealtimeModule.forRoot(),
        JournalAnchorModule,
        BrokerMonitorModule,
        ClusterModule,
        IncidentModule,
        FindingsModule,
        DrillsModule,
      ],
    };
  }
}
