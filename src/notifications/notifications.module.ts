import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { AlarmsModule } from '../alarms/alarms.module';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { Database } from '../storage/database.service';
import { systemScheduler } from '../common/timer.port';
import { loadCallouts, type CalloutsConfig } from './callouts.loader';
import { CalloutRepository } from './callout.repository';
import { CalloutService } from './callout.service';
import { CALLOUT_STORE } from './callout.store';
import { DutyCheckService } from './duty-check.service';
import { MainPersonNotifier } from './main-person.notifier';
import { NotificationsController } from './notifications.controller';
import { CALLOUTS_CONFIG, NOTIFY_SCHEDULER } from './notifications.tokens';
import { createVoiceProvider } from './voice/voice.factory';
import { VOICE_PORT, type VoicePort } from './voice/voice.port';
import { VoiceHealth } from './voice-health.service';

/**
 * Alarm call-outs with escalation, duty checks, and the voice providers behind one port (fake, sip). Needs
 * AlarmsModule (AlarmService.events$, ack, ExternalConditions), StorageModule (Database), AuthModule (ScopeService).
 */
@Module({
  imports: [AlarmsModule],
  controllers: [NotificationsController],
  providers: [
    {
      provide: CALLOUTS_CONFIG,
      useFactory: (app: AppConfig): CalloutsConfig | null => {
        const config = loadCallouts(app.configDir, app.plant, app.env.HAZWATCH_DEMO);
        new JsonLogger('notifications').info('call-out policy loaded', {
          file: config?.file ?? '(none: call-outs and duty checks off)',
          provider: config?.voice.provider,
          sites: config ? [...config.sites.keys()] : [],
        });
        return config;
      },
      inject: [APP_CONFIG],
    },
    { provide: CALLOUT_STORE, useFactory: (db: Database) => new CalloutRepository(db), inject: [Database] },
    { provide: NOTIFY_SCHEDULER, useValue: systemScheduler },
    {
      provide: VOICE_PORT,
      useFactory: (config: CalloutsConfig | null, app: AppConfig, clock: Clock) =>
        createVoiceProvider(config, app.dataDir, clock, systemScheduler),
      inject: [CALLOUTS_CONFIG, APP_CONFIG, CLOCK],
    },
    VoiceHealth,
    CalloutService,
    DutyCheckService,
    MainPersonNotifier,
  ],
  exports: [CalloutService, DutyCheckService, CALLOUT_STORE, CALLOUTS_CONFIG, MainPersonNotifier],
})
export class NotificationsModule implements OnApplicationShutdown {
  constructor(@Inject(VOICE_PORT) private readonly voice: VoicePort) {}

  /** Hangs up calls still in progress and releases the SIP socket (the services stopped their timers before). */
  async onApplicationShutdown(): Promise<void> {
    await this.voice.close();
  }
}
