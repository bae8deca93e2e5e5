import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { SchedulerLike } from 'rxjs';
import { JsonLogger } from '../common/logger';
import { ConsoleController } from './console.controller';
import { AuthService } from '../auth/auth.service';
import { ScopeService } from '../auth/scope.service';
import { IngestModule } from '../ingest/ingest.module';
import { IngestService } from '../ingest/ingest.service';
import { healthyStorage, silentAlarmFeed, silentHazardFeed } from './realtime.adapters';
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
  type HazardFeed,
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

const log = new JsonLogger('realtime');

function fallback<T>(token: symbol, port: string, value: T, effect: string): Provider {
  return {
    provide: token,
    useFactory: (): T => {
      log.warn(`realtime: ${port} is not wired; ${effect}`, {});
      return value;
    },
  };
}

/** /ws gateway and the operator console (GET /). `forRoot()` binds the real services; tests pass fakes as `ports`. */
@Module({})
export class RealtimeModule {
  static forRoot(opts: RealtimeModuleOptions = {}): DynamicModule {
    const p = opts.ports ?? {};
    return {
      module: RealtimeModule,
      imports: opts.imports ?? [IngestModule],
      controllers: [ConsoleController],
      providers: [
        {
          provide: REALTIME_OPTIONS,
          useValue: Object.freeze({ ...DEFAULT_REALTIME_OPTIONS, ...opts.options }),
        },
        { provide: REALTIME_SCHEDULER, useValue: opts.scheduler ?? defaultScheduler },
        p.auth ?? {
          provide: WS_AUTHENTICATOR,
          useFactory: (auth: AuthService): WsAuthenticator => ({
            authenticateToken: (token, ip) => auth.authenticateToken(token, ip),
          }),
          inject: [AuthService],
        },
        p.scope ?? { provide: WS_SCOPE, useExisting: ScopeService },
        p.alarms ??
          fallback<AlarmFeed>(ALARM_FEED, 'the alarm feed', silentAlarmFeed, 'no alarm events are pushed'),
        p.telemetry ?? { provide: TELEMETRY_FEED, useExisting: IngestService },
        p.hazards ??
          fallback<HazardFeed>(
            HAZARD_FEED,
            'the hazard feed',
            silentHazardFeed,
            'no hazard changes are pushed',
          ),
        p.storage ?? { provide: STORAGE_STATUS, useValue: healthyStorage },
        RealtimeGateway,
      ],
      exports: [RealtimeGateway],
    };
  }
}
