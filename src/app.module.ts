import { Module, type DynamicModule } from '@nestjs/common';
import type { Clock } from './common/clock';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { MetricsModule } from './metrics/metrics.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, clock: Clock): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config, clock), MetricsModule],
    };
  }
}
