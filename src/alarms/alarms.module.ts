import { Global, Module } from '@nestjs/common';
import { merge } from 'rxjs';
import { ExternalConditions, isExternalCondition } from './external-conditions';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { RulesModule } from '../rules/rules.module';
import { IngestModule } from '../ingest/ingest.module';
import { MqttSessionAlarm } from './mqtt-session-alarm.service';
import { RulesService } from '../rules/rules.service';
import { Database } from '../storage/database.service';
import { JsonLogger } from '../common/logger';
import { join } from 'node:path';
import { ALARM_EVENT_LOG, FileAlarmEventLog } from './alarm-event.log';
import { ALARM_PENDING_SPOOL, FilePendingSpool } from './alarm-pending.spool';
import { ALARM_SETTINGS, loadAlarmSettings } from './alarm-settings.loader';
import { ALARM_STORE } from './alarm.store';
import { AlarmRepository } from './alarm.repository';
import { ALARM_CONDITION_SEED, ALARM_CONDITIONS, AlarmService, type ConditionSeed } from './alarm.service';
import { AlarmKpiController, AlarmsController, JournalController } from './alarms.controller';
import type { AlarmSettings } from './domain/alarm-settings';
import { SiteOwnership } from '../common/site-ownership';
import { ALARM_CLUSTER, type AlarmClusterPort } from './cluster/alarm-cluster.port';
import { SiteJournalRepository } from './site-journal.repository';

/**
 * ISA-18.2 alarms: the state machine over the rule engine's conditions, the append-only hash-chained journal, HTTP
 * (alarms, journal, KPIs) and `AlarmService.events$` for the /ws gateway. Needs StorageModule (global `Database`),
 * AuthModule (global `ScopeService`), MetricsModule and ConfigModule.
 */
@Global()
@Module({
  imports: [RulesModule, IngestModule],
  controllers: [AlarmsController, JournalController, AlarmKpiController],
  providers: [
    { provide: ALARM_STORE, useFactory: (db: Database) => new AlarmRepository(db), inject: [Database] },
    ExternalConditions,
    {
      provide: ALARM_CONDITIONS,
      useFactory: (rules: RulesService, external: ExternalConditions) =>
        merge(rules.conditions$, external.conditions$),
      inject: [RulesService, ExternalConditions],
    },
    {
      provide: ALARM_CONDITION_SEED,
      // The rule engine is seeded only with its own conditions (it would clear what it cannot produce).
      useFactory:
        (rules: RulesService): ConditionSeed =>
        (active) =>
          rules.seedActive(active.filter((c) => !isExternalCondition(c))),
      inject: [RulesService],
    },
    {
      provide: ALARM_SETTINGS,
      useFactory: (config: AppConfig): AlarmSettings => {
        const { settings, file } = loadAlarmSettings(config.configDir, config.plant);
        new JsonLogger('alarms').info('alarm settings loaded', {
          file: file ?? '(none: defaults)',
          reAlarmMinutes: settings.reAlarmMs / 60_000,
          latch: settings.latch.length,
          suppression: settings.suppression.map((s) => s.id),
        });
        return settings;
      },
      inject: [APP_CONFIG],
    },
    {
      provide: ALARM_EVENT_LOG,
      useFactory: (config: AppConfig) => new FileAlarmEventLog(join(config.dataDir, 'alarms', 'events.wal')),
      inject: [APP_CONFIG],
    },
    {
      provide: ALARM_PENDING_SPOOL,
      useFactory: (config: AppConfig) =>
        new FilePendingSpool(join(config.dataDir, 'alarms', 'pending.jsonl')),
      inject: [APP_CONFIG],
    },
    {
      // cluster mode: rules and alarms follow site ownership (docs/adr/0025-cluster-alarm-state.md); null on a single node
      provide: ALARM_CLUSTER,
      useFactory: (
        ownership: SiteOwnership | undefined,
        db: Database,
        rules: RulesService,
      ): AlarmClusterPort | null => {
        if (!ownership?.clustered) return null;
        const repo = new AlarmRepository(db);
        return {
          ownership,
          siteJournal: new SiteJournalRepository(db),
          loadSite: (siteId) => repo.loadSite(siteId),
          rules: {
            seedSite: (siteId, changes) =>
              rules.seedSite(
                siteId,
                changes.filter((c) => !isExternalCondition(c)),
              ),
            forgetSite: (siteId) => rules.forgetSite(siteId),
          },
        };
      },
      inject: [{ token: SiteOwnership, optional: true }, Database, RulesService],
    },
    AlarmService,
    MqttSessionAlarm,
  ],
  exports: [AlarmService, ExternalConditions],
})
export class AlarmsModule {}
