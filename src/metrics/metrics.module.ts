import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { HazwatchMetrics } from './metrics.registry';

@Global()
@Module({
  providers: [{ provide: HazwatchMetrics, useFactory: () => new HazwatchMetrics() }],
  controllers: [MetricsController],
  exports: [HazwatchMetrics],
})
export class MetricsModule {}
