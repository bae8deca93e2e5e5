import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module';
import { Database } from '../storage/database.service';
import { TelemetryQueryRepository } from '../storage/telemetry-query.repository';
import { IncidentController } from './incident.controller';
import { DOSSIER_SOURCE, INCIDENT_SQL, IncidentRepository } from './incident.repository';
import { DOSSIER_TELEMETRY, IncidentService } from './incident.service';

/**
 * The incident dossier (docs/incident-dossier.md): read-only over the journal, call-outs, duty checks, hidden dangers,
 * roster and telemetry. Needs the global Database, ScopeService and TelemetryQueryRepository, and NotificationsModule.
 */
@Module({
  imports: [NotificationsModule],
  controllers: [IncidentController],
  providers: [
    { provide: INCIDENT_SQL, useExisting: Database },
    { provide: DOSSIER_SOURCE, useClass: IncidentRepository },
    { provide: DOSSIER_TELEMETRY, useExisting: TelemetryQueryRepository },
    IncidentService,
  ],
})
export class IncidentModule {}
