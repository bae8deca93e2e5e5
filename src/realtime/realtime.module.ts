import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { SchedulerLike } from 'rxjs';
import { ConsoleController } from './console.controller';
import { AuthService } from '../auth/auth.service';
import { ScopeService } from '../auth/scope.service';
import { TokenService } from '../auth/token.service';
import { IngestModule } from '../ingest/ingest.module';
import { IngestService } from '../ingest/ingest.service';
import { AlarmsModule } from '../alarms/alarms.module';
import { AlarmService } from '../alarms/alarm.service';
import { RulesModule } from '../rules/rules.module';
import { RulesService } from '../rules/rules.service';
import { Database } from '../storage/database.service';
import { alarmFeedFrom, storageStatusFrom } from './realtime.adapters';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { JournalTail } from '../alarms/core/journal-tail';
import { JournalFanout } from './journal-fanout';
import { REALTIME_SCHEDULER, RealtimeGateway, defaultScheduler } from './realtime.gateway';
import {
  ALARM_FEED,
  DEFAULT_REALTIME_OPTIONS,
  HAZARD_FEED,
  REALTIME_OPTIONS,
  STORAGE_STATUS,
  TELEMETRY_FEED,
  WS_AUTHENTICATOR,
  WS_SCOPE,
  type AlarmFeed,
  type RealtimeOptions,
  type WsAuthenticator,
} from './realtime.ports';

/** Port bindings; each absent one gets the module's default binding. */
export type RealtimePorts = {
  readonly auth?: Provider;
  readonly scope?: Provider;
  readonly alarms?: Provider;
  readonly telemetry?: Provider;
  readonly hazards?: Provider;
  readonly storage?: Provider;
};

export type RealtimeModuleOptions = {
  readonly options?: Partial<RealtimeOptions>;
  readonly ports?: RealtimePorts;
  /** Imports that provide what the port providers inject. */
  readonly imports?: DynamicModule['imports'];
  readonly scheduler?: SchedulerLike;
};

/** /ws gateway and the operator console (GET /). `forRoot()` binds the real services; tests pass fakes as `ports`. */
@Module({})
export class RealtimeModule {
  static forRoot(opts: RealtimeModuleOptions = {}): DynamicModule {
    const p = opts.ports ?? {};
    return {
      module: RealtimeModule,
      imports: opts.imports ?? [IngestModule, AlarmsModule, RulesModule],
      controllers: [ConsoleController],
      providers: [
        {
          provide: REALTIME_OPTIONS,
          useValue: Object.freeze({ ...DEFAULT_REALTIME_OPTIONS, ...opts.options }),
        },
        { provide: REALTIME_SCHEDULER, useValue: opts.scheduler ?? defaultScheduler },
        p.auth ?? {
          provide: WS_AUTHENTICATOR,
          useFactory: (auth: AuthService, tokens: TokenService): WsAuthenticator => ({
            authenticateToken: (token, ip) => auth.authenticateToken(token, ip),
            revocations$: tokens.revocations$,
            tokenStatus: (id) => tokens.status(id),
          }),
          inject: [AuthService, TokenService],
        },
        p.scope ?? { provide: WS_SCOPE, useExisting: ScopeService },
        p.alarms ?? {
          provide: ALARM_FEED,
          // Cluster node: alarm events come from the journal, the same on every node (docs/adr/0016-cluster.md).
          useFactory: (
            alarms: AlarmService,
            config: AppConfig,
            db: Database,
            scheduler: SchedulerLike,
            metrics: HazwatchMetrics,
          ): AlarmFeed => {
            if (!config.env.HAZWATCH_NODE_ID) return alarmFeedFrom(alarms);
            const fanout = new JournalFanout(new JournalTail(db), () => db.acquire(), scheduler);
            metrics.clusterSources.wsJournalSeq = () => fanout.currentSeq();
            return fanout;
          },
          inject: [AlarmService, APP_CONFIG, Database, REALTIME_SCHEDULER, HazwatchMetrics],
        },
        p.telemetry ?? { provide: TELEMETRY_FEED, useExisting: IngestService },
        p.hazards ?? { provide: HAZARD_FEED, useExisting: RulesService },
        // the alarm writer knows whether alarm events are being held; the database's liveness probe says why
        p.storage ?? {
          provide: STORAGE_STATUS,
          useFactory: (alarms: AlarmService, db: Database) => storageStatusFrom(alarms, db),
          inject: [AlarmService, Database],
        },
        RealtimeGateway,
      ],
      exports: [RealtimeGateway],
    };
  }
}
